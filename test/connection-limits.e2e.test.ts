import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startServe, type Serve } from './helpers/processes.js';
import { descriptorWatch, probeLoop, slowAttack } from './helpers/slow-clients.js';

/**
 * Issue 16, item 2: unauthenticated connection exhaustion. A real
 * `agenthost serve`, limited to 1024 descriptors, against 3000 connections
 * from 20 other loopback addresses that send headers or a body one byte
 * every 2 s: 2000 to the API (webhook bodies) and 1000 to the preview
 * listener, which shares the process's descriptors. /healthz from 127.0.0.1
 * must answer throughout, as must the API (in its shape) and the preview
 * listener; no descriptor may run out; and every slow connection must be
 * closed within the configured bounds (5 s here, so the test stays short;
 * the defaults are 20 s).
 */

const DESCRIPTORS = 1024;
const BOUND_MS = 5000;
/** The bound plus the guard's sweep and a loaded machine's delays. */
const HELD_AT_MOST_MS = BOUND_MS + 5000;

describe(`slow clients against a server with ${DESCRIPTORS} descriptors`, { timeout: 180_000 }, () => {
  let dataDir: string;
  let serve: Serve;
  let port: number;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agenthost-conns-'));
    port = await freePort();
    serve = await startServe(
      {
        AGENTHOST_DATA_DIR: dataDir,
        AGENTHOST_PORT: String(port),
        AGENTHOST_LOG_LEVEL: 'warn',
        AGENTHOST_HEADERS_TIMEOUT_MS: String(BOUND_MS),
        AGENTHOST_BODY_TIMEOUT_MS: String(BOUND_MS),
      },
      { wrap: ['prlimit', `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`, '--'] },
    );
  });
  after(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps /healthz and the API answering and closes every slow connection within its bound', async (t) => {
    const previewsUrl = /previews served on (http:\/\/\S+)/.exec(serve.output())?.[1];
    assert.ok(previewsUrl, serve.output());
    const fds = descriptorWatch(serve.child.pid!, 200);
    const probes = probeLoop(`${serve.url}/healthz`, 250, 5000);
    const previewProbes = probeLoop(`${previewsUrl}/previews/${'0'.repeat(40)}/`, 500, 5000, 404);
    const addresses = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);
    const [api, previews] = await Promise.all([
      slowAttack({ port, connections: 2000, addresses: addresses.slice(0, 14), path: '/hooks/trg_attack', dripMs: 2000 }),
      slowAttack({ port: Number(new URL(previewsUrl).port), connections: 1000, addresses: addresses.slice(14), path: `/previews/${'a'.repeat(40)}/`, dripMs: 2000 }),
    ]);

    // The API answers in its own shape meanwhile (no key: 401).
    const keyless = await fetch(`${serve.url}/v1/agents`, { signal: AbortSignal.timeout(10_000) }).then(
      async (r) => `${r.status} ${((await r.json()) as { error?: { type?: string } }).error?.type}`,
      (error: unknown) => String(error),
    );

    await Promise.all([api.settled(HELD_AT_MOST_MS + 5000), previews.settled(HELD_AT_MOST_MS + 5000)]);
    const reports = { api: api.report(), previews: previews.report() };
    api.stop();
    previews.stop();
    const health = await probes.stop();
    const previewHealth = await previewProbes.stop();
    const mostFds = fds.stop();
    const emfile = (serve.output().match(/EMFILE/g) ?? []).length;
    const summary = (p: typeof health) => ({ probes: p.probes, failures: p.failures.length, worstMs: p.worstMs });
    t.diagnostic(JSON.stringify({ attack: reports, healthz: summary(health), previewListener: summary(previewHealth), keyless, mostFds, emfile }));

    assert.deepEqual(health.failures, [], `every /healthz probe answered (${health.probes} probes, worst ${health.worstMs} ms)`);
    assert.ok(health.probes >= 10, `${health.probes} probes`);
    assert.deepEqual(previewHealth.failures, [], `the preview listener answered every probe (${previewHealth.probes})`);
    assert.equal(keyless, '401 authentication_error');
    assert.equal(emfile, 0, serve.output().slice(-2000));
    assert.ok(mostFds < DESCRIPTORS, `${mostFds} descriptors at most`);
    for (const [name, report] of Object.entries(reports)) {
      assert.equal(report.open, 0, `${name}: ${report.open} slow connections still held`);
      assert.ok(report.longestHeldMs <= HELD_AT_MOST_MS, `${name}: a slow connection was held ${report.longestHeldMs} ms`);
    }
  });
});
