import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { silentLogger } from '../src/logger.js';
import { openStore } from '../src/store/index.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { isIdle, readStream } from './helpers/e2e.js';
import { allProcesses, freePort, startServe, type Serve } from './helpers/processes.js';

/**
 * The bridges into sandboxes' networks (a socat per previewed port) are the
 * server's: SIGKILL the server and none may remain; a server started on the
 * same data directory removes any an earlier run left; a stopped one leaves
 * none.
 */

const PORT = 8767;

/** Live socat processes of bridges whose socket is under `dataDir`. */
async function bridgesOf(dataDir: string): Promise<number[]> {
  return (await allProcesses()).filter((p) => p.state !== 'Z' && p.cmdline.includes('socat') && p.cmdline.includes(`UNIX-LISTEN:${dataDir}/`)).map((p) => p.pid);
}

/** Polls until `dataDir` has no bridge left, or `ms` pass; returns what is left. */
async function bridgesAfter(dataDir: string, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await bridgesOf(dataDir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('preview bridges live and die with their server', { timeout: 240_000 }, () => {
  let dataDir: string;
  let model: ScriptedModel;
  let key: string;
  let env: Record<string, string>;
  const servers: Serve[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agenthost-bridges-'));
    model = await startScriptedModel();
    const store = await openStore({ dataDir, log: silentLogger() });
    try {
      ({ key } = await createApiKey(store, 'bridges'));
    } finally {
      await store.close();
    }
    env = {
      AGENTHOST_DATA_DIR: dataDir,
      AGENTHOST_PORT: String(await freePort()),
      AGENTHOST_LOG_LEVEL: 'warn',
      AGENTHOST_WARM_POOL_MAX: '0',
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-ant-bridges-test-upstream',
    };
  });

  /** Kills the servers this test started that still run (one whose test failed early), so the port is free. */
  async function killServers(): Promise<void> {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
  }

  after(async () => {
    await killServers();
    for (const pid of dataDir ? await bridgesOf(dataDir) : []) process.kill(pid, 'SIGKILL');
    await model?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A session whose sandbox serves PORT, previewed and requested once (which starts its bridge). */
  async function previewed(serve: Serve): Promise<void> {
    const client = new Anthropic({ baseURL: serve.url, apiKey: key, maxRetries: 0, timeout: 120_000 });
    const agent = await client.beta.agents.create({ name: 'web', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const environment = await client.beta.environments.create({ name: 'web', config: { type: 'cloud' } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const command = `setsid node -e "require('http').createServer((q, s) => s.end('served')).listen(${PORT}, '127.0.0.1')" > /dev/null 2>&1 < /dev/null &
for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/${PORT}) 2>/dev/null && break; sleep 0.1; done
echo started`;
    model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command } } },
      { when: 'tools', text: 'serving' },
    ]);
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'serve' }] }] });
    await readStream(stream, isIdle, 180_000);
    const created = await fetch(`${serve.url}/v1/sessions/${session.id}/ports`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ port: PORT }),
    });
    const url = String(((await created.json()) as { url: string }).url);
    const page = await fetch(url);
    assert.equal(await page.text(), 'served', serve.output());
  }

  it('none survives the server’s SIGKILL', async () => {
    const first = await startServe(env);
    servers.push(first);
    await previewed(first);
    assert.ok((await bridgesOf(dataDir)).length >= 1, 'the request went through a bridge');
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    const left = await bridgesAfter(dataDir, 5_000);
    assert.deepEqual(left, [], 'no bridge remains 5 s after the kill');
  });

  it('a server removes what an earlier run left, and a stopped one leaves none', async () => {
    await killServers();
    // A bridge as a dead server would have left it (not this test's child: it ignores our death).
    const dir = join(dataDir, 'run', 'previews');
    await mkdir(dir, { recursive: true });
    const socket = join(dir, 'sesn_leftover-8767-0.sock');
    const leftover = spawn('socat', [`UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, 'TCP:127.0.0.1:9'], { detached: true, stdio: 'ignore' });
    leftover.unref();
    const deadline = Date.now() + 5_000;
    while (!existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await bridgesOf(dataDir), [leftover.pid]);

    const second = await startServe(env);
    servers.push(second);
    assert.deepEqual(await bridgesOf(dataDir), [], 'the start removed the leftover');
    assert.equal(existsSync(socket), false, 'and its socket');
    await previewed(second);
    assert.ok((await bridgesOf(dataDir)).length >= 1);
    second.child.kill('SIGTERM');
    await second.exited;
    assert.deepEqual(await bridgesAfter(dataDir, 2_000), [], 'a stopped server leaves no bridge');
  });
});
