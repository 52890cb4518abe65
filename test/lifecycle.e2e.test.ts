import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Anthropic from '@anthropic-ai/sdk';
import type { Store } from '../src/store/index.js';
import { podmanMissing, startTestEngine, type TestEngine } from '../src/sandbox/docker/podman-service.js';
import {
  agentTrace,
  capturedLog,
  histogram,
  isIdle,
  processesMatching,
  providerUnavailable,
  readStream,
  startE2E,
  text,
  waitFor,
  type AnyEvent,
  type E2E,
} from './helpers/e2e.js';
import { TEST_BACKENDS } from './helpers/harness.js';
import { CLAUDE_BINARY_DIR, eventsOf, memoryKiB, sessionProcesses, stillAlive } from './helpers/processes.js';

type Runtime = { sandbox_state: string; pattern: string; hibernated_at?: string };
const runtimeOf = (s: unknown) => (s as { runtime: Runtime }).runtime;

/** The reaper's sweep interval on these test servers (the server's default is 5 s). */
const SWEEP_MS = 200;
/** Room for a loaded two-core machine: closing the process, snapshotting the workspace, writing the state. */
const SLACK_MS = 3_000;

/** Hibernations (the servers' `session hibernated` log lines) and resumes (their metrics), for the closing report. */
const hibernations: Array<Array<Record<string, unknown>>> = [];
const resumeMs: number[] = [];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
after(() => {
  const hibernateMs = hibernations.flat().flatMap((l) => (typeof l.ms === 'number' ? [l.ms] : []));
  console.log(`lifecycle timings: hibernate median ${median(hibernateMs).toFixed(0)} ms (n=${hibernateMs.length}), resume median ${median(resumeMs).toFixed(0)} ms (n=${resumeMs.length})`);
});

/** A server logger that keeps the engine's `session hibernated` lines (with their durations). */
function hibernationLog() {
  const captured = capturedLog((msg) => msg === 'session hibernated');
  hibernations.push(captured.lines);
  return captured;
}

/** Sends a message to a hibernated session and records how long the server took to wake it (its resume histogram). */
async function resumingTurn(h: E2E, sessionId: string, message: string): Promise<AnyEvent[]> {
  const before = await histogram(h.server.url, 'agenthost_session_resume_duration_seconds');
  const events = await turnIn(h, sessionId, message);
  const after = await histogram(h.server.url, 'agenthost_session_resume_duration_seconds');
  assert.equal(after.count - before.count, 1, 'the session was woken from hibernation once');
  resumeMs.push((after.sum - before.sum) * 1000);
  return events;
}

/** The server's (this process's) heap after a full collection, for the memory figures. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

const lastHistory = (h: E2E) => {
  const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
  return JSON.stringify((main.at(-1)!.body as { messages: unknown }).messages);
};

async function turnIn(h: E2E, sessionId: string, message: string): Promise<AnyEvent[]> {
  const stream = await h.client.beta.sessions.events.stream(sessionId);
  await h.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
  return readStream(stream, isIdle);
}

const environmentIn = (h: E2E, lifecycle: Record<string, unknown>) =>
  h.client.beta.environments.create({ name: `env-${String(lifecycle.pattern)}`, config: { type: 'cloud', lifecycle } as never });

const hibernated = (h: E2E, sessionId: string, timeoutMs = 15_000) =>
  waitFor(`${sessionId} to hibernate`, async () => {
    const s = await h.client.beta.sessions.retrieve(sessionId);
    return runtimeOf(s).sandbox_state === 'hibernated' ? s : undefined;
  }, timeoutMs);

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
  const events = await resumingTurn(h, session.id, 'which fruit?');
  assert.deepEqual(agentTrace(events), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
  assert.match(text(events.find((e) => e.type === 'agent.tool_result')!), /PAPAYA/);
  const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
  assert.match(JSON.stringify((main.at(-1)!.body as { messages: unknown }).messages), /noted the fruit/, 'history survives hibernation');
  assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_state, 'live');

  // What the resumed process adds is kept too: a second hibernation loses neither turn.
  await hibernated(h, session.id);
  h.model.setScript([{ when: 'tools', text: 'papaya, still' }]);
  await resumingTurn(h, session.id, 'and now?');
  const third = JSON.stringify((h.model.messageRequests().at(-1)!.body as { messages: unknown }).messages);
  for (const said of ['remember a fruit', 'noted the fruit', 'which fruit?', 'it was papaya']) assert.ok(third.includes(said), `the conversation after two hibernations has "${said}"`);
}


/**
 * Hibernate and resume on each store: the transcript lives in the store's
 * SessionStore, so PostgreSQL must carry it as well as SQLite does. Without a
 * reachable PostgreSQL the `before` hook fails (never skips).
 */
