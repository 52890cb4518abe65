import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { createApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { silentLogger } from '../src/logger.js';
import { startServer, type Server } from '../src/server.js';
import { PostgresStore } from '../src/store/index.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { signWebhook } from '../src/triggers/signature.js';
import { UPSTREAM_KEY, isIdle, readStream, startE2E, text, waitFor, type AnyEvent, type E2E } from './helpers/e2e.js';
import { TEST_BACKENDS, TEST_DATABASE_URL, type TestBackend } from './helpers/harness.js';
import { eventsOf } from './helpers/processes.js';

/**
 * Triggers end to end: the official client's generic methods for the
 * extension routes, real HTTP, a real store, Claude Code in a bwrap sandbox
 * and the scripted model upstream.
 */

interface Trigger {
  id: string;
  type: 'trigger';
  kind: 'cron' | 'webhook';
  session_id: string;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  last_fired_at: string | null;
  next_fire_at: string | null;
  schedule?: string;
  timezone?: string;
  message?: unknown;
  message_template?: string;
  url?: string;
  secret?: string;
}

interface TriggerList {
  data: Trigger[];
  next_page: string | null;
}

const createTrigger = (client: Anthropic, sessionId: string, body: Record<string, unknown>): Promise<Trigger> =>
  client.post(`/v1/sessions/${sessionId}/triggers`, { body });

/** POSTs to a webhook URL the way a sender would: no API key, a signature over the raw body. */
function deliver(url: string, body: string, signature: string | undefined, contentType = 'application/json'): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(signature !== undefined ? { 'x-agenthost-signature': signature } : {}) },
    body,
  });
}

const nowS = (): number => Math.floor(Date.now() / 1000);

/** The texts the model saw from the user in its main-loop requests. */
function userTexts(model: ScriptedModel): string {
  const main = model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
  return JSON.stringify(main.map((r) => (r.body as { messages: unknown[] }).messages));
}

