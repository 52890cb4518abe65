import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { Store } from '../src/store/index.js';
import { podmanMissing, startTestEngine, type TestEngine } from '../src/sandbox/docker/podman-service.js';
import { agentTrace, isIdle, providerUnavailable, readStream, startE2E, text, waitFor, type AnyEvent, type E2E } from './helpers/e2e.js';

type Runtime = { sandbox_state: string; pattern: string };
const runtimeOf = (s: unknown) => (s as { runtime: Runtime }).runtime;

async function turnIn(h: E2E, sessionId: string, message: string): Promise<AnyEvent[]> {
  const stream = await h.client.beta.sessions.events.stream(sessionId);
  await h.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
  return readStream(stream, isIdle);
}

const environmentIn = (h: E2E, lifecycle: Record<string, unknown>) =>
  h.client.beta.environments.create({ name: `env-${String(lifecycle.pattern)}`, config: { type: 'cloud', lifecycle } as never });

const hibernated = (h: E2E, sessionId: string) =>
  waitFor(`${sessionId} to hibernate`, async () => {
    const s = await h.client.beta.sessions.retrieve(sessionId);
    return runtimeOf(s).sandbox_state === 'hibernated' ? s : undefined;
  });

/**
 * The hybrid pattern on any provider: files and the whole conversation
 * survive hibernation, and so does what the resumed process added (its
 * transcript is written into the session's config dir for the sandbox user
 * before the sandbox starts, and mirrored from there).
 */
async function hibernatesAndResumes(h: E2E, agentId: string): Promise<void> {
  const e = await environmentIn(h, { pattern: 'hybrid', idle_timeout_s: 1 });
  const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
  assert.equal(runtimeOf(session).pattern, 'hybrid');

  h.model.setScript([
    { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo PAPAYA > notes.txt' } } },
    { when: 'tools', text: 'noted the fruit' },
  ]);
  await turnIn(h, session.id, 'remember a fruit');
  assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_state, 'live');

  await hibernated(h, session.id);
  assert.equal((await h.client.beta.sessions.retrieve(session.id)).status, 'idle');

  h.model.setScript([
    { when: 'tools', tool_use: { name: 'Bash', input: { command: 'cat notes.txt' } } },
    { when: 'tools', text: 'it was papaya' },
  ]);
  const events = await turnIn(h, session.id, 'which fruit?');
  assert.deepEqual(agentTrace(events), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
  assert.match(text(events.find((e) => e.type === 'agent.tool_result')!), /PAPAYA/);
  const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
  assert.match(JSON.stringify((main.at(-1)!.body as { messages: unknown }).messages), /noted the fruit/, 'history survives hibernation');
  assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_state, 'live');

  // What the resumed process adds is kept too: a second hibernation loses neither turn.
  await hibernated(h, session.id);
  h.model.setScript([{ when: 'tools', text: 'papaya, still' }]);
  await turnIn(h, session.id, 'and now?');
  const third = JSON.stringify((h.model.messageRequests().at(-1)!.body as { messages: unknown }).messages);
  for (const said of ['remember a fruit', 'noted the fruit', 'which fruit?', 'it was papaya']) assert.ok(third.includes(said), `the conversation after two hibernations has "${said}"`);
}

/**
 * Deployment patterns and the turn-aware idle clock, end to end with the real
 * CLI in bwrap. Idle timeouts are seconds here so the reaper acts quickly.
 */