for (const backend of TEST_BACKENDS) {
  describe(`hibernate and resume (${backend}, bwrap)`, { timeout: 300_000 }, () => {
    let h: E2E;
    let agentId: string;

    before(async () => {
      h = await startE2E({ backend, reaperIntervalMs: SWEEP_MS, log: hibernationLog().log });
      agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    });
    after(() => h?.close());

    it('hybrid: hibernates when idle, then resumes with files and history intact, twice', () => hibernatesAndResumes(h, agentId));

    it('an idle session is reaped within idle_timeout_s plus one sweep, and none of its processes remain', async () => {
      const idleS = 2;
      const e = await environmentIn(h, { pattern: 'hybrid', idle_timeout_s: idleS });
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
      h.model.setScript([{ when: 'tools', text: 'hello' }]);
      const events = await turnIn(h, session.id, 'hi');
      const idleAt = Date.parse(events.at(-1)!.processed_at as string);

      const running = await sessionProcesses(h.dataDir, session.id);
      assert.ok(running.some((p) => p.cmdline.includes(CLAUDE_BINARY_DIR)), `the live session runs Claude Code: ${running.map((p) => p.cmdline).join(' | ')}`);
      assert.ok(running.some((p) => /\bbwrap\b/.test(p.cmdline)), `and its sandbox: ${running.map((p) => `${p.pid}<${p.ppid} ${p.cmdline.slice(0, 300)}`).join('\n')}`);

      const s = await hibernated(h, session.id);
      const took = Date.parse(runtimeOf(s).hibernated_at!) - idleAt;
      // The idle clock starts when the turn ends, just before the idle event is committed.
      assert.ok(took >= idleS * 1000 - 250, `hibernated ${took} ms after the turn ended, before idle_timeout_s`);
      assert.ok(took <= idleS * 1000 + SWEEP_MS + SLACK_MS, `hibernated ${took} ms after the turn ended; the bound is ${idleS * 1000} + one ${SWEEP_MS} ms sweep (+ ${SLACK_MS} ms slack)`);
      assert.equal(s.status, 'idle');

      for (const p of running) assert.equal(await stillAlive(p), false, `pid ${p.pid} (${p.cmdline}) outlived the hibernation`);
      assert.deepEqual(await sessionProcesses(h.dataDir, session.id), []);
      assert.ok(!existsSync(join(h.dataDir, 'sessions', session.id, 'workspace')), 'the workspace went to the snapshot store');
    });
  });
}

/**
 * Deployment patterns and the turn-aware idle clock, end to end with the real
 * CLI in bwrap. Idle timeouts are seconds here so the reaper acts quickly.
 */
