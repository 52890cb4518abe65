import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { silentLogger } from '../src/logger.js';
import { openStore } from '../src/store/index.js';
import { TranscriptStore } from '../src/store/session-store.js';
import type { SessionEngine } from '../src/sessions/engine.js';
import { EventLog } from '../src/sessions/event-log.js';
import { SessionService } from '../src/sessions/service.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { isIdle, processesMatching, readStream, text, waitFor, type AnyEvent } from './helpers/e2e.js';
import { claudeProcessesOf, descendants, eventsOf, freePort, startServe, stillAlive, type Proc, type Serve } from './helpers/processes.js';

/**
 * `agenthost serve` killed with SIGKILL in the middle of a tool call: nothing
 * it started may outlive it, and the next server on the same data directory
 * must end the interrupted turn with a readable error and carry on.
 */

const UPSTREAM_KEY = 'sk-ant-kill-test-upstream';
const sandboxState = (session: unknown) => (session as { runtime: { sandbox_state: string } }).runtime.sandbox_state;

describe('agenthost serve killed with SIGKILL during a tool call', { timeout: 180_000 }, () => {
  let dataDir: string;
  let model: ScriptedModel;
  let key: string;
  let workspaceId: string;
  let port: number;
  let env: Record<string, string>;
  let first: Serve | undefined;
  let second: Serve | undefined;
  let third: Serve | undefined;
  let fourth: Serve | undefined;
  let fifth: Serve | undefined;
  let sessionId: string;
  /** A warm sandbox nobody had claimed when the server was killed. */
  let unclaimedId: string;
  const marker = `40.${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agenthost-kill-'));
    model = await startScriptedModel();
    const store = await openStore({ dataDir, log: silentLogger() });
    try {
      ({ key, workspaceId } = await createApiKey(store, 'kill-test'));
    } finally {
      await store.close();
    }
    port = await freePort();
    env = {
      AGENTHOST_DATA_DIR: dataDir,
      AGENTHOST_PORT: String(port),
      AGENTHOST_LOG_LEVEL: 'warn',
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: UPSTREAM_KEY,
    };
  });

  after(async () => {
    for (const s of [first, second, third, fourth, fifth]) {
      if (s && s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
        await s.exited;
        clearTimeout(timer);
      }
    }
    await model?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * A session whose agent must ask before Bash, paused on its first call (it
   * appends "once" to `file`); once approved it calls again and answers `reply`.
   */
  async function waitingForConfirmation(client: Anthropic, file: string, reply: string, serve: Serve): Promise<{ id: string; ask: AnyEvent }> {
    const careful = await client.beta.agents.create({
      name: `careful-${file}`,
      model: 'claude-sonnet-4-5',
      tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
    });
    const environment = await client.beta.environments.create({ name: `asks-${file}`, config: { type: 'cloud' } });
    const id = (await client.beta.sessions.create({ agent: careful.id, environment_id: environment.id })).id;
    const command = `echo once >> ${file}; cat ${file}`;
    model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command } } },
      { when: 'tools', match: 'approved your bash call', tool_use: { name: 'Bash', input: { command } } },
      { when: 'tools', text: reply },
    ]);
    const stream = await client.beta.sessions.events.stream(id);
    await client.beta.sessions.events.send(id, { events: [{ type: 'user.message', content: [{ type: 'text', text: `append to ${file}` }] }] });
    const asked = await readStream(stream, (e, seen) => isIdle(e) && seen.some((x) => x.type === 'agent.tool_use'), 60_000);
    const ask = asked.find((e) => e.type === 'agent.tool_use')!;
    assert.deepEqual(asked.at(-1)!.stop_reason, { type: 'requires_action', event_ids: [ask.id] }, serve.output());
    return { id, ask };
  }

  it('leaves no tool and no Claude Code process behind', async () => {
    first = await startServe(env);
    const client = new Anthropic({ baseURL: first.url, apiKey: key, maxRetries: 0 });
    const agent = await client.beta.agents.create({ name: 'sleeper', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    // With a warm pool: its member waits, unclaimed, when the server dies.
    const environment = await client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud', warm_pool: { min: 1, max: 1 } } as never });
    sessionId = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
    model.setScript([
      // Claude Code refuses bare long sleeps; a bounded blocking read is the 40-second tool.
      { when: 'tools', tool_use: { name: 'Bash', input: { command: `timeout ${marker} tail -f /dev/null; echo finished` } } },
      { when: 'tools', text: 'the first server answered' },
    ]);

    const stream = await client.beta.sessions.events.stream(sessionId);
    await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'wait a while' }] }] });
    const seen = await readStream(stream, (e) => e.type === 'agent.tool_use' || isIdle(e), 60_000);
    assert.equal(seen.at(-1)!.type, 'agent.tool_use', `the tool started: ${seen.map((e) => e.type).join(', ')}\n${first.output()}`);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; ; i++) {
      const pool = ((await client.beta.environments.retrieve(environment.id)) as unknown as { warm_pool_status: { ready: number } }).warm_pool_status;
      if (pool.ready === 1) break;
      assert.ok(i < 600, 'the warm pool filled');
      await new Promise((r) => setTimeout(r, 100));
    }
    const dirs = await readdir(join(dataDir, 'sessions'));
    assert.equal(dirs.length, 2, `the session's and the warm sandbox's directories: ${dirs.join(', ')}`);
    unclaimedId = dirs.find((d) => d !== sessionId)!;

    // What the server started, while it still runs: the sandbox, Claude Code and the tool.
    const started = await descendants(first.child.pid!);
    assert.ok(started.some((p) => p.cmdline.includes(marker)), `the tool runs: ${started.map((p) => p.cmdline).join('\n')}`);
    assert.ok((await processesMatching(marker)).length > 0);
    assert.ok((await claudeProcessesOf(dataDir)).length > 0, 'Claude Code runs for this data dir');
    assert.equal((await client.beta.sessions.retrieve(sessionId)).status, 'running');

    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    const killedAt = Date.now();

    let left: { tools: number[]; claude: number[]; sessionDir: number[]; descendants: Proc[] };
    for (;;) {
      const alive = [];
      for (const p of started) if (await stillAlive(p)) alive.push(p);
      left = {
        tools: await processesMatching(marker),
        claude: await claudeProcessesOf(dataDir),
        sessionDir: await processesMatching(join(dataDir, 'sessions', sessionId)),
        descendants: alive,
      };
      const clean = left.tools.length + left.claude.length + left.sessionDir.length + left.descendants.length === 0;
      if (clean || Date.now() - killedAt > 5_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left.tools, [], `no process with ${marker} remains 5 s after the kill`);
    assert.deepEqual(left.claude, [], 'no Claude Code process remains');
    assert.deepEqual(left.sessionDir, [], 'no process names the session directory');
    assert.deepEqual(
      left.descendants.map((p) => `${p.pid} ${p.cmdline}`),
      [],
      'nothing the server started outlives it',
    );
  });

  it('the next server reports the turn as ended by the restart, and the session takes new messages', async () => {
    assert.ok(sessionId, 'the first test created the session');
    second = await startServe(env);
    const client = new Anthropic({ baseURL: second.url, apiKey: key, maxRetries: 0 });

    const session = await client.beta.sessions.retrieve(sessionId);
    assert.equal(session.status, 'idle', 'not running: the turn died with the server');
    assert.deepEqual(await readdir(join(dataDir, 'sessions')), [sessionId], 'the unclaimed warm sandbox left no directory behind');
    const store = await openStore({ dataDir, log: silentLogger() });
    try {
      assert.deepEqual(await new TranscriptStore(store).listSessions(unclaimedId), [], 'nor a transcript');
    } finally {
      await store.close();
    }
    assert.equal((session as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state, 'destroyed');
    const events = await eventsOf(client, sessionId);
    const error = events.find((e) => e.type === 'session.error');
    assert.ok(error, `a session.error event; events: ${events.map((e) => e.type).join(', ')}`);
    assert.match((error.error as { message: string }).message, /restart/);
    const last = events.at(-1)!;
    assert.equal(last.type, 'session.status_idle');
    assert.ok(events.indexOf(error) < events.indexOf(last));
    assert.ok(events.findIndex((e) => e.type === 'agent.tool_use') < events.indexOf(error), 'the error follows the interrupted tool call');
    assert.deepEqual(await processesMatching(marker), [], 'recovery did not restart the tool');

    model.setScript([{ when: 'tools', text: 'back after the restart' }]);
    const stream = await client.beta.sessions.events.stream(sessionId);
    await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'are you there?' }] }] });
    const turn = await readStream(stream, isIdle, 60_000);
    const messages = turn.filter((e) => e.type === 'agent.message').map(text);
    assert.deepEqual(messages, ['back after the restart'], `turn: ${turn.map((e) => e.type).join(', ')}\n${second.output()}`);
    assert.deepEqual(turn.at(-1)!.stop_reason, { type: 'end_turn' });
    assert.equal((await client.beta.sessions.retrieve(sessionId)).status, 'idle');

    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.output());
    assert.deepEqual(await claudeProcessesOf(dataDir), [], 'a clean shutdown stops Claude Code too');
  });

  it('a confirmation pending when the server is killed still works after the restart, and the tool runs once', async () => {
    const restarted = await startServe(env);
    const client = new Anthropic({ baseURL: restarted.url, apiKey: key, maxRetries: 0 });
    const { id, ask } = await waitingForConfirmation(client, 'ran.txt', 'ran it', restarted);

    restarted.child.kill('SIGKILL');
    assert.equal(await restarted.exited, 'SIGKILL');
    third = await startServe(env);
    const again = new Anthropic({ baseURL: third.url, apiKey: key, maxRetries: 0 });
    assert.equal((await again.beta.sessions.retrieve(id)).status, 'idle', 'still waiting for the confirmation');

    const stream = await again.beta.sessions.events.stream(id);
    await again.beta.sessions.events.send(id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask.id, result: 'allow' }] });
    const after = await readStream(stream, (e, seen) => isIdle(e) && seen.some((x) => x.type === 'user.tool_confirmation'), 60_000);
    const story = after.map((e) => (e.type === 'session.error' ? `${e.type}: ${JSON.stringify(e.error)}` : e.type)).join('\n');
    assert.deepEqual(after.at(-1)!.stop_reason, { type: 'end_turn' }, `${story}\n${third.output()}`);
    assert.equal(text(after.find((e) => e.type === 'agent.message')!), 'ran it');
    const results = (await eventsOf(again, id)).filter((e) => e.type === 'agent.tool_result');
    assert.equal(results.length, 1, 'one tool result in the whole log');
    assert.match(JSON.stringify(results[0]!.content), /"once(\\n)?"/, 'the file has one line: the tool ran once');
    assert.ok(!after.some((e) => e.type === 'session.status_idle' && (e.stop_reason as { type: string }).type === 'requires_action'), 'not asked twice');
  });

  it('a message committed the moment before the server died, sent, in initial_events or to a hibernated session, reaches the agent with the next one', async () => {
    third?.child.kill('SIGTERM');
    await third?.exited;
    const serve = await startServe({ ...env, AGENTHOST_REAPER_INTERVAL_MS: '200' });
    const client = new Anthropic({ baseURL: serve.url, apiKey: key, maxRetries: 0 });
    const agent = await client.beta.agents.create({ name: 'forgetful', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const environment = await client.beta.environments.create({ name: 'window', config: { type: 'cloud' } });
    const id = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
    // A hybrid session whose workspace is in its snapshot when the message comes.
    const hybrid = await client.beta.environments.create({ name: 'naps', config: { type: 'cloud', lifecycle: { pattern: 'hybrid', idle_timeout_s: 1 } } as never });
    const napper = (await client.beta.sessions.create({ agent: agent.id, environment_id: hybrid.id })).id;
    model.setScript([{ when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo QUINCE-NOTES > notes.txt' } } }, { when: 'tools', text: 'written' }]);
    const napStream = await client.beta.sessions.events.stream(napper);
    await client.beta.sessions.events.send(napper, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'write notes' }] }] });
    await readStream(napStream, isIdle, 60_000);
    await waitFor('the hybrid session to hibernate', async () => (sandboxState(await client.beta.sessions.retrieve(napper)) === 'hibernated' ? true : undefined));
    serve.child.kill('SIGKILL');
    assert.equal(await serve.exited, 'SIGKILL');

    // What a server leaves that dies right after committing a message, before its engine
    // starts the sandbox: the API's own send and create, with an engine that never runs.
    let created = '';
    const store = await openStore({ dataDir, log: silentLogger() });
    try {
      const neverDelivers = { deliver: () => Promise.resolve(), providerFor: () => 'bwrap', claimWarm: () => Promise.resolve(undefined) } as unknown as SessionEngine;
      const service = new SessionService({ store, events: new EventLog(store), engine: neverDelivers, providers: new Set(['bwrap']) });
      await service.send(workspaceId, id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'the password is heliotrope' }] }] });
      await service.send(workspaceId, napper, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'the fruit is quince' }] }] });
      created = (
        await service.create(workspaceId, {
          agent: agent.id,
          environment_id: environment.id,
          initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'the colour is vermilion' }] }],
        })
      ).id;
    } finally {
      await store.close();
    }

    fourth = await startServe(env);
    const again = new Anthropic({ baseURL: fourth.url, apiKey: key, maxRetries: 0 });
    assert.equal(sandboxState(await again.beta.sessions.retrieve(napper)), 'hibernated', 'its snapshot is still what it restores from');
    for (const [session, question, answer] of [
      [id, 'what is the password?', /heliotrope/],
      [created, 'what colour?', /vermilion/],
      [napper, 'what fruit, and what is in notes.txt?', /quince/],
    ] as const) {
      const events = await eventsOf(again, session);
      const error = events.find((e) => e.type === 'session.error');
      assert.ok(error, `the lost turn is reported; events: ${events.map((e) => e.type).join(', ')}`);
      assert.match((error.error as { message: string }).message, /before your message reached the agent/);

      model.setScript([{ when: 'tools', match: 'notes.txt', tool_use: { name: 'Bash', input: { command: 'cat notes.txt' } } }, { when: 'tools', text: 'noted' }]);
      const stream = await again.beta.sessions.events.stream(session);
      await again.beta.sessions.events.send(session, { events: [{ type: 'user.message', content: [{ type: 'text', text: question }] }] });
      const turn = await readStream(stream, isIdle, 60_000);
      assert.deepEqual(turn.at(-1)!.stop_reason, { type: 'end_turn' }, fourth.output());
      const sent = JSON.stringify((model.messageRequests().at(-1)!.body as { messages: unknown }).messages);
      assert.match(sent, answer, 'the committed message reached the model');
      assert.match(sent, /agenthost restarted before this earlier message reached you/);
      if (session === napper) assert.match(text(turn.find((e) => e.type === 'agent.tool_result')!), /QUINCE-NOTES/, 'the workspace came back from its snapshot');
    }
  });

  it('a confirmation committed the moment before the server died is applied by the next server, and the tool runs once', async () => {
    assert.ok(fourth, 'the previous test started a server');
    const client = new Anthropic({ baseURL: fourth.url, apiKey: key, maxRetries: 0 });
    const { id, ask } = await waitingForConfirmation(client, 'confirmed.txt', 'ran it after all', fourth);
    fourth.child.kill('SIGKILL');
    assert.equal(await fourth.exited, 'SIGKILL');

    const store = await openStore({ dataDir, log: silentLogger() });
    try {
      const neverApplies = { waitingToolUses: () => Promise.resolve([ask.id]), confirm: () => Promise.resolve(true) } as unknown as SessionEngine;
      const service = new SessionService({ store, events: new EventLog(store), engine: neverApplies, providers: new Set(['bwrap']) });
      await service.send(workspaceId, id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask.id, result: 'allow' }] });
    } finally {
      await store.close();
    }

    fifth = await startServe(env);
    const again = new Anthropic({ baseURL: fifth.url, apiKey: key, maxRetries: 0 });
    let events: AnyEvent[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      events = await eventsOf(again, id);
      if (events.some((e) => e.type === 'agent.message')) break;
    }
    const story = events.map((e) => (e.type === 'session.error' ? `${e.type}: ${JSON.stringify(e.error)}` : e.type)).join('\n');
    assert.equal(text(events.find((e) => e.type === 'agent.message')!), 'ran it after all', `${story}\n${fifth.output()}`);
    const results = events.filter((e) => e.type === 'agent.tool_result');
    assert.equal(results.length, 1, 'one tool result');
    assert.match(JSON.stringify(results[0]!.content), /"once(\\n)?"/, 'the tool ran once');
  });
});