describe('lifecycle patterns (sqlite, bwrap)', { timeout: 300_000 }, () => {
  let h: E2E;
  let agentId: string;

  before(async () => {
    h = await startE2E({ backend: 'sqlite', reaperIntervalMs: 200 });
    agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });
  after(() => h?.close());

  const turn = (sessionId: string, message: string) => turnIn(h, sessionId, message);
  const env = (lifecycle: Record<string, unknown>) => environmentIn(h, lifecycle);

  it('hybrid: hibernates when idle, then resumes with files and history intact, twice', () => hibernatesAndResumes(h, agentId));

  it('the idle clock does not run during a tool longer than the idle timeout', async () => {
    const e = await env({ pattern: 'hybrid', idle_timeout_s: 1 });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: `timeout 3.${Date.now() % 1000} tail -f /dev/null; echo tool-finished` } } },
      { when: 'tools', text: 'finished' },
    ]);
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'wait' }] }] });
    const states: string[] = [];
    const poll = setInterval(() => {
      void h.client.beta.sessions.retrieve(session.id).then((s) => states.push(runtimeOf(s).sandbox_state));
    }, 250);
    const events = await readStream(stream, isIdle).finally(() => clearInterval(poll));
    assert.match(text(events.find((e) => e.type === 'agent.tool_result')!), /tool-finished/);
    assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
    assert.ok(!states.includes('hibernated'), `hibernated mid-turn: ${states.join(',')}`);
  });

  it('ephemeral: the task runs, then the sandbox goes and the session ends terminated', async () => {
    const e = await env({ pattern: 'ephemeral' });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'mkdir -p outputs && echo result > outputs/report.txt' } } },
      { when: 'tools', text: 'task done' },
    ]);
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: e.id,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'do the task' }] }],
    });
    const done = await waitFor('termination', async () => {
      const s = await h.client.beta.sessions.retrieve(session.id);
      return s.status === 'terminated' ? s : undefined;
    }, 60_000);
    assert.equal(runtimeOf(done).sandbox_state, 'destroyed');
    assert.equal(runtimeOf(done).pattern, 'ephemeral');
    const events = [];
    for await (const ev of h.client.beta.sessions.events.list(session.id)) events.push(ev);
    assert.equal(events.at(-1)!.type, 'session.status_terminated');
    assert.ok(events.some((ev) => ev.type === 'agent.message'));
    await assert.rejects(
      h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'more' }] }] }),
      Anthropic.ConflictError,
    );
  });

  it('long_running: the sandbox stays up between turns', async () => {
    const e = await env({ pattern: 'long_running' });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    h.model.setScript([{ when: 'tools', text: 'hello' }]);
    await turn(session.id, 'hi');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_state, 'live');
    // Sessions of a long-running environment live in its shared workspace, each in its own directory.
    assert.equal(existsSync(join(h.dataDir, 'environments', e.id, 'workspace', session.id)), true);
  });

  it('shared: two agents in one workspace cannot clobber each other’s file', async () => {
    const e = await env({ pattern: 'shared' });
    const a = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'A' });
    const b = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'B' });
    const workspace = join(h.dataDir, 'environments', e.id, 'workspace');
    const board = join(workspace, 'shared', 'board.md');
    const hold = `timeout 6.${Date.now() % 1000} tail -f /dev/null`;
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Write', input: { file_path: board, content: 'A was here\n' } } },
      { when: 'tools', tool_use: { name: 'Bash', input: { command: hold } } },
      { when: 'tools', tool_use: { name: 'Read', input: { file_path: board } } },
      { when: 'tools', tool_use: { name: 'Write', input: { file_path: board, content: 'B was here\n' } } },
      { when: 'tools', text: 'B saw the lock' },
      { when: 'tools', text: 'A done' },
      { when: 'tools', tool_use: { name: 'Write', input: { file_path: board, content: 'B was here\n' } } },
      { when: 'tools', text: 'B wrote it' },
    ]);

    const streamA = await h.client.beta.sessions.events.stream(a.id);
    await h.client.beta.sessions.events.send(a.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'A: write the board' }] }] });
    const aEvents: AnyEvent[] = [];
    const aDone = readStream(streamA, (ev, seen) => {
      aEvents.push(ev);
      return isIdle(ev) && seen.some((x) => x.type === 'agent.message');
    });
    await waitFor('A holding the board', async () => (aEvents.some((ev) => ev.type === 'agent.tool_use' && ev.name === 'bash') ? true : undefined));
    assert.equal(await import('node:fs/promises').then((fs) => fs.readFile(board, 'utf8')), 'A was here\n');

    const bEvents = await turn(b.id, 'B: write the board');
    const refused = bEvents.filter((ev) => ev.type === 'agent.tool_result').at(-1)!;
    assert.equal(refused.is_error, true);
    assert.match(text(refused), /being written by another agent/);
    assert.match(text(refused), new RegExp(a.id));
    await aDone;
    assert.equal(await import('node:fs/promises').then((fs) => fs.readFile(board, 'utf8')), 'A was here\n', 'B did not overwrite A');

    const again = await turn(b.id, 'B: try again');
    assert.equal(again.filter((ev) => ev.type === 'agent.tool_result').at(-1)!.is_error, false);
    assert.equal(await import('node:fs/promises').then((fs) => fs.readFile(board, 'utf8')), 'B was here\n');
    assert.ok(existsSync(join(workspace, a.id)) && existsSync(join(workspace, b.id)), 'each agent has its own directory');
    assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(b.id)).pattern, 'shared');
  });

  it('a session waiting for a confirmation hibernates; the confirmation restores it and the tool runs once', async () => {
    const careful = await h.client.beta.agents.create({
      name: 'careful',
      model: 'claude-sonnet-4-5',
      tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
    });
    const e = await env({ pattern: 'hybrid', idle_timeout_s: 1 });
    const session = await h.client.beta.sessions.create({ agent: careful.id, environment_id: e.id });
    const command = 'echo once >> ran.txt';
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command } } },
      { when: 'tools', match: 'approved your bash call', tool_use: { name: 'Bash', input: { command } } },
      { when: 'tools', text: 'ran it' },
    ]);
    const asked = await turn(session.id, 'append to ran.txt');
    const ask = asked.find((ev) => ev.type === 'agent.tool_use')!;
    assert.deepEqual(asked.at(-1)!.stop_reason, { type: 'requires_action', event_ids: [ask.id] });

    await waitFor('hibernation while waiting', async () => {
      const s = await h.client.beta.sessions.retrieve(session.id);
      return runtimeOf(s).sandbox_state === 'hibernated' ? s : undefined;
    });
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask.id, result: 'allow' }] });
    const after = await readStream(stream, (ev, seen) => isIdle(ev) && seen.some((x) => x.type === 'agent.message'));
    assert.deepEqual(after.at(-1)!.stop_reason, { type: 'end_turn' });
    assert.equal(text(after.find((ev) => ev.type === 'agent.message')!), 'ran it');
    const workspace = join(h.dataDir, 'sessions', session.id, 'workspace');
    assert.equal(await import('node:fs/promises').then((fs) => fs.readFile(join(workspace, 'ran.txt'), 'utf8')), 'once\n');
    assert.ok(!after.some((ev) => ev.type === 'session.status_idle' && (ev.stop_reason as { type: string }).type === 'requires_action'), 'not asked twice');
  });
});

