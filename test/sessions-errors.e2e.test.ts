import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { agentTrace, isIdle, processesMatching, readStream, startE2E, text, type E2E } from './helpers/e2e.js';

/**
 * Bad input, end to end: the official client (or plain fetch where the
 * client cannot send the bad input) against a real server. Every failure
 * must carry the right status and client error class, the API's error shape
 * with a message naming the problem, and must leave what is stored as it was.
 * Only the queued-message case runs real Claude Code turns.
 */

type ErrorBody = { type: string; error: { type: string; message: string }; request_id?: string };

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
};

function assertErrorBody(body: unknown, status: number, message: RegExp): void {
  const b = body as ErrorBody;
  assert.equal(b?.type, 'error', `error body: ${JSON.stringify(body)}`);
  assert.equal(b.error?.type, ERROR_TYPES[status], `error type in ${JSON.stringify(body)}`);
  assert.equal(typeof b.error.message, 'string');
  assert.match(b.error.message, message);
}

/** The client call fails with `cls`, `status` and the error shape, and its message matches. */
async function rejectsWith(
  call: Promise<unknown> | (() => Promise<unknown>),
  cls: new (...args: never[]) => APIError,
  status: number,
  message: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught, 'the call should fail');
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  const e = caught as APIError;
  assert.equal(e.status, status);
  assertErrorBody(e.error, status, message);
}

