import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import semver from 'semver';
import { create as createTar } from 'tar';
import { bundledCliPath, cliVersionOf } from '../src/claude-code/versions.js';
import { processesMatching, waitFor } from './helpers/e2e.js';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

const execFileAsync = promisify(execFile);
const BIN = new URL('../bin/agenthost', import.meta.url).pathname;
const PACKAGE = '@anthropic-ai/claude-code';

/**
 * A stand-in Claude Code release: the real bundled binary behind a wrapper
 * that reports `version` (on --version, and in the init message the Agent
 * SDK reads), so a session shows which release it started on.
 */
async function fakeRelease(dir: string, version: string, real: string): Promise<Buffer> {
  const root = join(dir, version);
  await mkdir(join(root, 'package', 'bin'), { recursive: true });
  await writeFile(join(root, 'package', 'package.json'), JSON.stringify({ name: PACKAGE, version, bin: { claude: 'bin/claude' } }));
  const wrapper = `#!/bin/sh
# agenthost-test-release ${version}
if [ "$1" = "--version" ]; then echo "${version} (Claude Code)"; exit 0; fi
"${real}" "$@" | sed -u 's/"claude_code_version":"[^"]*"/"claude_code_version":"${version}"/'
`;
  await writeFile(join(root, 'package', 'bin', 'claude'), wrapper);
  await chmod(join(root, 'package', 'bin', 'claude'), 0o755);
  const file = join(dir, `${version}.tgz`);
  await createTar({ gzip: true, file, cwd: root, portable: true }, ['package']);
  return readFile(file);
}

/** A local npm registry serving the fake releases of the Claude Code package. */
async function startRegistry(releases: Map<string, Buffer>): Promise<{ url: string; close(): Promise<void> }> {
  let url = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    if (path === `/${PACKAGE}`) {
      const versions: Record<string, unknown> = {};
      for (const [version, tgz] of releases) {
        versions[version] = {
          name: PACKAGE,
          version,
          bin: { claude: 'bin/claude' },
          dist: {
            tarball: `${url}/tarballs/${version}.tgz`,
            shasum: createHash('sha1').update(tgz).digest('hex'),
            integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
          },
        };
      }
      const latest = [...releases.keys()].sort(semver.compare).at(-1)!;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: PACKAGE, 'dist-tags': { latest }, versions }));
      return;
    }
    const m = /^\/tarballs\/(.+)\.tgz$/.exec(path);
    const tgz = m ? releases.get(m[1]!) : undefined;
    if (tgz) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tgz.length });
      res.end(tgz);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((r) => server.close(() => r())) };
}

