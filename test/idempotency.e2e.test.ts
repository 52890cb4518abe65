import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { isIdle, readStream, startE2E, type E2E } from './helpers/e2e.js';

/** `Idempotency-Key` on POST /v1/sessions/{id}/events: a retried send is not applied twice. */
for (const backend of TEST_BACKENDS) {
  describe(`idempotent sends (${backend})`, { timeout: 180_000 }, () => {
    let h: E2E;
    let agentId: string;
    let envId: string;

    before(async () => {
      h = await startE2E({ backend });
      agentId = (await h.client.beta.agents.create({ name: 'a', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'e', config: { type: 'cloud' } })).id;
    });
    after(() => h?.close());

    const message = (text: string) => ({ events: [{ type: 'user.message' as const, content: [{ type: 'text' as const, text }] }] });
    const userMessages = async (sessionId: string) => {
      const out = [];
      for await (const e of h.client.beta.sessions.events.list(sessionId)) if (e.type === 'user.message') out.push(e);
      return out;
    };

    it('a retry with the same key and body gets the first answer and runs one turn', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([{ when: 'tools', text: 'once' }]);
      const stream = await h.client.beta.sessions.events.stream(session.id);
      const headers = { 'Idempotency-Key': `send-${session.id}` };
      const first = await h.client.beta.sessions.events.send(session.id, message('hello'), { headers });
      await readStream(stream, isIdle);
      const requestsAfterFirst = h.model.messageRequests().length;
      const retry = await h.client.beta.sessions.events.send(session.id, message('hello'), { headers });
      assert.deepEqual(retry, first);
      assert.equal((await userMessages(session.id)).length, 1);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(h.model.messageRequests().length, requestsAfterFirst, 'the retry started no turn');
    });

    it('concurrent tries with one key apply once', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);
      const headers = { 'Idempotency-Key': `race-${session.id}` };
      const results = await Promise.all(Array.from({ length: 8 }, () => h.client.beta.sessions.events.send(session.id, message('race'), { headers })));
      const ids = new Set(results.map((r) => r.data![0]!.id));
      assert.equal(ids.size, 1, 'every try got the same event');
      assert.equal((await userMessages(session.id)).length, 1);
    });

    it('a key reused for a different request is refused and changes nothing', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);
      const headers = { 'Idempotency-Key': `reuse-${session.id}` };
      await h.client.beta.sessions.events.send(session.id, message('first'), { headers });
      await assert.rejects(
        h.client.beta.sessions.events.send(session.id, message('second'), { headers }),
        (e: unknown) => e instanceof Anthropic.ConflictError && /already used for a different request/.test((e as Error).message),
      );
      assert.deepEqual((await userMessages(session.id)).map((e) => (e.content[0] as { text: string }).text), ['first']);
      await assert.rejects(
        h.client.beta.sessions.events.send(session.id, message('x'), { headers: { 'Idempotency-Key': 'has space' } }),
        Anthropic.BadRequestError,
      );
    });
  });
}
