import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { REHEARSAL_PROMPT } from '../src/agent/live-session.js';
import { TranscriptStore } from '../src/store/session-store.js';
import { startE2E, waitFor, type E2E } from './helpers/e2e.js';

type Runtime = { sandbox_state: string; warm_start?: boolean };
type PoolStatus = { ready: number; starting: number; target: number };
const runtimeOf = (s: unknown) => (s as { runtime: Runtime }).runtime;

/**
 * Warm pools end to end with the real CLI in bwrap: sandboxes with Claude
 * Code started before any session asks, handed out once (at creation, with
 * or without initial events), refilled, kept per workspace, counted against
 * the live-session quota, and emptied when idle; standby sessions (a warm
 * sandbox, no message yet) give way under the quota and are reaped.
 */
describe('warm pools (sqlite, bwrap)', { timeout: 600_000 }, () => {
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

  async function setup(client: Anthropic, warmPool: Record<string, number>, config: Record<string, unknown> = {}) {
    const agent = await client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await client.beta.environments.create({ name: 'pooled', config: { type: 'cloud', warm_pool: warmPool, ...config } as never });
    return { agent, env };
  }

  const pool = async (client: Anthropic, envId: string) =>
    (await client.beta.environments.retrieve(envId) as unknown as { warm_pool_status: PoolStatus }).warm_pool_status;

  const poolReaches = (client: Anthropic, envId: string, want: (p: PoolStatus) => boolean, what: string) =>
    waitFor(what, async () => {
      const p = await pool(client, envId);
      return want(p) ? p : undefined;
    }, 60_000);

  /** An agent, and an environment whose pool one creation without a message has filled. */
  async function filledPool(client: Anthropic, config: Record<string, unknown>) {
    const { agent, env } = await setup(client, { min: 1, max: 1, idle_timeout_s: 600 }, config);
    const opener = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await poolReaches(client, env.id, (p) => p.ready === 1, 'the pool to fill');
    return { agent, env, opener };
  }

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

  it('rehearses the first turn of a warm sandbox with the gateway; the session starts a fresh conversation', async () => {
    // A workspace of its own: its pools must not take the quota of the others' tests.
    const client = await h.newClient('rehearsal-tenant');
    const { agent, env } = await setup(client, { min: 1, max: 1, idle_timeout_s: 600 });
    const opener = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await poolReaches(client, env.id, (p) => p.ready === 1, 'the pool to fill');
    const rehearsed = (r: { body: unknown }) => JSON.stringify(r.body).includes(REHEARSAL_PROMPT);
    assert.equal(h.model.messageRequests().filter(rehearsed).length, 0, 'no rehearsal reached the upstream model');

    const before = h.model.messageRequests().length;
    const session = await runSession(client, agent.id, env.id, 'the real first message');
    assert.equal(runtimeOf(session).warm_start, true);
    const requests = h.model.messageRequests().slice(before).map((r) => JSON.stringify(r.body));
    const own = requests.filter((r) => r.includes('the real first message'));
    assert.equal(own.length, 1, 'one model request for a one-reply turn');
    assert.ok(!own[0]!.includes(REHEARSAL_PROMPT), 'the rehearsed turn is not in the conversation');
    assert.ok(!own[0]!.includes('ready when you are'), 'nor any reply before this one');
    assert.ok(own[0]!.includes('<command-name>/clear</command-name>'), 'the conversation opens with the record of the /clear');

    // One conversation, the session's, both in the store and in its config dir.
    const stored = (await h.server.store.listSessionsByStatus(['idle'])).find((s) => s.id === session.id);
    const conversation = (stored!.body.internal as { claude_session_id: string }).claude_session_id;
    assert.deepEqual((await new TranscriptStore(h.server.store).listSessions(session.id)).map((t) => t.sessionId), [conversation]);
    const local = await readdir(join(h.dataDir, 'sessions', session.id, 'claude', 'projects', session.id));
    assert.deepEqual(local.filter((f) => f.endsWith('.jsonl')), [`${conversation}.jsonl`]);

    // `rehearse: false`: warm sandboxes wait as started, and the conversation has no /clear in it.
    const plain = await client.beta.environments.create({ name: 'unrehearsed', config: { type: 'cloud', warm_pool: { min: 1, max: 1, rehearse: false } } as never });
    assert.deepEqual((plain.config as unknown as { warm_pool: unknown }).warm_pool, { min: 1, max: 1, rehearse: false });
    const plainOpener = await client.beta.sessions.create({ agent: agent.id, environment_id: plain.id });
    await poolReaches(client, plain.id, (p) => p.ready === 1, 'the unrehearsed pool to fill');
    const plainBefore = h.model.messageRequests().length;
    const unrehearsed = await runSession(client, agent.id, plain.id, 'no rehearsal here');
    assert.equal(runtimeOf(unrehearsed).warm_start, true);
    const first = h.model.messageRequests().slice(plainBefore).map((r) => JSON.stringify(r.body)).find((r) => r.includes('no rehearsal here'));
    assert.ok(first && !first.includes('/clear'));

    for (const s of [opener, session, plainOpener, unrehearsed]) await client.beta.sessions.delete(s.id);
  });

  it('a rehearsed session hibernates and resumes its own conversation', async () => {
    const client = await h.newClient('rehearsal-resume-tenant');
    const { agent, env, opener } = await filledPool(client, { lifecycle: { pattern: 'hybrid', idle_timeout_s: 1 } });
    const session = await runSession(client, agent.id, env.id, 'remember the word heliotrope');
    assert.equal(runtimeOf(session).warm_start, true);
    await waitFor('the session to hibernate', async () => ((await sandboxState(client, session.id)) === 'hibernated' ? true : undefined), 60_000);

    const before = h.model.messageRequests().length;
    await send(client, session.id, 'which word?');
    await turnEnded(client, session.id, 2);
    const resumed = h.model.messageRequests().slice(before).map((r) => JSON.stringify(r.body)).find((r) => r.includes('which word?'));
    assert.ok(resumed, 'the resumed turn reached the model');
    assert.ok(resumed.includes('remember the word heliotrope'), 'with the first turn in its conversation');
    assert.ok(!resumed.includes(REHEARSAL_PROMPT), 'and not the rehearsal');
    for (const s of [opener, session]) await client.beta.sessions.delete(s.id);
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

  async function send(client: Anthropic, sessionId: string, text: string) {
    await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
  }

  /** The session once `turns` turns have ended (it may have hibernated since: the idle clock may be short). */
  const turnEnded = (client: Anthropic, sessionId: string, turns: number) =>
    waitFor('the turn to end', async () => {
      if ((await agentMessages(client, sessionId)).length < turns) return undefined;
      const s = await client.beta.sessions.retrieve(sessionId);
      return s.status === 'idle' ? s : undefined;
    }, 60_000);

  const sandboxState = async (client: Anthropic, sessionId: string) => runtimeOf(await client.beta.sessions.retrieve(sessionId)).sandbox_state;

  it('a session created without initial events takes a warm sandbox and starts on it at its first message', async () => {
    const client = await h.newClient('standby-tenant');
    const { agent, env } = await setup(client, { min: 1, max: 1, idle_timeout_s: 600 });
    const opener = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    assert.equal(runtimeOf(opener).sandbox_state, 'destroyed', 'nothing was warm for the first creation');
    await poolReaches(client, env.id, (p) => p.ready === 1, 'the pool to fill');

    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    assert.equal(runtimeOf(session).sandbox_state, 'standby', 'created without a message, it holds the warm sandbox');
    const before = h.model.messageRequests().length;
    await send(client, session.id, 'sent after create');
    const done = await turnEnded(client, session.id, 1);
    assert.equal(runtimeOf(done).warm_start, true, 'its first message ran on the warm process');
    const requests = h.model.messageRequests().slice(before).map((r) => JSON.stringify(r.body));
    assert.ok(requests.some((r) => r.includes('sent after create')));

    await client.beta.sessions.delete(opener.id);
    await client.beta.sessions.delete(session.id);
  });

  it('a standby session gives way to a session that needs the room, and starts cold later', async () => {
    // Quota 3: a standby session, an unclaimed warm sandbox, and sessions in an environment without a pool.
    const client = await h.newClient('give-way-tenant');
    const { agent, env } = await setup(client, { min: 1, max: 1, idle_timeout_s: 600 });
    const cold = await client.beta.environments.create({ name: 'cold', config: { type: 'cloud', warm_pool: { max: 0 } } as never });
    const opener = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await poolReaches(client, env.id, (p) => p.ready === 1, 'the pool to fill');
    const standby = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    assert.equal(runtimeOf(standby).sandbox_state, 'standby');
    await poolReaches(client, env.id, (p) => p.ready === 1, 'the pool to refill next to the standby session');

    const one = await runSession(client, agent.id, cold.id, 'one');
    const two = await runSession(client, agent.id, cold.id, 'two');
    assert.equal(await sandboxState(client, standby.id), 'standby', 'an unclaimed warm sandbox gives way first');
    assert.deepEqual(await pool(client, env.id), { ready: 0, starting: 0, target: 1 });
    const three = await runSession(client, agent.id, cold.id, 'three');
    assert.equal(await sandboxState(client, standby.id), 'destroyed', 'then the standby session');

    // It holds nothing now: at the quota, its first message is refused like any other session's.
    const refused = await send(client, standby.id, 'too soon').then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
    await client.beta.sessions.archive(one.id);
    const before = h.model.messageRequests().length;
    await send(client, standby.id, 'back again');
    const done = await turnEnded(client, standby.id, 1);
    assert.equal(runtimeOf(done).warm_start, false, 'it started cold, under the id it was created with');
    assert.ok(h.model.messageRequests().slice(before).some((r) => JSON.stringify(r.body).includes('back again')));

    for (const s of [opener, standby, two, three]) await client.beta.sessions.delete(s.id);
  });

  it('discards a standby sandbox whose first message does not come within the idle timeout', async () => {
    const client = await h.newClient('reap-tenant');
    // The environment's idle timeout (1 s) is shorter than the pool's (600 s): it bounds the wait.
    const { agent, env, opener } = await filledPool(client, { lifecycle: { pattern: 'hybrid', idle_timeout_s: 1 } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    assert.equal(runtimeOf(session).sandbox_state, 'standby');
    await waitFor('the standby sandbox to be discarded', async () => ((await sandboxState(client, session.id)) === 'destroyed' ? true : undefined), 60_000);
    const idle = await client.beta.sessions.retrieve(session.id);
    assert.equal(idle.status, 'idle');

    await send(client, session.id, 'late');
    const done = await turnEnded(client, session.id, 1);
    assert.equal(runtimeOf(done).warm_start, false);
    await client.beta.sessions.delete(opener.id);
    await client.beta.sessions.delete(session.id);
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
