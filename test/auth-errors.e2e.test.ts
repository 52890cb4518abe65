import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Anthropic, { APIError, toFile } from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import pg from 'pg';
import { TEST_BACKENDS, TEST_DATABASE_URL, type TestBackend } from './helpers/harness.js';
import { startE2E, type E2E } from './helpers/e2e.js';
import { BIN } from './helpers/processes.js';

/**
 * The 403 and 500 of the API's error statuses, end to end through the
 * official client: a read-only key (made with `agenthost keys create
 * --read-only`) reads everything and changes nothing, and a store failure is
 * a generic `api_error` that names no table, query or stack frame.
 */

type ErrorBody = { type: string; error: { type: string; message: string }; request_id?: string };

async function rejectsWith(call: Promise<unknown>, cls: new (...args: never[]) => APIError, status: number, type: string, message: RegExp): Promise<APIError> {
  const caught = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  const e = caught as APIError;
  assert.equal(e.status, status);
  const body = e.error as ErrorBody;
  assert.equal(body?.type, 'error', `error body: ${JSON.stringify(e.error)}`);
  assert.equal(body.error.type, type);
  assert.match(body.error.message, message);
  return e;
}

/** A key from the CLI, against the same store as the running server. */
async function cliKey(h: E2E, backend: TestBackend, args: string[]): Promise<{ key: string; stdout: string }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), AGENTHOST_DATA_DIR: h.dataDir, AGENTHOST_LOG_LEVEL: 'silent' };
  if (backend === 'postgres') {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${await pgSchema()}`);
    env.AGENTHOST_DATABASE_URL = url.toString();
  }
  const { stdout } = await promisify(execFile)(BIN, ['keys', 'create', ...args], { env, timeout: 60_000 });
  const key = stdout.trim().split(/\s+/).at(-1) ?? '';
  assert.match(key, /^sk-ah-/, stdout);
  return { key, stdout };
}

/** The schema startE2E made for this process's PostgreSQL store (one E2E is alive at a time). */
async function pgSchema(): Promise<string> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ schema_name: string }>('SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE $1', [`e2e\\_${process.pid}\\_%`]);
    assert.equal(rows.length, 1, `one e2e schema of this process: ${JSON.stringify(rows)}`);
    return rows[0]!.schema_name;
  } finally {
    await c.end();
  }
}

/**
 * Makes `table` disappear from the server's store, with a second connection
 * of its own, until the returned function puts it back: the store's queries
 * on it then fail in the database driver, as they would on a real outage.
 */
async function hideTable(h: E2E, backend: TestBackend, table: string): Promise<() => Promise<void>> {
  const away = `${table}_away`;
  if (backend === 'sqlite') {
    const db = new Database(join(h.dataDir, 'agenthost.db'));
    db.exec(`ALTER TABLE ${table} RENAME TO ${away}`);
    return async () => {
      db.exec(`ALTER TABLE ${away} RENAME TO ${table}`);
      db.close();
    };
  }
  const schema = await pgSchema();
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  await c.query(`ALTER TABLE "${schema}".${table} RENAME TO ${away}`);
  return async () => {
    await c.query(`ALTER TABLE "${schema}".${away} RENAME TO ${table}`);
    await c.end();
  };
}

async function ids(pages: AsyncIterable<{ id: string }>): Promise<string[]> {
  const out = [];
  for await (const item of pages) out.push(item.id);
  return out.sort();
}

for (const backend of TEST_BACKENDS) {
  describe(`auth and server errors end to end (${backend})`, { timeout: 300_000 }, () => {
    let h: E2E;
    let readOnly: Anthropic;
    let readOnlyKey: string;
    let agentId: string;
    let envId: string;
    let sessionId: string;
    let fileId: string;

    /** Everything the workspace holds, as the full-access key sees it. */
    async function everything(): Promise<unknown> {
      const { stats: _stats, ...session } = (await h.client.beta.sessions.retrieve(sessionId)) as unknown as Record<string, unknown>;
      const events = [];
      for await (const e of h.client.beta.sessions.events.list(sessionId)) events.push(e);
      return {
        agents: await ids(h.client.beta.agents.list({ include_archived: true })),
        agent: await h.client.beta.agents.retrieve(agentId),
        environments: await ids(h.client.beta.environments.list({ include_archived: true })),
        environment: await h.client.beta.environments.retrieve(envId),
        sessions: await ids(h.client.beta.sessions.list({ include_archived: true })),
        session,
        events,
        files: await ids(h.client.beta.files.list()),
      };
    }

    before(async () => {
      h = await startE2E({ backend });
      agentId = (await h.client.beta.agents.create({ name: 'watched', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'watched', config: { type: 'cloud' } })).id;
      sessionId = (await h.client.beta.sessions.create({ agent: agentId, environment_id: envId, title: 'watched' })).id;
      fileId = (await h.client.beta.files.upload({ file: await toFile(Buffer.from('report\n'), 'report.txt', { type: 'text/plain' }) })).id;
      const created = await cliKey(h, backend, ['--workspace', 'e2e', '--read-only']);
      assert.match(created.stdout, /read-only API key for workspace e2e/);
      readOnlyKey = created.key;
      readOnly = new Anthropic({ baseURL: h.server.url, apiKey: readOnlyKey, maxRetries: 0 });
    });
    after(() => h?.close());

    it('a read-only key lists, retrieves, reads events, follows the stream and downloads files', async () => {
      assert.deepEqual(await ids(readOnly.beta.agents.list()), [agentId]);
      assert.equal((await readOnly.beta.agents.retrieve(agentId)).name, 'watched');
      assert.deepEqual(await ids(readOnly.beta.environments.list()), [envId]);
      assert.equal((await readOnly.beta.environments.retrieve(envId)).name, 'watched');
      assert.deepEqual(await ids(readOnly.beta.sessions.list()), [sessionId]);
      assert.equal((await readOnly.beta.sessions.retrieve(sessionId)).title, 'watched');
      const events = [];
      for await (const e of readOnly.beta.sessions.events.list(sessionId)) events.push(e);
      const full = [];
      for await (const e of h.client.beta.sessions.events.list(sessionId)) full.push(e);
      assert.deepEqual(events, full);
      // The stream resolves once its 200 and headers arrive.
      const stream = await readOnly.beta.sessions.events.stream(sessionId);
      stream.controller.abort();
      assert.deepEqual(await ids(readOnly.beta.files.list()), [fileId]);
      assert.equal((await readOnly.beta.files.retrieveMetadata(fileId)).filename, 'report.txt');
      assert.equal(await (await readOnly.beta.files.download(fileId)).text(), 'report\n');
    });

    it('a read-only key gets PermissionDeniedError (403 permission_error) for every write, and nothing changes', async () => {
      const before = await everything();
      const denied = (call: Promise<unknown>, route: RegExp) =>
        rejectsWith(call, Anthropic.PermissionDeniedError, 403, 'permission_error', new RegExp(`^this API key is read-only: ${route.source}`));

      await denied(readOnly.beta.sessions.create({ agent: agentId, environment_id: envId }), /POST \/v1\/sessions needs a full-access key/);
      await denied(readOnly.beta.agents.create({ name: 'sneaky', model: 'claude-sonnet-4-5' }), /POST \/v1\/agents /);
      await denied(
        readOnly.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }),
        /POST \/v1\/sessions\/sesn_\w+\/events /,
      );
      await denied(readOnly.beta.environments.create({ name: 'sneaky', config: { type: 'cloud' } }), /POST \/v1\/environments /);
      await denied(readOnly.beta.agents.update(agentId, { version: 1, name: 'renamed' }), /POST \/v1\/agents\/agent_\w+ /);
      await denied(readOnly.beta.sessions.update(sessionId, { title: 'renamed' }), /POST \/v1\/sessions\/sesn_\w+ /);
      await denied(readOnly.beta.sessions.archive(sessionId), /POST \/v1\/sessions\/sesn_\w+\/archive /);
      await denied(readOnly.beta.sessions.delete(sessionId), /DELETE \/v1\/sessions\/sesn_\w+ /);
      await denied(readOnly.beta.environments.delete(envId), /DELETE \/v1\/environments\/env_\w+ /);
      await denied(readOnly.beta.files.upload({ file: await toFile(Buffer.from('x'), 'x.txt') }), /POST \/v1\/files /);
      await denied(readOnly.beta.files.delete(fileId), /DELETE \/v1\/files\/file_\w+ /);

      // Refused as the request arrives: a body that would be a 400 is never read.
      const raw = await fetch(`${h.server.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': readOnlyKey },
        body: '{"agent": ',
      });
      assert.equal(raw.status, 403);
      const body = (await raw.json()) as ErrorBody;
      assert.equal(body.error.type, 'permission_error');
      assert.match(body.request_id ?? '', /^req_/);

      assert.deepEqual(await everything(), before, 'nothing stored changed');
      // The workspace's full-access key still writes.
      const renamed = await h.client.beta.sessions.update(sessionId, { title: 'still writable' });
      assert.equal(renamed.title, 'still writable');
      await h.client.beta.sessions.update(sessionId, { title: 'watched' });
    });

    it('a store failure is InternalServerError (500 api_error) with a generic message, and the server recovers', async () => {
      const envsBefore = await ids(h.client.beta.environments.list({ include_archived: true }));
      const restore = await hideTable(h, backend, 'environments');
      let attempts = 0;
      try {
        const internals = /environments|no such table|relation|SELECT|INSERT|sqlite|postgres|\.ts:\d|\bat \S+ \(/i;
        const failed = await rejectsWith(h.client.beta.environments.retrieve(envId), Anthropic.InternalServerError, 500, 'api_error', /^internal server error$/);
        assert.doesNotMatch(JSON.stringify(failed.error), internals);
        assert.match(failed.requestID ?? '', /^req_/);
        await rejectsWith(
          h.client.beta.environments.create({ name: 'during-outage', config: { type: 'cloud' } }),
          Anthropic.InternalServerError,
          500,
          'api_error',
          /^internal server error$/,
        );

        // The raw body holds nothing but the error's type and message and the request id.
        const raw = await fetch(`${h.server.url}/v1/environments/${envId}`, { headers: { 'x-api-key': h.client.apiKey! } });
        const text = await raw.text();
        assert.equal(raw.status, 500);
        assert.doesNotMatch(text, internals);
        const body = JSON.parse(text) as ErrorBody;
        assert.deepEqual(body, { type: 'error', error: { type: 'api_error', message: 'internal server error' }, request_id: body.request_id });

        // The official client retries a 500 by default; each attempt fails the same way.
        const retrying = new Anthropic({
          baseURL: h.server.url,
          apiKey: h.client.apiKey!,
          maxRetries: 2,
          fetch: (input, init) => {
            attempts++;
            return fetch(input, init);
          },
        });
        await rejectsWith(retrying.beta.environments.retrieve(envId), Anthropic.InternalServerError, 500, 'api_error', /^internal server error$/);
        assert.equal(attempts, 3, 'one request and two retries');
      } finally {
        await restore();
      }
      assert.equal((await h.client.beta.environments.retrieve(envId)).id, envId);
      assert.deepEqual(await ids(h.client.beta.environments.list({ include_archived: true })), envsBefore, 'the failed create left nothing behind');
    });
  });
}
