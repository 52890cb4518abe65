import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import { startE2E, waitFor, type E2E } from './helpers/e2e.js';

type Runtime = { sandbox_state: string; warm_start?: boolean };
type PoolStatus = { ready: number; starting: number; target: number };
const runtimeOf = (s: unknown) => (s as { runtime: Runtime }).runtime;

/**
 * Warm pools end to end with the real CLI in bwrap: sandboxes with Claude
 * Code started before any session asks, handed out once, refilled, kept per
 * workspace, counted against the live-session quota, and emptied when idle.
 */
describe('warm pools (sqlite, bwrap)', { timeout: 240_000 }, () => {
  let h: E2E;

  before(async () => {
    h = await startE2E({
      backend: 'sqlite',
      reaperIntervalMs: 200,
      env: { AGENTHOST_WARM_POOL_MAX: '2', AGENTHOST_MAX_LIVE_SESSIONS_PER_WORKSPACE: '3' },
    });
    h.model.setScript([{ when: 'tools', repeat: true, text: 'ready when you are' }]);
  });
  after(() => h?.close());

  async function setup(client: Anthropic, warmPool: Record<string, number>) {
    const agent = await client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await client.beta.environments.create({ name: 'pooled', config: { type: 'cloud', warm_pool: warmPool } as never });
    return { agent, env };
  }

  const pool = async (client: Anthropic, envId: string) =>
    (await client.beta.environments.retrieve(envId) as unknown as { warm_pool_status: PoolStatus }).warm_pool_status;

  const poolReaches = (client: Anthropic, envId: string, want: (p: PoolStatus) => boolean, what: string) =>
    waitFor(what, async () => {
      const p = await pool(client, envId);
      return want(p) ? p : undefined;
    }, 60_000);

  async function runSession(client: Anthropic, agentId: string, envId: string, text: string) {
    const session = await client.beta.sessions.create({
      agent: agentId,
      environment_id: envId,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text }] }],
    });
    return waitFor('the first turn to end', async () => {
      const s = await client.beta.sessions.retrieve(session.id);
      return s.status === 'idle' && runtimeOf(s).sandbox_state === 'live' ? s : undefined;
    }, 60_000);
  }

  async function agentMessages(client: Anthropic, sessionId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of client.beta.sessions.events.list(sessionId)) {
      if (e.type === 'agent.message') out.push(JSON.stringify(e));
    }
    return out;
  }

  it('fills after a creation, hands a warm sandbox to the next one, and refills', async () => {
    const { agent, env } = await setup(h.client, { min: 1, max: 1, idle_timeout_s: 600 });
    assert.deepEqual(await pool(h.client, env.id), { ready: 0, starting: 0, target: 0 }, 'no pool before any demand');
    assert.deepEqual((env.config as unknown as { warm_pool: unknown }).warm_pool, { min: 1, max: 1, idle_timeout_s: 600 });

    const first = await runSession(h.client, agent.id, env.id, 'first');
    assert.equal(runtimeOf(first).warm_start, false, 'nothing was warm for the first session');
    await poolReaches(h.client, env.id, (p) => p.ready === 1, 'the pool to fill');

    const before = h.model.messageRequests().length;
    const second = await runSession(h.client, agent.id, env.id, 'second, from the pool');
    assert.equal(runtimeOf(second).warm_start, true, 'the second session started on a warm sandbox');
    assert.equal((await agentMessages(h.client, second.id)).length, 1);
    // The warm process served this session: its model request carried this session's message and no other.
    const requests = h.model.messageRequests().slice(before).map((r) => JSON.stringify(r.body));
    assert.ok(requests.some((r) => r.includes('second, from the pool')));
    assert.ok(requests.every((r) => !r.includes('"first"')));

    await poolReaches(h.client, env.id, (p) => p.ready === 1, 'the pool to refill');
    await h.client.beta.sessions.delete(first.id);
    await h.client.beta.sessions.delete(second.id);
  });

  it('never hands a warm sandbox to another workspace', async () => {
    const { agent, env } = await setup(h.client, { min: 1, max: 1, idle_timeout_s: 600 });
    const warmed = await runSession(h.client, agent.id, env.id, 'warm up');
    await poolReaches(h.client, env.id, (p) => p.ready === 1, 'the pool to fill');

    // Another tenant with an agent and environment of the same shape.
    const other = await h.newClient('other-tenant');
    const theirs = await setup(other, { min: 1, max: 1, idle_timeout_s: 600 });
    const foreign = await runSession(other, theirs.agent.id, theirs.env.id, 'hello');
    assert.equal(runtimeOf(foreign).warm_start, false);
    assert.deepEqual(await pool(h.client, env.id), { ready: 1, starting: 0, target: 1 }, 'the first workspace keeps its warm sandbox');
    await assert.rejects(other.beta.environments.retrieve(env.id), /not found/i);

    await h.client.beta.sessions.delete(warmed.id);
    await other.beta.sessions.delete(foreign.id);
  });

  it('counts warm sandboxes against the quota, and gives them up for sessions', async () => {
    const client = await h.newClient('quota-tenant');
    const { agent, env } = await setup(client, { min: 3, max: 3, idle_timeout_s: 600 });
    const first = await runSession(client, agent.id, env.id, 'one');
    // Quota 3: one live session leaves room for two warm sandboxes, though the pool wants three.
    const filled = await poolReaches(client, env.id, (p) => p.ready === 2, 'the pool to fill up to the quota');
    assert.deepEqual(filled, { ready: 2, starting: 0, target: 3 });

    // A session the pool cannot serve (another agent) still starts: a warm sandbox makes way.
    const otherAgent = await client.beta.agents.create({ name: 'writer', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const second = await runSession(client, otherAgent.id, env.id, 'two');
    assert.equal(runtimeOf(second).warm_start, false);
    assert.equal((await agentMessages(client, second.id)).length, 1);
    const after = await pool(client, env.id);
    assert.ok(after.ready + after.starting <= 1, `two live sessions leave room for one warm sandbox, saw ${JSON.stringify(after)}`);

    await client.beta.sessions.delete(first.id);
    await client.beta.sessions.delete(second.id);
  });

  it('empties a pool that sees no creations', async () => {
    const client = await h.newClient('idle-tenant');
    const { agent, env } = await setup(client, { min: 1, max: 2, idle_timeout_s: 3 });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    // The creation itself starts filling the pool.
    const filling = await pool(client, env.id);
    assert.equal(filling.target, 1);
    assert.equal(filling.ready + filling.starting, 1);
    await poolReaches(client, env.id, (p) => p.ready === 0 && p.starting === 0 && p.target === 0, 'the idle pool to empty');
    await client.beta.sessions.delete(session.id);
  });
});
