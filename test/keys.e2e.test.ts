import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { hashApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { silentLogger } from '../src/logger.js';
import { startServer, type Server } from '../src/server.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { createTestDatabase } from './helpers/databases.js';
import { UPSTREAM_KEY } from './helpers/e2e.js';
import { BIN } from './helpers/processes.js';

/**
 * `agenthost keys list|revoke` against a cluster: two servers sharing one
 * PostgreSQL database, the CLI as an operator runs it (a child process on the
 * same database). A revoked key is refused by both servers within a second
 * of its revocation, and an event stream it had open is ended.
 */

interface KeyRow {
  id: string;
  workspace: string;
  workspace_id: string;
  scope: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

function cli(args: string[], databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string; exitedAt: number }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AGENTHOST_') && !k.startsWith('ANTHROPIC_')) env[k] = v;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...env, AGENTHOST_DATABASE_URL: databaseUrl, AGENTHOST_DATA_DIR: join(tmpdir(), 'agenthost-keys-cli-unused') } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, exitedAt: Date.now() });
    });
  });
}

/** One request every 20 ms with `key` to each server, recording when it was sent and what came back. */
function probe(servers: Server[], key: string) {
  const seen: Array<Array<{ sentAt: number; status: number }>> = servers.map(() => []);
  let running = true;
  const loops = servers.map(async (server, i) => {
    while (running) {
      const sentAt = Date.now();
      const res = await fetch(`${server.url}/v1/agents`, { headers: { 'x-api-key': key } });
      await res.body?.cancel();
      seen[i]!.push({ sentAt, status: res.status });
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return {
    seen,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('agenthost keys on a cluster (two servers, one PostgreSQL database)', { timeout: 300_000 }, () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let model: ScriptedModel;
  const servers: Server[] = [];
  const dirs: string[] = [];

  before(async () => {
    db = await createTestDatabase('keys');
    model = await startScriptedModel();
    for (let i = 0; i < 2; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-keys-'));
      dirs.push(dataDir);
      const config = loadConfig({
        AGENTHOST_PORT: '0',
        AGENTHOST_DATA_DIR: dataDir,
        AGENTHOST_DATABASE_URL: db.url,
        AGENTHOST_LOG_LEVEL: 'silent',
        AGENTHOST_WARM_POOL_MAX: '0',
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: UPSTREAM_KEY,
      });
      servers.push(await startServer(config, silentLogger()));
    }
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    await model?.close();
    await db?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('lists keys without keys or hashes; a revoked key is refused on both servers within a second', async () => {
    const made = [];
    for (const args of [['--workspace', 'acme'], ['--workspace', 'acme', '--read-only'], ['--workspace', 'globex']]) {
      const created = await cli(['keys', 'create', ...args], db.url);
      assert.equal(created.code, 0, created.stderr);
      made.push(created.stdout.trim().split(/\s+/).at(-1)!);
    }
    const [acmeKey, acmeReadOnly, globexKey] = made as [string, string, string];

    const listed = await cli(['keys', 'list', '--json'], db.url);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as KeyRow[];
    assert.deepEqual(rows.map((r) => [r.workspace, r.scope, r.revoked_at]), [['acme', 'full', null], ['acme', 'read_only', null], ['globex', 'full', null]]);
    const text = await cli(['keys', 'list', '--workspace', 'acme'], db.url);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(text.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]), ['KEY', rows[0]!.id, rows[1]!.id]);
    for (const out of [listed.stdout, text.stdout]) {
      for (const key of made) {
        assert.ok(!out.includes(key), 'a key is never printed');
        assert.ok(!out.includes(hashApiKey(key)), 'nor its hash');
        assert.ok(!out.includes(key.slice(0, 16)), 'nor more than its display prefix');
      }
    }

    // An event stream opened with the key on the second server.
    const client = new Anthropic({ baseURL: servers[1]!.url, apiKey: acmeKey, maxRetries: 0 });
    const agent = await client.beta.agents.create({ name: 'k', model: 'claude-sonnet-4-5' });
    const env = await client.beta.environments.create({ name: 'k', config: { type: 'cloud' } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    const streamEnded = (async () => {
      try {
        for await (const _ of stream) void _;
        return { at: Date.now(), error: undefined as unknown };
      } catch (error) {
        return { at: Date.now(), error };
      }
    })();

    const traffic = probe(servers, acmeKey);
    await new Promise((r) => setTimeout(r, 300));
    const revoked = await cli(['keys', 'revoke', rows[0]!.id], db.url);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked key ${rows[0]!.id} \\(sk-ah-.{6}…\\) of workspace acme; requests with it are refused within 500 ms on every server`));
    await new Promise((r) => setTimeout(r, 1_500));
    await traffic.stop();

    const after = JSON.parse((await cli(['keys', 'list', '--json', '--workspace', 'acme'], db.url)).stdout) as KeyRow[];
    const revokedAt = Date.parse(after[0]!.revoked_at!);
    assert.ok(revokedAt <= revoked.exitedAt);
    for (const [i, seen] of traffic.seen.entries()) {
      const lastAccepted = seen.filter((s) => s.status === 200).at(-1)!;
      const firstRefused = seen.find((s) => s.status === 401);
      assert.ok(lastAccepted && firstRefused, `server ${i}: ${JSON.stringify(seen.map((s) => s.status))}`);
      const lag = lastAccepted.sentAt - revokedAt;
      assert.ok(lag < 1_000, `server ${i} accepted the key ${lag} ms after it was revoked`);
      assert.ok(seen.filter((s) => s.sentAt > revokedAt + 1_000).every((s) => s.status === 401), `server ${i}`);
      process.stdout.write(`# server ${i}: last accepted ${lag} ms after revocation, first refused ${firstRefused.sentAt - revokedAt} ms after\n`);
    }
    const ended = await streamEnded;
    assert.ok(ended.at - revokedAt < 1_000 + 500, `the stream ended ${ended.at - revokedAt} ms after the revocation`);
    assert.ok(ended.error instanceof Anthropic.APIError, `the stream ended with ${String(ended.error)}`);
    assert.match(String((ended.error as Error).message), /revoked/);

    // The workspace's other key and other workspaces' keys still work.
    for (const key of [acmeReadOnly, globexKey]) {
      for (const server of servers) assert.equal((await fetch(`${server.url}/v1/agents`, { headers: { 'x-api-key': key } })).status, 200);
    }

    // Revoking again says so; an unknown id is an error.
    const again = await cli(['keys', 'revoke', rows[0]!.id], db.url);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /was already revoked at /);
    const unknown = await cli(['keys', 'revoke', 'key_nope'], db.url);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no key "key_nope"/);
  });

  it('revoke --workspace W --all locks the workspace out on both servers', async () => {
    const keys = [];
    for (let i = 0; i < 2; i++) {
      const created = await cli(['keys', 'create', '--workspace', 'initech'], db.url);
      keys.push(created.stdout.trim().split(/\s+/).at(-1)!);
    }
    const other = (await cli(['keys', 'create', '--workspace', 'hooli'], db.url)).stdout.trim().split(/\s+/).at(-1)!;
    for (const server of servers) for (const key of keys) assert.equal((await fetch(`${server.url}/v1/agents`, { headers: { 'x-api-key': key } })).status, 200);

    const noAll = await cli(['keys', 'revoke', '--workspace', 'initech'], db.url);
    assert.equal(noAll.code, 1, 'a workspace alone is not enough: --all says what is meant');
    const revoked = await cli(['keys', 'revoke', '--workspace', 'initech', '--all'], db.url);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /^revoked 2 keys of workspace initech/);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const server of servers) {
      for (const key of keys) assert.equal((await fetch(`${server.url}/v1/agents`, { headers: { 'x-api-key': key } })).status, 401);
      assert.equal((await fetch(`${server.url}/v1/agents`, { headers: { 'x-api-key': other } })).status, 200);
    }
    const rows = JSON.parse((await cli(['keys', 'list', '--workspace', 'initech', '--json'], db.url)).stdout) as KeyRow[];
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.revoked_at !== null));
    const missing = await cli(['keys', 'list', '--workspace', 'nobody'], db.url);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no workspace named nobody/);
  });
});
