import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { silentLogger } from '../src/logger.js';
import { openStore } from '../src/store/index.js';
import { startScriptedModel } from '../src/testing/scripted-model/index.js';
import { isIdle, processesMatching, readStream, text, type AnyEvent } from './helpers/e2e.js';
import { createTestDatabase } from './helpers/databases.js';
import { TEST_BACKENDS } from './helpers/harness.js';
import { claudeProcessesOf, eventsOf, freePort, readProc, startServe, type Proc, type Serve } from './helpers/processes.js';

/**
 * kill -9 of the server at random points during live turns, again and again,
 * then a restart that must show: every event a client saw is still there, no
 * id twice, no gap in the log, nothing the dead servers started still
 * running, and the session carrying on. AGENTHOST_CRASH_CYCLES sets N.
 * Runs on SQLite (a data dir) and on PostgreSQL (a database of its own).
 *
 * Where a kill lands: cycle 0 while the sandbox and Claude Code start, before
 * the message reaches it; odd cycles just after the turn's tool call shows on
 * the stream (mid-turn for certain: the model's reply to the tool result is
 * 200 ms away); the other even cycles at a random point up to 2.5 s.
 */
const CYCLES = Number(process.env.AGENTHOST_CRASH_CYCLES ?? 5);

/**
 * Processes of `dataDir` (Claude Code, or anything naming its sessions) still
 * there a second after a kill, and how long the rest took to go. A sandbox
 * takes a moment to tear down under load; one that outlived its server (a
 * Claude Code without parent exits by itself only once it has booted and read
 * the end of its input, seconds later) is still there.
 */
