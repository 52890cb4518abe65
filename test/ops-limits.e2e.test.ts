import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { metricSum, parseMetrics, runTurn, startOps, type OpsServer } from './ops-helpers.js';

const runtimeOf = (s: unknown) => (s as { runtime: { sandbox_state: string; warm_start?: boolean } }).runtime;

/**
 * Limits over plain HTTP and the official client: body size (413), request
 * rate per key, event streams per key and live sessions per workspace (429
 * with retry-after), and a flood the server rides out.
 */
describe('limits', { timeout: 300_000 }, () => {
  let h: OpsServer;

  before(async () => {
    h = await startOps({
      backend: 'sqlite',
      env: {
        AGENTHOST_BODY_LIMIT: '65536',
        AGENTHOST_RATE_LIMIT_RPS: '20',
        AGENTHOST_RATE_LIMIT_BURST: '20',
        AGENTHOST_MAX_STREAMS_PER_KEY: '2',
        AGENTHOST_MAX_LIVE_SESSIONS_PER_WORKSPACE: '1',
        // The quota test counts warm sandboxes: one pooled, then held by a standby session.
        AGENTHOST_WARM_POOL_MAX: '2',
      },
    });
  });
  after(() => h?.close());

  const get = (path: string, key: string) => fetch(`${h.server.url}${path}`, { headers: { 'x-api-key': key } });

  it('a body over AGENTHOST_BODY_LIMIT gets 413 in the API error shape', async () => {
    const { client, key } = await h.newClient('big');
    const system = 'x'.repeat(70_000);
    const res = await fetch(`${h.server.url}/v1/agents`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'big', model: 'claude-sonnet-4-5', system }),
    });
    assert.equal(res.status, 413);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'request_too_large');
    const error = await client.beta.agents.create({ name: 'big', model: 'claude-sonnet-4-5', system }).then(() => null, (e: unknown) => e);
    assert.ok(error instanceof Anthropic.APIError && error.status === 413, String(error));
    assert.equal((await client.beta.agents.list()).data.length, 0, 'nothing was stored');
  });

  it('a key over its rate gets 429 with retry-after; other keys are unaffected; it recovers', async () => {
    const { client, key } = await h.newClient('rate');
    const other = await h.newClient('rate-other');
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 25; i++) {
      const res = await get('/v1/agents', key);
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
      else await res.arrayBuffer();
    }
    assert.ok(statuses.slice(0, 20).every((s) => s === 200), `the burst passes: ${statuses.join(',')}`);
    assert.ok(statuses.includes(429));
    assert.ok(Number(refused!.headers.get('retry-after')) >= 1);
    const body = (await refused!.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'rate_limit_error');
    assert.match(body.error.message, /20 requests a second/);
    assert.ok(body.request_id);
    // The official client raises its class for it. The bucket refills a token every 50 ms, so
    // by now it may hold one: the client asks until refused, as a client over its rate would.
    let clientError: unknown;
    for (let i = 0; i < 40 && !clientError; i++) clientError = await client.beta.agents.list().then(() => undefined, (e: unknown) => e);
    assert.ok(clientError instanceof Anthropic.RateLimitError, String(clientError));
    assert.equal((await get('/v1/agents', other.key)).status, 200);
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await get('/v1/agents', key)).status, 200);
    // Health and metrics are outside the keyed scope.
    assert.equal((await fetch(`${h.server.url}/healthz`)).status, 200);
  });

  it('a key may hold a limited number of event streams', async () => {
    const { client, key } = await h.newClient('streams');
    const agent = await client.beta.agents.create({ name: 's', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await client.beta.environments.create({ name: 's', config: { type: 'cloud' } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const one = await client.beta.sessions.events.stream(session.id);
    const two = await client.beta.sessions.events.stream(session.id);
    const third = await get(`/v1/sessions/${session.id}/events/stream`, key);
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.match(((await third.json()) as { error: { message: string } }).error.message, /already has 2 open event streams/);
    one.controller.abort();
    await new Promise((r) => setTimeout(r, 200));
    const again = await client.beta.sessions.events.stream(session.id);
    again.controller.abort();
    two.controller.abort();
  });

  it('a workspace may hold a limited number of live sessions; a standby session gives way', async () => {
    const { client } = await h.newClient('quota');
    const agent = await client.beta.agents.create({ name: 'q', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    // Warm pools are on (AGENTHOST_WARM_POOL_MAX above): the first creation starts a warm sandbox, the second takes it.
    const env = await client.beta.environments.create({ name: 'q', config: { type: 'cloud' } });
    const first = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const second = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    assert.equal(runtimeOf(first).sandbox_state, 'destroyed');
    assert.equal(runtimeOf(second).sandbox_state, 'standby', 'the second session holds the warm sandbox, the quota of one');
    h.model.setScript([{ when: 'tools', text: 'one', repeat: true }]);
    await runTurn(client, first.id, 'hello');
    // Its first message had not come: its sandbox went so that the first session could start.
    assert.equal(runtimeOf(await client.beta.sessions.retrieve(second.id)).sandbox_state, 'destroyed');
    assert.equal(runtimeOf(await client.beta.sessions.retrieve(first.id)).sandbox_state, 'live');
    // The live session itself may go on.
    await runTurn(client, first.id, 'again');
    const refused = await client.beta.sessions.events
      .send(second.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] })
      .then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
    assert.match(refused.message, /already has 1 live sessions, its quota/);
    assert.equal(refused.headers?.get('retry-after'), '10');
    await client.beta.sessions.archive(first.id);
    const events = await runTurn(client, second.id, 'now');
    assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
    assert.equal(runtimeOf(await client.beta.sessions.retrieve(second.id)).warm_start, false, 'it started cold, under the id it was created with');
    await client.beta.sessions.archive(second.id);
  });

  it('under a flood of requests the server answers 429s and stays healthy', async () => {
    const { key } = await h.newClient('flood');
    const counts = new Map<number, number>();
    const healthMs: number[] = [];
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const started = performance.now();
        const res = await fetch(`${h.server.url}/healthz`);
        await res.arrayBuffer();
        healthMs.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let sent = 0;
    const worker = async () => {
      while (sent < 2_000) {
        sent++;
        const res = await get('/v1/agents?limit=1', key);
        await res.arrayBuffer();
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    stop = true;
    await probe;
    assert.deepEqual([...counts.keys()].sort(), [200, 429], `only 200 and 429: ${JSON.stringify([...counts])}`);
    assert.ok(counts.get(429)! > 1_500, `most were refused: ${JSON.stringify([...counts])}`);
    healthMs.sort((a, b) => a - b);
    assert.ok(healthMs.length > 3);
    assert.ok(healthMs[Math.floor(healthMs.length / 2)]! < 250, `health stays responsive: median ${healthMs[Math.floor(healthMs.length / 2)]} ms`);
    assert.equal((await fetch(`${h.server.url}/readyz`)).status, 200);
    const metrics = parseMetrics(await (await fetch(`${h.server.url}/metrics`)).text());
    assert.ok(metricSum(metrics, 'agenthost_limited_requests_total', { limit: 'rate' }) >= counts.get(429)!);
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await get('/v1/agents', key)).status, 200);
  });
});