/**
 * The Agent SDK mirrors Claude Code's transcript to our store and gives up on
 * a batch after three tries. Here the store refuses transcript writes for a
 * while: the lines it missed must come back from the local file before the
 * session hibernates, or the resumed agent forgets a turn.
 */
describe('transcript lines the store missed (sqlite, bwrap)', { timeout: 300_000 }, () => {
  let h: E2E;
  let agentId: string;
  let refuse = false;
  const refusing = (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === 'appendTranscript' || prop === 'replaceTranscript') {
          const write = (value as (...args: unknown[]) => Promise<void>).bind(target);
          return (...args: unknown[]) => (refuse ? Promise.reject(new Error('the database is unavailable')) : write(...args));
        }
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

  before(async () => {
    h = await startE2E({ backend: 'sqlite', reaperIntervalMs: 200, wrapStore: refusing });
    agentId = (await h.client.beta.agents.create({ name: 'forgetful', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });
  after(() => h?.close());

  async function turn(sessionId: string, message: string): Promise<AnyEvent[]> {
    const stream = await h.client.beta.sessions.events.stream(sessionId);
    await h.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
    return readStream(stream, isIdle);
  }
  const gapsOf = async (sessionId: string): Promise<unknown[]> =>
    ((((await h.server.store.getSession(h.workspaceId, sessionId))?.body.internal ?? {}) as { transcript_gaps?: unknown[] }).transcript_gaps ?? []);
  const hibernated = (sessionId: string) =>
    waitFor('hibernation', async () => (runtimeOf(await h.client.beta.sessions.retrieve(sessionId)).sandbox_state === 'hibernated' ? true : undefined), 20_000);
  const lastHistory = () => {
    const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
    return JSON.stringify((main.at(-1)!.body as { messages: unknown }).messages);
  };

  /**
   * A hybrid session with one turn saved and a second, telling it `word`,
   * whose transcript lines the store refused; the store still refuses.
   */
  async function sessionWithMissedTurn(idleTimeoutS: number, word: string): Promise<string> {
    const e = await h.client.beta.environments.create({ name: 'hybrid', config: { type: 'cloud', lifecycle: { pattern: 'hybrid', idle_timeout_s: idleTimeoutS } } as never });
    const { id } = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    h.model.setScript([{ when: 'tools', text: 'hello' }]);
    await turn(id, 'first turn');
    refuse = true;
    h.model.setScript([{ when: 'tools', text: `noted: the code word is ${word.toUpperCase()}` }]);
    await turn(id, `the code word is ${word}`);
    // The SDK tries three times over about a second, then reports the batch lost.
    await waitFor('the missed batch recorded', async () => ((await gapsOf(id)).length > 0 ? true : undefined));
    return id;
  }

  it('rewrites a transcript from the local file before hibernating, and the resumed agent remembers the turn', async () => {
    const sessionId = await sessionWithMissedTurn(5, 'okapi');
    refuse = false;

    await hibernated(sessionId);
    assert.deepEqual(await gapsOf(sessionId), [], 'nothing missing once hibernated');
    assert.ok(!existsSync(join(h.dataDir, 'sessions', sessionId, 'claude')), 'the local transcript went once the store had all of it');

    h.model.setScript([{ when: 'tools', text: 'it was okapi' }]);
    const events = await turn(sessionId, 'what was the code word?');
    assert.ok(!events.some((ev) => ev.type === 'session.error'), JSON.stringify(events));
    assert.match(lastHistory(), /the code word is okapi/);
    assert.match(lastHistory(), /noted: the code word is OKAPI/);
  });

  it('keeps the local file while the store still fails, and tells the user when no machine has the lines any more', async () => {
    const sessionId = await sessionWithMissedTurn(2, 'tapir');

    await hibernated(sessionId);
    const config = join(h.dataDir, 'sessions', sessionId, 'claude');
    assert.ok(existsSync(config), 'the local transcript stays while the store cannot take it');
    assert.equal((await gapsOf(sessionId)).length, 1);
    refuse = false;

    // As if the session resumed on another machine: the local file is not there.
    await rm(config, { recursive: true, force: true });
    h.model.setScript([{ when: 'tools', text: 'still here' }]);
    const events = await turn(sessionId, 'are you there?');
    const error = events.find((ev) => ev.type === 'session.error');
    assert.match(JSON.stringify(error?.error), /could not be saved/);
    assert.equal(text(events.find((ev) => ev.type === 'agent.message')!), 'still here');
    assert.deepEqual(await gapsOf(sessionId), []);
  });
});

// The stronger providers' sandbox users are neither root nor the server's user: the resumed
// transcript must be theirs to read and append to. Under CI a provider that cannot run fails.
for (const provider of ['gvisor', 'docker'] as const) {
  describe(`hibernate and resume (sqlite, ${provider})`, { timeout: 300_000 }, () => {
    let h: E2E | undefined;
    let engine: TestEngine | undefined;
    let unavailable: string | undefined;
    let agentId = '';

    before(async () => {
      if (provider === 'docker' && (!podmanMissing() || process.env.CI)) engine = await startTestEngine();
      unavailable = await providerUnavailable(provider, engine);
      if (unavailable) return;
      h = await startE2E({ backend: 'sqlite', reaperIntervalMs: 200, provider, ...(engine ? { engine } : {}) });
      agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    });
    after(async () => {
      await h?.close();
      await engine?.close();
    });

    it('hybrid: hibernates when idle, then resumes with files and history intact, twice', async (t) => {
      if (unavailable) {
        if (process.env.CI) assert.fail(`${provider}: ${unavailable}`);
        return t.skip(unavailable);
      }
      await hibernatesAndResumes(h!, agentId);
    });
  });
}