async function leftAfterKill(dataDir: string): Promise<{ left: Proc[]; ms: number }> {
  const killedAt = Date.now();
  for (;;) {
    const pids = new Set([...(await claudeProcessesOf(dataDir)), ...(await processesMatching(join(dataDir, 'sessions')))]);
    const left = (await Promise.all([...pids].map((pid) => readProc(pid)))).filter((p): p is Proc => p !== undefined && p.state !== 'Z');
    const ms = Date.now() - killedAt;
    // Killed processes usually go within 350 ms, but CI once measured 1,098 ms for a first cycle
    // (its kill lands while Claude Code starts, on a fresh install). An orphan stays for good.
    if (left.length === 0 || ms > 5_000) return { left, ms };
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Phase = 'starting' | 'mid-turn' | 'after the turn';

/** Where the turn stood when the server died, from what the stream had shown of it. */
function phaseOf(events: AnyEvent[]): Phase {
  const lastStatus = events.filter((e) => e.type.startsWith('session.status_')).at(-1);
  if (!lastStatus) return 'starting';
  return lastStatus.type === 'session.status_running' ? 'mid-turn' : 'after the turn';
}

for (const backend of TEST_BACKENDS) describe(`crash loop (${backend})`, { timeout: 600_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  });

  it(`survives ${CYCLES} kill -9 cycles during live turns`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-crash-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const model = await startScriptedModel();
    cleanups.push(() => model.close());
    let databaseUrl: string | undefined;
    if (backend === 'postgres') {
      const db = await createTestDatabase('agenthost_crash');
      cleanups.push(db.drop);
      databaseUrl = db.url;
    }
    const store = await openStore({ dataDir, databaseUrl, log: silentLogger() });
    const { key } = await createApiKey(store, 'crash');
    await store.close();
    const env = {
      ...(databaseUrl ? { AGENTHOST_DATABASE_URL: databaseUrl } : {}),
      AGENTHOST_DATA_DIR: dataDir,
      AGENTHOST_PORT: String(await freePort()),
      AGENTHOST_LOG_LEVEL: 'warn',
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-ant-crash-upstream',
    };

    const seen = new Map<string, AnyEvent>();
    const delays: number[] = [];
    const phases: Phase[] = [];
    let orphans = 0;
    const survivors: string[] = [];
    const teardownMs: number[] = [];
    let sessionId = '';
    let serve: Serve | undefined;
    cleanups.push(async () => serve?.child.kill('SIGKILL'));

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      serve = await startServe(env);
      const client = new Anthropic({ baseURL: serve.url, apiKey: key, maxRetries: 0 });
      if (!sessionId) {
        const agent = await client.beta.agents.create({ name: 'crashy', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
        const environment = await client.beta.environments.create({ name: 'crash', config: { type: 'cloud' } });
        sessionId = (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })).id;
      }
      model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: `echo cycle-${cycle} >> cycles.txt` } } },
        { when: 'tools', delayMs: 200, text: `cycle ${cycle} done` },
      ]);
      const stream = await client.beta.sessions.events.stream(sessionId);
      const live: AnyEvent[] = [];
      let onEvent = (): void => undefined;
      const reading = (async () => {
        try {
          for await (const e of stream) {
            seen.set((e as AnyEvent).id, e as AnyEvent);
            live.push(e as AnyEvent);
            onEvent();
          }
        } catch {
          // The server died under the stream: expected.
        }
      })();
      const sent = await client.beta.sessions.events.send(sessionId, {
        events: [{ type: 'user.message', content: [{ type: 'text', text: `cycle ${cycle}` }] }],
      });
      for (const e of sent.data ?? []) seen.set(e.id, e as unknown as AnyEvent);

      if (cycle % 2 === 1) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`cycle ${cycle}: no agent.tool_use within 60 s:\n${serve!.output().slice(-3000)}`)), 60_000);
          onEvent = () => {
            if (live.some((e) => e.type === 'agent.tool_use')) {
              clearTimeout(timer);
              resolve();
            }
          };
          onEvent();
        });
      }
      const delay = Math.floor(Math.random() * (cycle % 2 === 1 ? 100 : cycle === 0 ? 150 : 2500));
      delays.push(delay);
      await new Promise((r) => setTimeout(r, delay));
      serve.child.kill('SIGKILL');
      phases.push(phaseOf(live));
      await serve.exited;
      stream.controller.abort();
      await reading;
      const { left, ms } = await leftAfterKill(dataDir);
      teardownMs.push(ms);
      orphans += left.length;
      survivors.push(...left.map((p) => `cycle ${cycle}: ${p.pid} (state ${p.state}, ppid ${p.ppid}) ${p.cmdline.slice(0, 300)}`));
    }

    serve = await startServe(env);
    const client = new Anthropic({ baseURL: serve.url, apiKey: key, maxRetries: 0 });
    const listed = await eventsOf(client, sessionId);
    const listedIds = new Set(listed.map((e) => e.id));
    const lost = [...seen.keys()].filter((id) => !listedIds.has(id)).length;
    // Repeated ids, and the same reply told twice under new ids.
    const replies = listed.filter((e) => e.type === 'agent.message').map(text);
    const duplicated = listed.length - listedIds.size + (replies.length - new Set(replies).size);

    const reader = await openStore({ dataDir, databaseUrl, log: silentLogger() });
    const stored = await reader.listEvents(sessionId, { limit: 100_000, order: 'asc' });
    await reader.close();
    const gaps = stored.items.filter((e, i) => e.seq !== i + 1).length;

    // No tool ran twice for one message.
    const lines = (await readFile(join(dataDir, 'sessions', sessionId, 'workspace', 'cycles.txt'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const reruns = lines.length - new Set(lines).size;

    const session = await client.beta.sessions.retrieve(sessionId);
    assert.equal(session.status, 'idle', 'mid-turn sessions settle idle after the restart');
    model.setScript([{ when: 'tools', text: 'still here' }]);
    const resumed = await client.beta.sessions.events.stream(sessionId);
    await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'are you there?' }] }] });
    const final = await readStream(resumed, isIdle);
    const story = final.map((e) => (e.type === 'session.error' ? `${e.type}: ${JSON.stringify(e.error)}` : e.type)).join('\n');
    const reply = final.find((e) => e.type === 'agent.message');
    assert.ok(reply, `the resumed session answers; its turn:\n${story}\n${serve.output().slice(-3000)}`);
    assert.equal(text(reply), 'still here');
    const history = JSON.stringify((model.messageRequests().at(-1)!.body as { messages: unknown }).messages);
    const forgotten = Array.from({ length: CYCLES }, (_, c) => `cycle ${c}`).filter((m) => !history.includes(`"${m}"`));

    const midTurn = phases.filter((p) => p === 'mid-turn').length;
    console.log(
      `crash cycles ${CYCLES}, events lost ${lost}, duplicated ${duplicated}, orphans ${orphans} ` +
        `(${backend}; killed mid-turn ${midTurn}, messages forgotten ${forgotten.length}, slowest teardown ${Math.max(...teardownMs)} ms, gaps ${gaps}, tool reruns ${reruns}; ` +
        `kills: ${phases.map((p, i) => `${p} +${delays[i]} ms`).join(', ')})`,
    );
    assert.deepEqual(forgotten, [], 'every acknowledged message is in the resumed conversation');
    assert.equal(lost, 0, 'events lost');
    assert.equal(duplicated, 0, 'events duplicated');
    assert.equal(orphans, 0, `orphan processes:\n${survivors.join('\n')}`);
    assert.equal(gaps, 0, 'sequence gaps');
    assert.equal(reruns, 0, 'tool calls re-executed');
    assert.ok(midTurn >= Math.floor(CYCLES / 2), `at least every odd cycle's kill lands mid-turn: ${phases.join(', ')}`);
  });
});