for (const backend of TEST_BACKENDS) {
  describe(`triggers end to end (${backend}, bwrap)`, { timeout: 600_000 }, () => {
    let h: E2E;
    let agentId: string;
    let envId: string;

    before(async () => {
      // Every-second schedules, so fires come within the test's time (the default minimum interval is 60 s).
      h = await startE2E({ backend, maxTurns: 4, env: { AGENTHOST_CRON_MIN_INTERVAL_S: '1' } });
      agentId = (await h.client.beta.agents.create({ name: 'watcher', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud' } })).id;
    });
    after(() => h?.close());

    const newSession = async (): Promise<string> => (await h.client.beta.sessions.create({ agent: agentId, environment_id: envId })).id;

    it('a cron trigger every second sends a tagged user.message and the agent replies', async () => {
      const sessionId = await newSession();
      h.model.setScript([{ when: 'tools', text: 'Inbox checked.', repeat: true }]);
      const stream = await h.client.beta.sessions.events.stream(sessionId);
      const trigger = await createTrigger(h.client, sessionId, { type: 'cron', schedule: '* * * * * *', message: 'check the inbox' });
      assert.match(trigger.id, /^trg_/);
      assert.equal(trigger.type, 'trigger');
      assert.equal(trigger.kind, 'cron');
      assert.equal(trigger.session_id, sessionId);
      assert.equal(trigger.schedule, '* * * * * *');
      assert.equal(trigger.timezone, 'UTC');
      assert.equal(trigger.message, 'check the inbox');
      assert.equal(trigger.enabled, true);
      assert.equal(trigger.last_fired_at, null);
      assert.ok(Date.parse(trigger.next_fire_at!) - Date.now() <= 1_000);
      assert.equal(trigger.secret, undefined);
      assert.equal(trigger.url, undefined);

      // Deleted as soon as it has fired, so the session does not keep getting messages.
      let deleted: Promise<unknown> | undefined;
      const seen = await readStream(stream, (e, all) => {
        if (e.type === 'user.message' && !deleted) deleted = h.client.delete(`/v1/sessions/${sessionId}/triggers/${trigger.id}`);
        return isIdle(e) && all.some((x) => x.type === 'agent.message');
      });
      assert.deepEqual(await deleted, { id: trigger.id, type: 'trigger_deleted' });
      const message = seen.find((e) => e.type === 'user.message')!;
      assert.match(
        text(message),
        new RegExp(`^\\[trigger ${trigger.id}: cron "\\* \\* \\* \\* \\* \\*" \\(UTC\\) fired at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\]\\ncheck the inbox$`),
      );
      assert.equal(text(seen.find((e) => e.type === 'agent.message')!), 'Inbox checked.');
      assert.match(userTexts(h.model), new RegExp(`\\[trigger ${trigger.id}: cron[^\\]]*\\]\\\\ncheck the inbox`), 'the model saw the trigger’s message');

      await assert.rejects(h.client.get(`/v1/sessions/${sessionId}/triggers/${trigger.id}`), Anthropic.NotFoundError);
      const list = await h.client.get<TriggerList>(`/v1/sessions/${sessionId}/triggers`);
      assert.deepEqual(list.data, []);
      // Fires that were queued before the delete run their turns; archive so none outlives the test.
      await h.client.beta.sessions.archive(sessionId);
    });

    it('a fire for an archived session disables the trigger', async () => {
      const sessionId = await newSession();
      // Once a minute, three seconds from now: the session is archived well before the fire.
      const second = new Date(Date.now() + 3_000).getUTCSeconds();
      const schedule = `${second} * * * * *`;
      const trigger = await createTrigger(h.client, sessionId, { type: 'cron', schedule, message: [{ type: 'text', text: 'ping' }] });
      assert.deepEqual(trigger.message, [{ type: 'text', text: 'ping' }]);
      await h.client.beta.sessions.archive(sessionId);
      const disabled = await waitFor('the fire to disable the trigger', async () => {
        const t = await h.client.get<Trigger>(`/v1/sessions/${sessionId}/triggers/${trigger.id}`);
        return t.enabled ? undefined : t;
      });
      assert.match(disabled.disabled_reason ?? '', /archived/);
      assert.equal(disabled.next_fire_at, null);
      assert.equal((await eventsOf(h.client, sessionId)).filter((e) => e.type === 'user.message').length, 0, 'nothing was appended');
      await assert.rejects(createTrigger(h.client, sessionId, { type: 'webhook' }), Anthropic.ConflictError);
    });

    it('a signed webhook delivery sends the body through the template and the agent replies', async () => {
      const sessionId = await newSession();
      h.model.setScript([{ when: 'tools', text: 'I will look at job 42.' }]);
      const trigger = await createTrigger(h.client, sessionId, { type: 'webhook', message_template: 'CI says: {{body}}' });
      assert.equal(trigger.kind, 'webhook');
      assert.equal(trigger.message_template, 'CI says: {{body}}');
      assert.equal(trigger.next_fire_at, null);
      assert.equal(trigger.url, `${h.server.url}/hooks/${trigger.id}`);
      assert.match(trigger.secret!, /^whsec_[A-Za-z0-9_-]{43}$/);
      const retrieved = await h.client.get<Trigger>(`/v1/sessions/${sessionId}/triggers/${trigger.id}`);
      assert.equal(retrieved.secret, undefined, 'the secret is shown only when created');
      assert.equal(retrieved.url, trigger.url);

      const body = JSON.stringify({ status: 'failed', job: 42 });
      const stream = await h.client.beta.sessions.events.stream(sessionId);
      const response = await deliver(trigger.url!, body, signWebhook(trigger.secret!, body, nowS()));
      assert.equal(response.status, 202, await response.clone().text());
      const accepted = (await response.json()) as { type: string; trigger_id: string; event_id: string };
      assert.equal(accepted.type, 'webhook_delivery');
      assert.equal(accepted.trigger_id, trigger.id);

      const seen = await readStream(stream, isIdle);
      const message = seen.find((e) => e.type === 'user.message')!;
      assert.equal(message.id, accepted.event_id);
      assert.match(text(message), new RegExp(`^\\[trigger ${trigger.id}: webhook delivery received at [^\\]]+\\]\\nCI says: \\{"status":"failed","job":42\\}$`));
      assert.equal(text(seen.find((e) => e.type === 'agent.message')!), 'I will look at job 42.');
      assert.match(userTexts(h.model), /CI says: \{\\"status\\":\\"failed\\",\\"job\\":42\}/, 'the model saw the delivery');
      const fired = await h.client.get<Trigger>(`/v1/sessions/${sessionId}/triggers/${trigger.id}`);
      assert.ok(fired.last_fired_at && Date.parse(fired.last_fired_at) <= Date.now());
    });

    it('refuses bad, stale, replayed and oversized deliveries and appends nothing for them', async () => {
      const sessionId = await newSession();
      h.model.setScript([{ when: 'tools', text: 'Got it.' }]);
      const trigger = await createTrigger(h.client, sessionId, { type: 'webhook' });
      const url = trigger.url!;
      const secret = trigger.secret!;
      const body = 'deploy finished';
      const stream = await h.client.beta.sessions.events.stream(sessionId);
      const signature = signWebhook(secret, body, nowS());
      const first = await deliver(url, body, signature, 'text/plain');
      assert.equal(first.status, 202);
      await readStream(stream, isIdle);
      const before = await eventsOf(h.client, sessionId);
      const message = before.find((e) => e.type === 'user.message')!;
      assert.match(text(message), /\]\nWebhook received:\ndeploy finished$/, 'the default template');

      const refusals: [string, Promise<Response>, number, string][] = [
        ['no signature', deliver(url, body, undefined), 401, 'authentication_error'],
        ['a malformed signature', deliver(url, body, 'sha256=abc'), 401, 'authentication_error'],
        ['another secret', deliver(url, body, signWebhook('whsec_wrong', body, nowS())), 401, 'authentication_error'],
        ['a changed body', deliver(url, `${body}!`, signature), 401, 'authentication_error'],
        ['a stale timestamp', deliver(url, body, signWebhook(secret, body, nowS() - 600)), 401, 'authentication_error'],
        ['a future timestamp', deliver(url, body, signWebhook(secret, body, nowS() + 600)), 401, 'authentication_error'],
        ['a replay', deliver(url, body, signature, 'text/plain'), 409, 'conflict_error'],
        // The same answer as a wrong signature: an unknown id is not told apart from a known one.
        ['an unknown trigger', deliver(`${h.server.url}/hooks/trg_unknown`, body, signature), 401, 'authentication_error'],
        ['a body over 256 KiB', deliver(url, 'x'.repeat(256 * 1024 + 1), signWebhook(secret, 'x'.repeat(256 * 1024 + 1), nowS())), 413, 'request_too_large'],
      ];
      for (const [what, pending, status, type] of refusals) {
        const response = await pending;
        const error = (await response.json()) as { type: string; error: { type: string; message: string } };
        assert.equal(response.status, status, `${what}: ${JSON.stringify(error)}`);
        assert.equal(error.type, 'error', what);
        assert.equal(error.error.type, type, what);
      }
      await new Promise((r) => setTimeout(r, 300));
      const afterRefusals = await eventsOf(h.client, sessionId);
      assert.deepEqual(afterRefusals.map((e) => e.id), before.map((e) => e.id), 'nothing was appended for refused deliveries');

      // A fresh signature of the same body is a new delivery.
      const again = await deliver(url, body, signWebhook(secret, body, nowS() + 1));
      assert.equal(again.status, 202);
    });

    it('validates requests: 400 naming the field, 404 for another workspace, 409 for an ended session, cursor paging', async () => {
      const sessionId = await newSession();
      const path = `/v1/sessions/${sessionId}/triggers`;
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ type: 'cron', schedule: 'every minute', message: 'x' }, /^schedule: "every minute" is not a valid cron expression/],
        [{ type: 'cron', schedule: '0 0 30 2 *', message: 'x' }, /^schedule: .* never fires/],
        [{ type: 'cron', schedule: '* * * * *', timezone: 'Mars/Base', message: 'x' }, /^timezone: /],
        [{ type: 'cron', schedule: '* * * * *' }, /message/],
        [{ type: 'cron', schedule: '* * * * *', message: [] }, /message/],
        [{ type: 'webhook', secret: 'mine' }, /secret/],
        [{ type: 'email' }, /type/],
      ];
      for (const [body, message] of bad) {
        const error = await h.client.post(path, { body }).then(
          () => assert.fail(`accepted ${JSON.stringify(body)}`),
          (e: unknown) => e,
        );
        assert.ok(error instanceof Anthropic.BadRequestError, `${JSON.stringify(body)}: ${String(error)}`);
        assert.match((error.error as { error: { message: string } }).error.message, message);
      }

      const made: Trigger[] = [];
      for (let i = 0; i < 3; i++) made.push(await createTrigger(h.client, sessionId, { type: 'webhook' }));
      const first = await h.client.get<TriggerList>(path, { query: { limit: 2 } });
      assert.deepEqual(first.data.map((t) => t.id), made.slice(0, 2).map((t) => t.id));
      assert.ok(first.data.every((t) => t.secret === undefined));
      assert.ok(first.next_page);
      const second = await h.client.get<TriggerList>(path, { query: { limit: 2, page: first.next_page } });
      assert.deepEqual(second.data.map((t) => t.id), [made[2]!.id]);
      assert.equal(second.next_page, null);

      const other = await h.newClient('someone-else');
      await assert.rejects(createTrigger(other, sessionId, { type: 'webhook' }), Anthropic.NotFoundError);
      await assert.rejects(other.get(path), Anthropic.NotFoundError);
      await assert.rejects(other.get(`${path}/${made[0]!.id}`), Anthropic.NotFoundError);
      await assert.rejects(other.delete(`${path}/${made[0]!.id}`), Anthropic.NotFoundError);
      const otherSession = await newSession();
      await assert.rejects(h.client.get(`/v1/sessions/${otherSession}/triggers/${made[0]!.id}`), Anthropic.NotFoundError, 'under another session');
      await assert.rejects(h.client.post(`/v1/sessions/sesn_missing/triggers`, { body: { type: 'webhook' } }), Anthropic.NotFoundError);

      // Deleting the session deletes its triggers: their URLs are gone.
      await h.client.beta.sessions.delete(sessionId);
      const gone = await deliver(made[0]!.url!, '{}', signWebhook(made[0]!.secret!, '{}', nowS()));
      assert.equal(gone.status, 401, 'a deleted trigger answers as an unknown one');
    });

    it('an unknown trigger id gets exactly the answer a known one gets for each bad signature', async () => {
      const sessionId = await newSession();
      const known = await createTrigger(h.client, sessionId, { type: 'webhook' });
      const cron = await createTrigger(h.client, sessionId, { type: 'cron', schedule: '0 0 1 1 *', message: 'x' });
      const body = '{"probe":true}';
      const signatures: [string, () => string | undefined][] = [
        ['none', () => undefined],
        ['malformed', () => 'sha256=abc'],
        ['another secret', () => signWebhook('whsec_guess', body, nowS())],
        ['stale', () => signWebhook('whsec_guess', body, nowS() - 600)],
      ];
      const answer = async (id: string, signature: string | undefined) => {
        const response = await deliver(`${h.server.url}/hooks/${id}`, body, signature);
        const json = (await response.json()) as { request_id?: string };
        delete json.request_id;
        return { status: response.status, body: json };
      };
      for (const [what, sign] of signatures) {
        const fromKnown = await answer(known.id, sign());
        assert.equal(fromKnown.status, 401, what);
        for (const id of ['trg_unknown', 'trg_0000000000000000000000000', cron.id, 'x']) {
          assert.deepEqual(await answer(id, sign()), fromKnown, `${what} signature, trigger ${id}`);
        }
      }
      await h.client.beta.sessions.archive(sessionId);
    });
  });
}