/** A raw response has `status` and the error shape. */
async function fetchFails(res: Response, status: number, message: RegExp): Promise<void> {
  const raw = await res.text();
  assert.equal(res.status, status, `status of ${raw.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assertErrorBody(JSON.parse(raw), status, message);
}

const userMessage = (t: string) => ({ type: 'user.message' as const, content: [{ type: 'text' as const, text: t }] });

for (const backend of TEST_BACKENDS) {
  describe(`session errors end to end (${backend})`, { timeout: 300_000 }, () => {
    let h: E2E;
    let key: string;
    let agentId: string;
    let envId: string;
    /** A session that only ever receives bad input. */
    let probeId: string;

    const headers = (extra: Record<string, string> = {}) => ({
      'content-type': 'application/json',
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'managed-agents-2026-04-01',
      ...extra,
    });

    /** The session without its clock-derived stats, and every event. */
    async function snapshot(id: string): Promise<{ session: Record<string, unknown>; events: unknown[] }> {
      const { stats: _stats, ...session } = (await h.client.beta.sessions.retrieve(id)) as unknown as Record<string, unknown>;
      const events = [];
      for await (const e of h.client.beta.sessions.events.list(id)) events.push(e);
      return { session, events };
    }

    async function allSessionIds(): Promise<string[]> {
      const ids = [];
      for await (const s of h.client.beta.sessions.list({ include_archived: true })) ids.push(s.id);
      return ids.sort();
    }

    /** Runs `fn` and asserts the probe session, its events and the session list did not change. */
    async function changesNothing(fn: () => Promise<void>): Promise<void> {
      const before = await snapshot(probeId);
      const sessionsBefore = await allSessionIds();
      await fn();
      assert.deepEqual(await snapshot(probeId), before, 'the stored session and its events are unchanged');
      assert.deepEqual(await allSessionIds(), sessionsBefore, 'no session was created or removed');
    }

    before(async () => {
      h = await startE2E({ backend, maxTurns: 4 });
      // The E2E client's key, for plain fetch.
      key = h.client.apiKey!;
      agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud' } })).id;
      probeId = (await h.client.beta.sessions.create({ agent: agentId, environment_id: envId, title: 'probe', metadata: { k: 'v' } })).id;
    });
    after(() => h?.close());

    it('GET /healthz works without auth; /v1 needs a valid x-api-key (401)', async () => {
      const health = await fetch(`${h.server.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });

      const { 'x-api-key': _omit, ...noKey } = headers();
      await fetchFails(await fetch(`${h.server.url}/v1/sessions/${probeId}`, { headers: noKey }), 401, /missing API key.*x-api-key/);
      await fetchFails(await fetch(`${h.server.url}/v1/sessions`, { headers: headers({ 'x-api-key': 'sk-ah-not-a-real-key' }) }), 401, /invalid x-api-key/);

      const wrongKey = new Anthropic({ baseURL: h.server.url, apiKey: 'sk-ah-wrong', maxRetries: 0 });
      await rejectsWith(wrongKey.beta.sessions.retrieve(probeId), Anthropic.AuthenticationError, 401, /invalid x-api-key/);
      await changesNothing(async () => {
        await rejectsWith(
          wrongKey.beta.sessions.events.send(probeId, { events: [userMessage('hi')] }),
          Anthropic.AuthenticationError,
          401,
          /invalid x-api-key/,
        );
        await rejectsWith(wrongKey.beta.sessions.create({ agent: agentId, environment_id: envId }), Anthropic.AuthenticationError, 401, /x-api-key/);
      });
    });

    it('malformed JSON bodies are 400 and change nothing', async () => {
      await changesNothing(async () => {
        const bad = '{"events": [ {"type": "user.message", ';
        await fetchFails(
          await fetch(`${h.server.url}/v1/sessions/${probeId}/events`, { method: 'POST', headers: headers(), body: bad }),
          400,
          /not valid JSON/,
        );
        await fetchFails(await fetch(`${h.server.url}/v1/sessions`, { method: 'POST', headers: headers(), body: '{agent: nope}' }), 400, /not valid JSON/);
        await fetchFails(await fetch(`${h.server.url}/v1/sessions/${probeId}`, { method: 'POST', headers: headers(), body: '{"title": ' }), 400, /not valid JSON/);
        // Valid JSON that is not an object, no body at all, and a body that is not JSON.
        const post = (body: string | undefined, extra: Record<string, string> = {}) =>
          fetch(`${h.server.url}/v1/sessions/${probeId}/events`, { method: 'POST', headers: headers(extra), ...(body === undefined ? {} : { body }) });
        await fetchFails(await post('null'), 400, /expected object/);
        await fetchFails(await post('[{"type":"user.message"}]'), 400, /expected object/);
        await fetchFails(await post(undefined), 400, /expected object|empty/);
        // Fastify parses text/plain as a string, which the schema then refuses.
        await fetchFails(await post('events=hi', { 'content-type': 'text/plain' }), 400, /application\/json|expected object, received string/);
      });
    });

    it('unknown fields and wrong field types are 400 naming them, and change nothing', async () => {
      await changesNothing(async () => {
        const send = (body: unknown) => h.client.beta.sessions.events.send(probeId, body as Anthropic.Beta.Sessions.EventSendParams);
        const BR = Anthropic.BadRequestError;
        await rejectsWith(send({ events: [userMessage('hi')], bogus: 1 }), BR, 400, /Unrecognized key.*"bogus"/);
        await rejectsWith(send({ events: [{ ...userMessage('hi'), extra: true }] }), BR, 400, /events\.0: Unrecognized key.*"extra"/);
        await rejectsWith(send({ events: 'x' }), BR, 400, /events: .*expected array/);
        await rejectsWith(send({}), BR, 400, /events: /);
        await rejectsWith(send({ events: [{ type: 'user.message', content: 'hello' }] }), BR, 400, /events\.0\.content: .*expected array/);
        await rejectsWith(send({ events: [{ type: 'user.message', content: [] }] }), BR, 400, /events\.0\.content: .*at least one content block/);
        await rejectsWith(send({ events: [{ type: 'user.message', content: [{ type: 'text', text: 42 }] }] }), BR, 400, /events\.0\.content\.0\.text/);
        await rejectsWith(
          send({ events: [{ type: 'user.tool_confirmation', tool_use_id: 'sevt_x', result: 'maybe' }] }),
          BR,
          400,
          /events\.0\.result: .*"allow"\|"deny"/,
        );

        await rejectsWith(
          h.client.beta.sessions.create({ agent: agentId, environment_id: envId, colour: 'red' } as never),
          BR,
          400,
          /Unrecognized key.*"colour"/,
        );
        await rejectsWith(h.client.beta.sessions.create({ agent: 42, environment_id: envId } as never), BR, 400, /agent/);
        await rejectsWith(h.client.beta.sessions.create({ agent: agentId } as never), BR, 400, /environment_id/);
        await rejectsWith(h.client.beta.sessions.update(probeId, { title: 7 } as never), BR, 400, /title/);
        await rejectsWith(h.client.beta.sessions.update(probeId, { nickname: 'x' } as never), BR, 400, /Unrecognized key.*"nickname"/);
        // A metadata patch that would leave more than 16 keys is refused whole.
        const seventeen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`key${i}`, 'v']));
        await rejectsWith(h.client.beta.sessions.update(probeId, { metadata: seventeen, title: 'renamed' }), BR, 400, /metadata: at most 16 keys/);
      });
    });

    it('an empty events array, an unknown event type and unsupported event types are 400', async () => {
      await changesNothing(async () => {
        const send = (events: unknown) => h.client.beta.sessions.events.send(probeId, { events } as Anthropic.Beta.Sessions.EventSendParams);
        await rejectsWith(send([]), Anthropic.BadRequestError, 400, /events: send at least one event/);
        await rejectsWith(send([{ type: 'user.dance' }]), Anthropic.BadRequestError, 400, /events\.0\.type: expected user\.message, user\.interrupt or user\.tool_confirmation/);
        await rejectsWith(send([{ content: [{ type: 'text', text: 'no type' }] }]), Anthropic.BadRequestError, 400, /events\.0\.type/);
        for (const type of ['user.custom_tool_result', 'user.define_outcome', 'user.tool_result', 'system.message']) {
          await rejectsWith(
            send([{ type, custom_tool_use_id: 'sevt_x', content: [{ type: 'text', text: 'r' }] }]),
            Anthropic.BadRequestError,
            400,
            new RegExp(`events\\.0\\.type: ${type.replace('.', '\\.')} events are not supported`),
          );
        }
        // One bad event fails the whole request: the good one before it is not committed.
        await rejectsWith(send([userMessage('fine'), { type: 'user.dance' }]), Anthropic.BadRequestError, 400, /events\.1\.type/);
      });
    });

    it('an unknown session id is 404 for retrieve, update, archive, delete, events list, send and stream', async () => {
      const missing = 'sesn_0000000000000000000000000000000';
      const NF = Anthropic.NotFoundError;
      const named = new RegExp(`session "${missing}" not found`);
      await changesNothing(async () => {
        await rejectsWith(h.client.beta.sessions.retrieve(missing), NF, 404, named);
        await rejectsWith(h.client.beta.sessions.update(missing, { title: 'x' }), NF, 404, named);
        await rejectsWith(h.client.beta.sessions.archive(missing), NF, 404, named);
        await rejectsWith(h.client.beta.sessions.delete(missing), NF, 404, named);
        await rejectsWith(() => h.client.beta.sessions.events.list(missing), NF, 404, named);
        await rejectsWith(h.client.beta.sessions.events.send(missing, { events: [userMessage('hi')] }), NF, 404, named);
        await rejectsWith(h.client.beta.sessions.events.stream(missing), NF, 404, named);
        await rejectsWith(
          h.client.beta.sessions.events.stream(probeId, {}, { headers: { 'Last-Event-ID': 'sevt_0000000000000000000000000000000' } }),
          NF,
          404,
          /event "sevt_0000000000000000000000000000000" not found/,
        );
      });
    });

    it('an unknown agent or environment on create is 404; an archived one is 400', async () => {
      const NF = Anthropic.NotFoundError;
      const BR = Anthropic.BadRequestError;
      const archivedAgent = (await h.client.beta.agents.create({ name: 'retired', model: 'claude-sonnet-4-5' })).id;
      await h.client.beta.agents.archive(archivedAgent);
      const archivedEnv = (await h.client.beta.environments.create({ name: 'retired', config: { type: 'cloud' } })).id;
      await h.client.beta.environments.archive(archivedEnv);
      await changesNothing(async () => {
        const missingAgent = 'agent_0000000000000000000000000000000';
        const missingEnv = 'env_0000000000000000000000000000000';
        await rejectsWith(h.client.beta.sessions.create({ agent: missingAgent, environment_id: envId }), NF, 404, new RegExp(`agent "${missingAgent}" not found`));
        await rejectsWith(
          h.client.beta.sessions.create({ agent: { type: 'agent', id: missingAgent, version: 1 }, environment_id: envId }),
          NF,
          404,
          new RegExp(`agent "${missingAgent}" not found`),
        );
        await rejectsWith(h.client.beta.sessions.create({ agent: agentId, environment_id: missingEnv }), NF, 404, new RegExp(`environment "${missingEnv}" not found`));
        await rejectsWith(
          h.client.beta.sessions.create({ agent: { type: 'agent', id: agentId, version: 99 }, environment_id: envId }),
          NF,
          404,
          new RegExp(`agent version "${agentId}@99" not found`),
        );
        await rejectsWith(h.client.beta.sessions.create({ agent: archivedAgent, environment_id: envId }), BR, 400, new RegExp(`agent ${archivedAgent} is archived`));
        await rejectsWith(h.client.beta.sessions.create({ agent: agentId, environment_id: archivedEnv }), BR, 400, new RegExp(`environment ${archivedEnv} is archived`));
      });
    });

    it('an invalid budget is 400 on create and update', async () => {
      await changesNothing(async () => {
        for (const amount of ['12.50', '-5', 'ten', '', '01']) {
          await rejectsWith(
            h.client.beta.sessions.create({ agent: agentId, environment_id: envId, budget: { type: 'limit', max_list_cost: { amount, currency: 'USD' } } } as never),
            Anthropic.BadRequestError,
            400,
            /budget\.max_list_cost\.amount: amount is an integer number of cents/,
          );
        }
        await rejectsWith(
          h.client.beta.sessions.update(probeId, { budget: { type: 'limit', max_list_cost: { amount: '1e3', currency: 'USD' } } } as never),
          Anthropic.BadRequestError,
          400,
          /budget\.max_list_cost\.amount/,
        );
        await rejectsWith(
          h.client.beta.sessions.update(probeId, { budget: { type: 'limit', max_list_cost: { amount: '100', currency: 'EUR' } } } as never),
          Anthropic.BadRequestError,
          400,
          /budget\.max_list_cost\.currency/,
        );
      });
    });

    it('a bad page cursor or statuses[] value on a list is 400', async () => {
      await rejectsWith(() => h.client.beta.sessions.list({ page: 'not-a-cursor' }), Anthropic.BadRequestError, 400, /page: "not-a-cursor" is not a cursor this server issued/);
      const forged = Buffer.from(JSON.stringify({ s: -1, d: 'sideways' })).toString('base64url');
      await rejectsWith(() => h.client.beta.sessions.events.list(probeId, { page: forged }), Anthropic.BadRequestError, 400, /page: .* is not a cursor/);
      await rejectsWith(
        () => h.client.beta.sessions.list({ statuses: ['idle', 'sleeping' as 'idle'] }),
        Anthropic.BadRequestError,
        400,
        /statuses: unknown status "sleeping"/,
      );
      // The good values still work.
      const idle = [];
      for await (const s of h.client.beta.sessions.list({ statuses: ['idle'] })) idle.push(s.id);
      assert.ok(idle.includes(probeId));
    });

    it('a body over the 8 MiB limit is 413 with the error shape', async () => {
      await changesNothing(async () => {
        const big = JSON.stringify({ events: [userMessage('x'.repeat(9 * 1024 * 1024))] });
        const res = await fetch(`${h.server.url}/v1/sessions/${probeId}/events`, { method: 'POST', headers: headers(), body: big });
        await fetchFails(res, 413, /larger than this server accepts|too large/);
        const res2 = await fetch(`${h.server.url}/v1/sessions`, {
          method: 'POST',
          headers: headers(),
          body: JSON.stringify({ agent: agentId, environment_id: envId, title: 'big', metadata: { pad: 'y'.repeat(9 * 1024 * 1024) } }),
        });
        await fetchFails(res2, 413, /larger than this server accepts|too large/);
      });
      // The server still works afterwards.
      assert.equal((await h.client.beta.sessions.retrieve(probeId)).id, probeId);
    });

    it('a confirmation for a tool that is not waiting is 409', async () => {
      await changesNothing(async () => {
        await rejectsWith(
          h.client.beta.sessions.events.send(probeId, { events: [{ type: 'user.tool_confirmation', tool_use_id: 'sevt_not_waiting', result: 'allow' }] }),
          Anthropic.ConflictError,
          409,
          /tool use sevt_not_waiting is not waiting for a confirmation/,
        );
        // Nothing of a mixed request is committed either.
        await rejectsWith(
          h.client.beta.sessions.events.send(probeId, {
            events: [userMessage('and this?'), { type: 'user.tool_confirmation', tool_use_id: 'sevt_not_waiting', result: 'deny' }],
          }),
          Anthropic.ConflictError,
          409,
          /not waiting/,
        );
      });
    });

    it('an archived (terminated) session refuses events and changes with 409', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      const archived = await h.client.beta.sessions.archive(session.id);
      assert.equal(archived.status, 'terminated');
      assert.ok(archived.archived_at);
      const { stats: _s, ...before } = (await h.client.beta.sessions.retrieve(session.id)) as unknown as Record<string, unknown>;
      const eventsBefore = [];
      for await (const e of h.client.beta.sessions.events.list(session.id)) eventsBefore.push(e);
      assert.deepEqual(
        eventsBefore.map((e) => e.type),
        ['session.status_terminated'],
      );

      const CE = Anthropic.ConflictError;
      await rejectsWith(h.client.beta.sessions.events.send(session.id, { events: [userMessage('hello?')] }), CE, 409, new RegExp(`session ${session.id} is archived; it accepts no more events`));
      await rejectsWith(h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] }), CE, 409, /archived/);
      await rejectsWith(
        h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: 'sevt_x', result: 'allow' }] }),
        CE,
        409,
        /archived/,
      );
      await rejectsWith(h.client.beta.sessions.update(session.id, { title: 'renamed' }), CE, 409, new RegExp(`session ${session.id} is archived and cannot be changed`));

      const { stats: _s2, ...afterward } = (await h.client.beta.sessions.retrieve(session.id)) as unknown as Record<string, unknown>;
      assert.deepEqual(afterward, before);
      const eventsAfter = [];
      for await (const e of h.client.beta.sessions.events.list(session.id)) eventsAfter.push(e);
      assert.deepEqual(eventsAfter, eventsBefore);
      assert.equal((afterward.runtime as { sandbox_state: string }).sandbox_state, 'destroyed');
      assert.deepEqual(await processesMatching(session.id), []);
    });

    it('a session that only ever got bad input never started a sandbox', async () => {
      const probe = await h.client.beta.sessions.retrieve(probeId);
      assert.equal(probe.status, 'idle');
      assert.equal(probe.title, 'probe');
      assert.deepEqual(probe.metadata, { k: 'v' });
      assert.equal(probe.budget, null);
      assert.deepEqual(probe.usage.output_tokens, 0);
      const runtime = (probe as unknown as { runtime: { sandbox_state: string; cli_version: string | null } }).runtime;
      assert.equal(runtime.sandbox_state, 'destroyed');
      assert.equal(runtime.cli_version, null);
      const events = [];
      for await (const e of h.client.beta.sessions.events.list(probeId)) events.push(e);
      assert.deepEqual(events, [], 'no bad request left an event behind');
      assert.deepEqual(await processesMatching(probeId), [], 'no process runs for the probe session');
      assert.equal(h.model.messageRequests().length, 0, 'no request reached the model');
    });

    it('a message sent while a turn runs is queued and runs as its own turn after it', async () => {
      // LiveSession.enqueue queues content while a turn is active; endTurn starts the next turn with it.
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([
        { when: 'tools', match: 'first question', text: 'first answer', delayMs: 300 },
        { when: 'tools', match: 'second question', text: 'second answer' },
      ]);
      const stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [userMessage('first question')] });
      await h.client.beta.sessions.events.send(session.id, { events: [userMessage('second question')] });
      let idles = 0;
      const events = await readStream(stream, (e) => isIdle(e) && ++idles === 2);

      assert.deepEqual(
        events.filter((e) => e.type === 'user.message').map(text),
        ['first question', 'second question'],
        'both messages are committed, in order',
      );
      assert.deepEqual(agentTrace(events), ['agent.message', 'session.status_idle', 'agent.message', 'session.status_idle']);
      assert.deepEqual(events.filter((e) => e.type === 'agent.message').map(text), ['first answer', 'second answer']);
      for (const idle of events.filter(isIdle)) assert.deepEqual(idle.stop_reason, { type: 'end_turn' });
      const types = events.map((e) => e.type);
      const firstIdle = types.indexOf('session.status_idle');
      assert.ok(types.indexOf('session.status_running', firstIdle) > firstIdle, 'the queued message starts a second turn after the first ends');
      assert.ok(types.indexOf('user.message', 1) < firstIdle, 'the second message is committed while the first turn runs');

      const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
      assert.equal(main.length, 2, 'one model request per turn');
      assert.match(JSON.stringify(main[1]!.body), /first answer/, 'the second turn sees the first answer');
      const done = await h.client.beta.sessions.retrieve(session.id);
      assert.equal(done.status, 'idle');
      assert.equal((done as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state, 'live');
    });

    it('a model request the upstream refuses ends the turn with a model error and retries_exhausted; the next turn works', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([{ when: 'tools', error: { status: 400, type: 'invalid_request_error', message: 'scripted refusal 7f3a' }, repeat: true }]);
      const stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [userMessage('refuse this')] });
      const events = await readStream(stream, isIdle);
      const error = events.find((e) => e.type === 'session.error') as { error: { type: string; message: string; retry_status: { type: string } } } | undefined;
      assert.ok(error, `a session.error: ${events.map((e) => e.type).join(', ')}`);
      assert.equal(error.error.type, 'model_request_failed_error');
      assert.match(error.error.message, /status 400.*scripted refusal 7f3a/);
      assert.deepEqual(error.error.retry_status, { type: 'terminal' });
      assert.deepEqual(events.at(-1)!.stop_reason, { type: 'retries_exhausted' });

      h.model.setScript([{ when: 'tools', text: 'shorter works' }]);
      const next = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [userMessage('shorter')] });
      const after = await readStream(next, isIdle);
      assert.deepEqual(after.at(-1)!.stop_reason, { type: 'end_turn' });
      assert.equal(text(after.find((e) => e.type === 'agent.message')!), 'shorter works');
    });
  });
}