describe('Claude Code version policy', { timeout: 600_000 }, () => {
  let h: OpsServer;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let workDir: string;
  let bundled: string;
  let next: string;
  let major: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'agenthost-cli-'));
    const real = bundledCliPath();
    bundled = await cliVersionOf(real);
    next = semver.inc(bundled, 'patch')!;
    major = semver.inc(bundled, 'major')!;
    registry = await startRegistry(new Map([[next, await fakeRelease(workDir, next, real)], [major, await fakeRelease(workDir, major, real)]]));
    // The process provider: a wrapper outside the bundled binary's directory cannot reach it inside bwrap.
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_DEFAULT_PROVIDER: 'process', AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true', AGENTHOST_NPM_REGISTRY: registry.url } });
    env = { ...process.env, AGENTHOST_DATA_DIR: h.dataDir, AGENTHOST_NPM_REGISTRY: registry.url, AGENTHOST_LOG_LEVEL: 'silent' };
    delete env.AGENTHOST_DATABASE_URL;
    delete env.AGENTHOST_CLI_VERSION_RANGE;
  });
  after(async () => {
    await h?.close();
    await registry?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const agenthost = async (...args: string[]) => (await execFileAsync(BIN, args, { env, timeout: 300_000 })).stdout;
  const cliVersion = async (sessionId: string) => ((await h.client.beta.sessions.retrieve(sessionId)) as unknown as { runtime: { cli_version: string } }).runtime.cli_version;

  it('status, an update within the range for new sessions while running ones keep theirs, and a major only on request', async () => {
    const agent = await h.client.beta.agents.create({ name: 'v', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const environment = await h.client.beta.environments.create({ name: 'v', config: { type: 'cloud' } });
    h.model.setScript([{ when: 'tools', text: 'hello', repeat: true }]);

    const first = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await runTurn(h.client, first.id, 'hi');
    assert.equal(await cliVersion(first.id), bundled);

    const before = await agenthost('cli', 'status');
    assert.match(before, new RegExp(`^  ${bundled.replace(/\./g, '\\.')}\\s+bundled, current\\s+/`, 'm'));
    assert.match(before, new RegExp(`allowed range: \\^${bundled}`));
    assert.match(before, new RegExp(`newest in range: ${next} \\(not installed: agenthost cli update\\)`));
    assert.match(before, new RegExp(`newest: ${major} \\(outside the range: agenthost cli update --major\\)`));
    assert.match(before, new RegExp(`${bundled}\\s+1 session: ${first.id}`));

    const updated = await agenthost('cli', 'update');
    assert.match(updated, new RegExp(`installed Claude Code ${next}; new sessions start on it`));
    assert.match(updated, new RegExp(`${major} is a new major version`));

    // The running session keeps its process and version; a new one starts on the update.
    await runTurn(h.client, first.id, 'still there?');
    assert.equal(await cliVersion(first.id), bundled);
    const second = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await runTurn(h.client, second.id, 'hi');
    assert.equal(await cliVersion(second.id), next);
    assert.ok((await processesMatching(join(h.dataDir, 'cli', next))).length > 0, 'the new session runs the installed release');

    const status = JSON.parse(await agenthost('cli', 'status', '--json')) as {
      range: string;
      current: string;
      installed: Array<{ version: string; source: string }>;
      newest_in_range: string;
      newest: string;
      sessions: Record<string, string[]>;
    };
    assert.equal(status.current, next);
    assert.deepEqual(status.installed.map((i) => [i.version, i.source]), [[bundled, 'bundled'], [next, 'installed']]);
    assert.equal(status.newest_in_range, next);
    assert.equal(status.newest, major);
    assert.deepEqual(status.sessions, { [bundled]: [first.id], [next]: [second.id] });

    assert.match(await agenthost('cli', 'update'), new RegExp(`Claude Code ${next} is the newest allowed version; nothing to do`));
    assert.match(await agenthost('cli', 'update', '--major'), new RegExp(`installed Claude Code ${major}`));
    const third = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await runTurn(h.client, third.id, 'hi');
    assert.equal(await cliVersion(third.id), major);
    assert.equal(await cliVersion(second.id), next);
    for (const s of [first, second, third]) await h.client.beta.sessions.archive(s.id);
  });

  it('status counts a standby session, holding a warm sandbox, under the version that sandbox runs', async () => {
    const agent = await h.client.beta.agents.create({ name: 'w', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const environment = await h.client.beta.environments.create({ name: 'w', config: { type: 'cloud', warm_pool: { min: 1, max: 1 } } as never });
    const opener = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await waitFor('the pool to fill', async () => {
      const env = (await h.client.beta.environments.retrieve(environment.id)) as unknown as { warm_pool_status: { ready: number } };
      return env.warm_pool_status.ready === 1 ? true : undefined;
    }, 60_000);
    const standby = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    assert.equal((standby as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state, 'standby');
    const version = await waitFor('the standby session to know its version', async () => (await cliVersion(standby.id)) ?? undefined, 30_000);
    const status = JSON.parse(await agenthost('cli', 'status', '--json')) as { current: string; sessions: Record<string, string[]> };
    assert.equal(version, status.current, 'the warm sandbox runs the current version');
    assert.ok(status.sessions[version]?.includes(standby.id), JSON.stringify(status.sessions));
    for (const s of [opener, standby]) await h.client.beta.sessions.archive(s.id);
  });
});