/**
 * Restart: a server stopped and a new one started on the same data dir (and
 * database). Not `startE2E`, which starts one server for its whole life.
 */
for (const backend of TEST_BACKENDS) {
  describe(`triggers survive a restart (${backend}, bwrap)`, { timeout: 600_000 }, () => {
    let dataDir: string;
    let model: ScriptedModel;
    let schema: string | undefined;
    let server: Server | undefined;
    let key: string;

    async function boot(): Promise<{ server: Server; client: Anthropic }> {
      let store: PostgresStore | undefined;
      if (backend === 'postgres') {
        store = new PostgresStore(TEST_DATABASE_URL, { schema: schema!, max: 5 });
        await store.migrate();
      }
      const config = loadConfig({
        AGENTHOST_PORT: '0',
        AGENTHOST_DATA_DIR: dataDir,
        AGENTHOST_LOG_LEVEL: 'silent',
        AGENTHOST_MAX_TURNS: '4',
        AGENTHOST_CRON_MIN_INTERVAL_S: '1',
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: UPSTREAM_KEY,
      });
      server = await startServer(config, silentLogger(), store ? { store } : {});
      key ??= (await createApiKey(server.store, 'restart')).key;
      return { server, client: new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0, timeout: 120_000 }) };
    }

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'agenthost-triggers-'));
      model = await startScriptedModel();
      if (backend === 'postgres') schema = `e2e_trg_${process.pid}_${Date.now().toString(36)}`;
    });

    after(async () => {
      await server?.close();
      await model?.close();
      if (schema) {
        const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
      }
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('the cron trigger fires on the new server; the webhook secret and replay memory persist', async () => {
      model.setScript([{ when: 'tools', text: 'Still on duty.', repeat: true }]);
      const first = await boot();
      const agent = await first.client.beta.agents.create({ name: 'watcher', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
      const env = await first.client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud' } });
      // A session whose cron trigger fires only on the second server; a second session for the webhook.
      const cronSession = (await first.client.beta.sessions.create({ agent: agent.id, environment_id: env.id })).id;
      const hookSession = (await first.client.beta.sessions.create({ agent: agent.id, environment_id: env.id })).id;
      const hook = await createTrigger(first.client, hookSession, { type: 'webhook' });
      const body = '{"ping":1}';
      const signature = signWebhook(hook.secret!, body, nowS());
      assert.equal((await deliver(hook.url!, body, signature)).status, 202);
      await waitFor(
        'the first server to reply to the webhook',
        async () => ((await eventsOf(first.client, hookSession)).some((e) => e.type === 'agent.message') ? true : undefined),
        60_000,
      );
      const cron = await createTrigger(first.client, cronSession, { type: 'cron', schedule: '* * * * * *', message: 'are you still there?' });
      await first.server.close();
      const stoppedAt = new Date().toISOString();
      // Fires are missed while no server runs.
      await new Promise((r) => setTimeout(r, 2_500));

      const second = await boot();
      const listed = await second.client.get<TriggerList>(`/v1/sessions/${cronSession}/triggers`);
      assert.deepEqual(listed.data.map((t) => t.id), [cron.id], 'the trigger was loaded from the store');
      const fired = await waitFor(
        'a fire on the second server',
        async () => {
          const events = await eventsOf(second.client, cronSession);
          return events.find((e) => e.type === 'user.message' && String(e.processed_at) > stoppedAt);
        },
        30_000,
      );
      assert.match(text(fired), new RegExp(`^\\[trigger ${cron.id}: cron .*\\]\\nare you still there\\?$`));
      await second.client.delete(`/v1/sessions/${cronSession}/triggers/${cron.id}`);
      await waitFor('the agent to reply after the restart', async () => {
        const events = await eventsOf(second.client, cronSession);
        return events.some((e) => e.type === 'agent.message' && text(e) === 'Still on duty.') ? true : undefined;
      }, 90_000);

      const replay = await deliver(`${second.server.url}/hooks/${hook.id}`, body, signature);
      assert.equal(replay.status, 409, 'a delivery accepted before the restart is still a replay');
      const fresh = await deliver(`${second.server.url}/hooks/${hook.id}`, body, signWebhook(hook.secret!, body, nowS() + 1));
      assert.equal(fresh.status, 202, 'the secret still verifies');
      await second.client.beta.sessions.archive(cronSession);
    });
  });
}