describe('lifecycle patterns (sqlite, bwrap)', { timeout: 900_000 }, () => {
  let h: E2E;
  let agentId: string;

  before(async () => {
    h = await startE2E({ backend: 'sqlite', reaperIntervalMs: SWEEP_MS, log: hibernationLog().log });
    agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });
  after(() => h?.close());

  const turn = (sessionId: string, message: string) => turnIn(h, sessionId, message);
  const env = (lifecycle: Record<string, unknown>) => environmentIn(h, lifecycle);

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

  it('the idle clock does not run while the model is thinking', async () => {
    const e = await env({ pattern: 'hybrid', idle_timeout_s: 1 });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    h.model.setScript([
      { when: 'tools', delayMs: 3_000, tool_use: { name: 'Bash', input: { command: 'echo thought-about-it' } } },
      { when: 'tools', delayMs: 3_000, text: 'done thinking' },
    ]);
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'think hard' }] }] });
    const states: string[] = [];
    const poll = setInterval(() => {
      void h.client.beta.sessions.retrieve(session.id).then((s) => states.push(runtimeOf(s).sandbox_state));
    }, 250);
    const events = await readStream(stream, isIdle).finally(() => clearInterval(poll));
    assert.deepEqual(agentTrace(events), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
    assert.equal(text(events.find((ev) => ev.type === 'agent.message')!), 'done thinking');
    assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
    assert.ok(states.filter((st) => st === 'live').length >= 10, `polled through six seconds of model time: ${states.join(',')}`);
    assert.ok(!states.includes('hibernated'), `hibernated mid-turn: ${states.join(',')}`);
    // The same one-second timeout does apply once the turn is over.
    await hibernated(h, session.id);
  });

  it('max_lifetime_s bounds a busy sandbox: the turn is stopped, the user is told, and the next message resumes', async () => {
    const lifetimeS = 6;
    const e = await env({ pattern: 'hybrid', idle_timeout_s: 600, max_lifetime_s: lifetimeS });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    const hold = `timeout 120.${Date.now() % 1000} tail -f /dev/null`;
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: `echo KIWI > fruit.txt && ${hold}; echo tool-finished` } } },
      { when: 'tools', text: 'the tool finished' },
    ]);
    const stream = await h.client.beta.sessions.events.stream(session.id);
    const sentAt = Date.now();
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'plant a kiwi and wait' }] }] });
    const events = await readStream(stream, (_ev, seen) => seen.some(isIdle) && seen.some((x) => x.type === 'session.error'), 60_000);
    const s = await hibernated(h, session.id);

    const error = events.find((ev) => ev.type === 'session.error')!;
    assert.match(JSON.stringify(error.error), /max_lifetime_s of 6 s; the turn was stopped/);
    assert.ok(!events.some((ev) => ev.type === 'agent.tool_result' && /tool-finished/.test(text(ev))), 'the tool did not run to its end');
    assert.ok(!events.some((ev) => ev.type === 'agent.message'), 'the turn did not go on');
    const took = Date.parse(runtimeOf(s).hibernated_at!) - sentAt;
    assert.ok(took >= lifetimeS * 1000, `hibernated ${took} ms after the message, before max_lifetime_s`);
    assert.ok(took <= lifetimeS * 1000 + 20_000, `hibernated ${took} ms after the message`);
    assert.equal(s.status, 'idle');
    assert.deepEqual(await processesMatching(hold), [], 'the tool went with the sandbox');
    assert.deepEqual(await sessionProcesses(h.dataDir, session.id), []);
    const all = await eventsOf(h.client, session.id);
    assert.equal(all.filter((ev) => ev.type === 'session.error').length, 1, `told once: ${JSON.stringify(all.map((ev) => [ev.type, ev.error ?? ev.stop_reason ?? '']))}`);
    const idles = all.filter(isIdle);
    assert.equal(idles.length, 1, 'the turn ended once');
    assert.deepEqual(idles[0]!.stop_reason, { type: 'end_turn' }, 'as an interrupted turn ends, not as a failure');
    assert.ok(all.findIndex((ev) => ev.id === error.id) < all.indexOf(idles[0]!), 'told before the turn ended');

    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'cat fruit.txt' } } },
      { when: 'tools', text: 'it was a kiwi' },
    ]);
    const next = await resumingTurn(h, session.id, 'what did you plant?');
    assert.deepEqual(agentTrace(next), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
    assert.match(text(next.find((ev) => ev.type === 'agent.tool_result')!), /KIWI/);
    assert.match(lastHistory(h), /plant a kiwi and wait/, 'history survives the recycle');
    assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_state, 'live');
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

  it('long_running: several sessions share the environment’s workspace and stay live between turns', async () => {
    const e = await env({ pattern: 'long_running' });
    assert.deepEqual((e.config as unknown as { lifecycle: unknown }).lifecycle, { pattern: 'long_running', idle_timeout_s: null, max_lifetime_s: null });
    const a = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'A' });
    const b = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'B' });
    assert.equal(runtimeOf(a).pattern, 'long_running');

    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo MANGO > note.txt' } } },
      { when: 'tools', text: 'A wrote a note' },
    ]);
    await turn(a.id, 'A: leave a note');
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: `cat ../${a.id}/note.txt` } } },
      { when: 'tools', text: 'B read it' },
    ]);
    const read = await turn(b.id, 'B: read the note');
    assert.match(text(read.find((ev) => ev.type === 'agent.tool_result')!), /MANGO/, 'B sees what A wrote');
    const workspace = join(h.dataDir, 'environments', e.id, 'workspace');
    assert.equal(await readFile(join(workspace, a.id, 'note.txt'), 'utf8'), 'MANGO\n', 'in A’s directory of the shared workspace');

    const claudeOf = async (id: string) => (await sessionProcesses(h.dataDir, id)).filter((p) => p.cmdline.includes(CLAUDE_BINARY_DIR));
    const [procA, procB] = [await claudeOf(a.id), await claudeOf(b.id)];
    assert.ok(procA.length > 0 && procB.length > 0, 'both sessions run at once');
    // Longer than the hybrid timeouts of this file, many sweeps: nothing reaps them.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const id of [a.id, b.id]) assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(id)).sandbox_state, 'live');
    for (const p of [...procA, ...procB]) assert.equal(await stillAlive(p), true, `pid ${p.pid} kept running between turns`);

    // The next turn runs in the same process: nothing was restored.
    const resumes = await histogram(h.server.url, 'agenthost_session_resume_duration_seconds');
    const starts = await histogram(h.server.url, 'agenthost_session_start_duration_seconds');
    h.model.setScript([{ when: 'tools', text: 'still here' }]);
    await turn(a.id, 'A: still there?');
    assert.deepEqual(await histogram(h.server.url, 'agenthost_session_resume_duration_seconds'), resumes);
    assert.deepEqual(await histogram(h.server.url, 'agenthost_session_start_duration_seconds'), starts);
    for (const p of procA) assert.equal(await stillAlive(p), true);
  });

  it('long_running with an idle_timeout_s of its own: its sessions hibernate, and the shared workspace stays', async () => {
    const e = await env({ pattern: 'long_running', idle_timeout_s: 1 });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo GUAVA > note.txt' } } },
      { when: 'tools', text: 'noted' },
    ]);
    await turn(session.id, 'leave a note');
    await hibernated(h, session.id);
    assert.deepEqual(await sessionProcesses(h.dataDir, session.id), []);
    assert.equal(await readFile(join(h.dataDir, 'environments', e.id, 'workspace', session.id, 'note.txt'), 'utf8'), 'GUAVA\n');
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'cat note.txt' } } },
      { when: 'tools', text: 'guava' },
    ]);
    const events = await resumingTurn(h, session.id, 'what did you note?');
    assert.match(text(events.find((ev) => ev.type === 'agent.tool_result')!), /GUAVA/);
  });

  it('shared: two agents in one workspace cannot clobber each other’s file, by Write or by Edit', async () => {
    const e = await env({ pattern: 'shared' });
    const a = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'A' });
    const b = await h.client.beta.sessions.create({ agent: agentId, environment_id: e.id, title: 'B' });
    const workspace = join(h.dataDir, 'environments', e.id, 'workspace');
    const board = join(workspace, 'shared', 'board.md');
    // A holds its turn (and so its lock on the board) until the test lets it go.
    const release = join(workspace, a.id, 'release');
    const hold = `timeout 120.${Date.now() % 1000} sh -c 'until [ -e ${release} ]; do sleep 0.1; done'`;
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Write', input: { file_path: board, content: 'A was here\n' } } },
      { when: 'tools', tool_use: { name: 'Bash', input: { command: hold } } },
      { when: 'tools', tool_use: { name: 'Read', input: { file_path: board } } },
      { when: 'tools', tool_use: { name: 'Write', input: { file_path: board, content: 'B was here\n' } } },
      { when: 'tools', tool_use: { name: 'Edit', input: { file_path: board, old_string: 'A was here', new_string: 'B edited this' } } },
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
    try {
      await waitFor('A holding the board', async () => (aEvents.some((ev) => ev.type === 'agent.tool_use' && ev.name === 'bash') ? true : undefined), 60_000);
      assert.equal(await readFile(board, 'utf8'), 'A was here\n');

      const bEvents = await turn(b.id, 'B: write the board');
      const results = bEvents.filter((ev) => ev.type === 'agent.tool_result');
      const uses = bEvents.filter((ev) => ev.type === 'agent.tool_use');
      assert.deepEqual(uses.map((ev) => ev.name), ['read', 'write', 'edit']);
      assert.equal(results.length, 3);
      const [, refusedWrite, refusedEdit] = results as [AnyEvent, AnyEvent, AnyEvent];
      for (const refused of [refusedWrite, refusedEdit]) {
        assert.equal(refused.is_error, true);
        assert.match(text(refused), /being written by another agent/);
        assert.match(text(refused), new RegExp(a.id));
      }
      assert.equal(await readFile(board, 'utf8'), 'A was here\n', 'neither B’s Write nor its Edit changed the board');
      assert.equal(aEvents.some(isIdle), false, 'A still held the board throughout');
    } finally {
      await writeFile(release, '');
    }
    await aDone;
    assert.equal(await readFile(board, 'utf8'), 'A was here\n', 'B did not overwrite A');

    const again = await turn(b.id, 'B: try again');
    assert.equal(again.filter((ev) => ev.type === 'agent.tool_result').at(-1)!.is_error, false);
    assert.equal(await readFile(board, 'utf8'), 'B was here\n');
    assert.ok(existsSync(join(workspace, a.id)) && existsSync(join(workspace, b.id)), 'each agent has its own directory');
    assert.equal(runtimeOf(await h.client.beta.sessions.retrieve(b.id)).pattern, 'shared');
  });

  it('memory: a hibernated session keeps no process; a live one keeps its sandbox and Claude Code', async () => {
    const n = 3;
    const e = await env({ pattern: 'hybrid', idle_timeout_s: 20 });
    const heapBefore = heapAfterGc();
    const ids = await Promise.all(Array.from({ length: n }, () => h.client.beta.sessions.create({ agent: agentId, environment_id: e.id }).then((s) => s.id)));
    h.model.setScript([{ when: 'tools', text: 'hello', repeat: true }]);
    // At once, so that all are live together well within the idle timeout.
    await Promise.all(ids.map((id) => turn(id, 'hi')));
    const liveProcs = (await Promise.all(ids.map((id) => sessionProcesses(h.dataDir, id)))).map((ps) => ps.map((p) => p.pid));
    assert.ok(liveProcs.every((pids) => pids.length > 0), 'every live session has processes');
    const live = (await Promise.all(liveProcs.flat().map(memoryKiB))).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });
    const heapLive = heapAfterGc();
    for (const id of ids) await hibernated(h, id, 40_000);
    for (const id of ids) assert.deepEqual(await sessionProcesses(h.dataDir, id), []);
    const heapHibernated = heapAfterGc();
    const mib = (kib: number) => (kib / 1024).toFixed(0);
    const perSessionKiB = (bytes: number) => (bytes / 1024 / n).toFixed(0);
    console.log(
      `memory: a live session holds ${mib(live.pss / n)} MiB PSS (${mib(live.rss / n)} MiB RSS) in its sandbox processes, a hibernated one none; ` +
        `server heap after GC per session: live ${perSessionKiB(heapLive - heapBefore)} KiB, hibernated ${perSessionKiB(heapHibernated - heapBefore)} KiB (n=${n})`,
    );
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
    assert.equal(await readFile(join(workspace, 'ran.txt'), 'utf8'), 'once\n');
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
