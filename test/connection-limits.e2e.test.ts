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
 * from 20 other loopback addresses that send headers or a webhook body one
 * byte every 2 s. /healthz from 127.0.0.1 must answer throughout, the API
 * must answer in its shape, no descriptor may run out, and every slow
 * connection must be closed within the configured bounds (5 s here, so the
 * test stays short; the defaults are 20 s).
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
    const fds = descriptorWatch(serve.child.pid!, 200);
    const probes = probeLoop(`${serve.url}/healthz`, 250, 5000);
    const addresses = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);
    const attack = await slowAttack({ port, connections: 3000, addresses, path: '/hooks/trg_attack', dripMs: 2000 });

    // The API answers in its own shape meanwhile (no key: 401).
    const api = await fetch(`${serve.url}/v1/agents`, { signal: AbortSignal.timeout(10_000) }).then(
      async (r) => `${r.status} ${((await r.json()) as { error?: { type?: string } }).error?.type}`,
      (error: unknown) => String(error),
    );

    await attack.settled(HELD_AT_MOST_MS + 5000);
    const report = attack.report();
    attack.stop();
    const health = await probes.stop();
    const mostFds = fds.stop();
    const emfile = (serve.output().match(/EMFILE/g) ?? []).length;
    t.diagnostic(JSON.stringify({ attack: report, healthz: { probes: health.probes, failures: health.failures.length, worstMs: health.worstMs }, api, mostFds, emfile }));

    assert.deepEqual(health.failures, [], `every /healthz probe answered (${health.probes} probes, worst ${health.worstMs} ms)`);
    assert.ok(health.probes >= 10, `${health.probes} probes`);
    assert.equal(api, '401 authentication_error');
    assert.equal(emfile, 0, serve.output().slice(-2000));
    assert.ok(mostFds < DESCRIPTORS, `${mostFds} descriptors at most`);
    assert.equal(report.open, 0, `${report.open} slow connections still held`);
    assert.ok(report.longestHeldMs <= HELD_AT_MOST_MS, `a slow connection was held ${report.longestHeldMs} ms`);
  });
});
