/** The benchmark's measurements; `core.ts` runs them and prints the table. */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, type Options } from '@anthropic-ai/claude-agent-sdk';
import { planTools } from '../src/agent/tools.js';
import { newId } from '../src/ids.js';
import { silentLogger } from '../src/logger.js';
import { openStore } from '../src/store/index.js';
import { TranscriptStore } from '../src/store/session-store.js';
import type { ScriptedModel } from '../src/testing/scripted-model/index.js';
import { firstMainRequest, poolReady, sleep, stats, waitIdle, type ServerProcess, type Stats } from './harness.js';

export interface Ctx {
  server: ServerProcess;
  model: ScriptedModel;
  quick: boolean;
  runs: number;
  log: (message: string) => void;
}

const ONE_TOOL = [
  { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo benchmark > out.txt' } } },
  { when: 'tools', text: 'done' },
] as const;
const TOOLSET = [{ type: 'agent_toolset_20260401' as const }];
const msg = (text: string) => [{ type: 'user.message' as const, content: [{ type: 'text' as const, text }] }];

async function agentAndEnv(ctx: Ctx, config: Record<string, unknown>) {
  const { client } = ctx.server;
  const agent = await client.beta.agents.create({ name: 'bench', model: 'claude-sonnet-4-5', tools: TOOLSET });
  const env = await client.beta.environments.create({ name: 'bench', config: { type: 'cloud', ...config } as never });
  return { agent, env };
}

/**
 * One agenthost session through create → turn → idle; times from this side.
 * `send`: created without initial events, its message sent right after (the
 * usual pattern with the official client); else with `initial_events`.
 */
async function agenthostTask(ctx: Ctx, agentId: string, envId: string, how: 'initial_events' | 'send' = 'initial_events') {
  const { client } = ctx.server;
  ctx.model.setScript([...ONE_TOOL]);
  const before = ctx.model.messageRequests().length;
  const wall0 = Date.now();
  const t0 = performance.now();
  const session =
    how === 'send'
      ? await client.beta.sessions.create({ agent: agentId, environment_id: envId })
      : await client.beta.sessions.create({ agent: agentId, environment_id: envId, initial_events: msg('write out.txt') });
  if (how === 'send') await client.beta.sessions.events.send(session.id, { events: msg('write out.txt') });
  // The model is in this process: waiting for its first request asks nothing of the server.
  const first = (await firstMainRequest(ctx.model, before)).getTime() - wall0;
  const runtime = await waitIdleAfterModel(ctx, session.id, 0);
  const total = performance.now() - t0;
  return { id: session.id, total, first, warm: runtime.warm_start === true };
}

/**
 * Waits until the session has ended `turns + 1` turns, the way a client
 * would: on its event stream (opened first, then the log read once for an
 * end that came before), so the wait does not load the server during the
 * turn it measures. Then the session must be idle with its sandbox live.
 */
async function waitIdleAfterModel(ctx: Ctx, id: string, turns: number) {
  const ends = new Set<string>();
  let wake = () => {};
  const close = await subscribe(ctx, id, (type, _at, _now, eventId) => {
    if (type !== 'session.status_idle') return;
    ends.add(eventId);
    wake();
  });
  try {
    for await (const e of ctx.server.client.beta.sessions.events.list(id, { limit: 100 })) if (e.type === 'session.status_idle') ends.add(e.id);
    while (ends.size < turns + 1) await new Promise<void>((resolve) => (wake = resolve));
  } finally {
    close();
  }
  return waitIdle(ctx.server.client, id);
}

async function idleEvents(ctx: Ctx, id: string): Promise<number> {
  let n = 0;
  for await (const e of ctx.server.client.beta.sessions.events.list(id, { limit: 100 })) if (e.type === 'session.status_idle') n++;
  return n;
}

/** Options of a plain `query()` in `dir`, as a user would run it: the agent's tools, the scripted model, nothing else. */
function plainOptions(ctx: Ctx, dir: string, tools: unknown): Options {
  const plan = planTools(tools);
  return {
    cwd: dir,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, CLAUDE_CONFIG_DIR: join(dir, '.claude'), ANTHROPIC_BASE_URL: ctx.model.url, ANTHROPIC_API_KEY: 'bench', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' },
    model: 'claude-sonnet-4-5',
    systemPrompt: { type: 'preset', preset: 'claude_code' },
    tools: plan.tools,
    allowedTools: plan.allowedTools,
    permissionMode: 'default',
    settingSources: [],
  };
}

/** The same task through plain `query()` in this process: what a user would otherwise run. */
async function plainTask(ctx: Ctx, tools: unknown): Promise<number> {
  ctx.model.setScript([...ONE_TOOL]);
  const dir = await mkdtemp(join(tmpdir(), 'bench-plain-'));
  try {
    const t0 = performance.now();
    const q = query({ prompt: 'write out.txt', options: plainOptions(ctx, dir, tools) });
    for await (const m of q) if (m.type === 'result') break;
    return performance.now() - t0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The floor under any warm start: plain `query()` in streaming-input mode,
 * its process started and idle for half a second (as a warm pool member is),
 * from pushing a message to the model's first request. A first message is
 * sent and answered before the timed ones, so every timed turn is a process's
 * second or later.
 */
async function plainLiveTurns(ctx: Ctx, tools: unknown): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-plain-live-'));
  const pending: Array<(m: unknown) => void> = [];
  const queued: unknown[] = [];
  const push = (text: string) => {
    const m = { type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null, session_id: '' };
    const waiter = pending.shift();
    if (waiter) waiter(m);
    else queued.push(m);
  };
  async function* input() {
    for (;;) yield queued.length > 0 ? queued.shift() : await new Promise((r) => pending.push(r));
  }
  const q = query({ prompt: input() as never, options: plainOptions(ctx, dir, tools) });
  const results: Array<() => void> = [];
  const reading = (async () => {
    for await (const m of q) if (m.type === 'result') results.shift()?.();
  })();
  const turn = () => new Promise<void>((r) => results.push(r));
  const out: number[] = [];
  try {
    ctx.model.setScript([{ when: 'tools', text: 'ready', repeat: true }]);
    let done = turn();
    push('hello');
    await done;
    for (let i = 0; i < ctx.runs; i++) {
      await sleep(500);
      const before = ctx.model.messageRequests().length;
      done = turn();
      const wall0 = Date.now();
      push(`turn ${i}`);
      out.push((await firstMainRequest(ctx.model, before)).getTime() - wall0);
      await done;
    }
  } finally {
    q.close();
    await Promise.race([reading.catch(() => undefined), sleep(2_000)]);
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

export async function oneToolTask(ctx: Ctx) {
  const { client } = ctx.server;
  const warm = await agentAndEnv(ctx, { warm_pool: { min: 1, max: 2 } });
  const cold = await agentAndEnv(ctx, { warm_pool: { max: 0 } });

  ctx.log('one-tool task: plain query()');
  const plain: number[] = [];
  for (let i = 0; i <= ctx.runs; i++) {
    const ms = await plainTask(ctx, warm.agent.tools);
    if (i > 0) plain.push(ms); // the first run warms the page cache
  }

  ctx.log('plain query(): a live process, message → first model request');
  const plainLive = await plainLiveTurns(ctx, warm.agent.tools);

  ctx.log('one-tool task: agenthost, cold');
  const coldFirst: number[] = [];
  const coldTotal: number[] = [];
  // A quick run keeps its first cold start too (the plain runs have warmed the page cache).
  for (let i = ctx.quick ? 1 : 0; i <= ctx.runs; i++) {
    const r = await agenthostTask(ctx, cold.agent.id, cold.env.id);
    if (i > 0) {
      coldFirst.push(r.first);
      coldTotal.push(r.total);
    }
    await client.beta.sessions.delete(r.id);
  }

  ctx.log('one-tool task: agenthost, warm pool');
  const warmTotal: number[] = [];
  const warmFirst: number[] = [];
  const secondFirst: number[] = [];
  const second: number[] = [];
  const sendFirst: number[] = [];
  let hits = 0;
  let sendHits = 0;
  // The first creation turns the pool on.
  await client.beta.sessions.delete((await agenthostTask(ctx, warm.agent.id, warm.env.id)).id);
  for (let i = 0; i < ctx.runs; i++) {
    await poolReady(client, warm.env.id);
    const r = await agenthostTask(ctx, warm.agent.id, warm.env.id);
    warmTotal.push(r.total);
    warmFirst.push(r.first);
    if (r.warm) hits++;
    // Second turn in the same live session.
    ctx.model.setScript([{ when: 'tools', text: 'again' }]);
    const turnsBefore = await idleEvents(ctx, r.id);
    const before = ctx.model.messageRequests().length;
    const wall0 = Date.now();
    const t0 = performance.now();
    await client.beta.sessions.events.send(r.id, { events: msg('once more') });
    const firstAt = await firstMainRequest(ctx.model, before);
    await waitIdleAfterModel(ctx, r.id, turnsBefore);
    second.push(performance.now() - t0);
    secondFirst.push(firstAt.getTime() - wall0);
    await client.beta.sessions.delete(r.id);

    // Create, then send: the pattern most clients use.
    await poolReady(client, warm.env.id);
    const s = await agenthostTask(ctx, warm.agent.id, warm.env.id, 'send');
    sendFirst.push(s.first);
    if (s.warm) sendHits++;
    await client.beta.sessions.delete(s.id);
  }
  const p = stats(plain);
  const a = stats(warmTotal);
  return {
    plain_query_ms: p,
    agenthost_warm_ms: a,
    ratio_p50: a.p50 / p.p50,
    agenthost_cold_ms: stats(coldTotal),
    plain_live_first_request_ms: stats(plainLive),
    cold_first_request_ms: stats(coldFirst),
    warm_first_request_ms: stats(warmFirst),
    warm_hits: hits,
    warm_send_first_request_ms: stats(sendFirst),
    warm_send_hits: sendHits,
    second_turn_first_request_ms: stats(secondFirst),
    second_turn_ms: stats(second),
  };
}

export async function resume(ctx: Ctx) {
  const { client } = ctx.server;
  ctx.log('resume from hibernation');
  const { agent, env } = await agentAndEnv(ctx, { warm_pool: { max: 0 }, lifecycle: { pattern: 'hybrid', idle_timeout_s: 1 } });
  const samples: number[] = [];
  // A full run discards its first resume (cold caches); a quick one keeps every one.
  for (let i = ctx.quick ? 1 : 0; i <= ctx.runs; i++) {
    ctx.model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id, initial_events: msg('hello') });
    await waitIdle(client, session.id, 'hibernated');
    const before = ctx.model.messageRequests().length;
    const wall0 = Date.now();
    await client.beta.sessions.events.send(session.id, { events: msg('again') });
    const first = await firstMainRequest(ctx.model, before);
    if (i > 0) samples.push(first.getTime() - wall0);
    await waitIdle(client, session.id, 'live');
    await client.beta.sessions.delete(session.id);
  }
  return { first_request_ms: stats(samples) };
}

/** Opens an SSE stream and calls `onEvent(type, processedAtMs, receivedAtMs, id)` per event. */
function subscribe(ctx: Ctx, sessionId: string, onEvent: (type: string, processedAt: number, receivedAt: number, id: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(`${ctx.server.url}/v1/sessions/${sessionId}/events/stream`, {
      headers: { 'x-api-key': ctx.server.key, 'anthropic-beta': 'managed-agents-2026-04-01', accept: 'text/event-stream' },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = Date.now();
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data:'));
          if (!data) continue;
          const e = JSON.parse(data.slice(5)) as { id: string; type: string; processed_at?: string };
          if (e.processed_at) onEvent(e.type, Date.parse(e.processed_at), now, e.id);
        }
      });
      resolve(() => req.destroy());
    });
    req.on('error', () => undefined);
    req.end();
  });
}

export async function events(ctx: Ctx) {
  const { client } = ctx.server;
  ctx.log('event streaming');
  const { agent, env } = await agentAndEnv(ctx, { warm_pool: { max: 0 } });
  // A turn held open by a long tool: messages sent meanwhile are committed and fanned out, and wait.
  ctx.model.setScript([{ when: 'tools', tool_use: { name: 'Bash', input: { command: 'sleep 120' } } }, { when: 'tools', repeat: true, text: 'done' }]);
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id, initial_events: msg('wait') });
  for (;;) {
    const page = await client.beta.sessions.events.list(session.id, { limit: 100 });
    if (page.data.some((e) => e.type === 'agent.tool_use')) break;
    await sleep(20);
  }

  const lagRun = async (subscribers: number, count: number) => {
    const lags: number[] = [];
    const closers = await Promise.all(
      Array.from({ length: subscribers }, () => subscribe(ctx, session.id, (type, at, now) => type === 'user.message' && lags.push(now - at))),
    );
    await sleep(200);
    // Paced well below saturation: this is latency, not throughput.
    for (let i = 0; i < count; i++) {
      await client.beta.sessions.events.send(session.id, { events: msg(`lag ${i}`) });
      await sleep(10);
    }
    await sleep(300);
    for (const close of closers) close();
    return lags;
  };
  // Enough rounds that one subscriber's p99 is more than its maximum.
  const count = ctx.quick ? 80 : 300;
  const lag1 = stats(await lagRun(1, count));
  const lag100 = stats(await lagRun(100, count));

  // Throughput: concurrent senders of 20-event batches while 100 subscribers read.
  let delivered = 0;
  const closers = await Promise.all(Array.from({ length: 100 }, () => subscribe(ctx, session.id, () => void delivered++)));
  await sleep(200);
  let committed = 0;
  const until = Date.now() + (ctx.quick ? 1_000 : 5_000);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        await client.beta.sessions.events.send(session.id, { events: Array.from({ length: 20 }, (_, i) => msg(`load ${i}`)[0]!) });
        committed += 20;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await sleep(500);
  for (const close of closers) close();
  await client.beta.sessions.delete(session.id);
  return {
    subscribers: 100,
    events_per_s: committed / seconds,
    deliveries_per_s: delivered / seconds,
    lag_1_ms: lag1,
    lag_100_ms: lag100,
    added_p50_ms: lag100.p50 - lag1.p50,
    added_p99_ms: lag100.p99 - lag1.p99,
  };
}

/**
 * 1,000 hibernated sessions: created through the API, then given the rows a
 * hibernated session has (its events, a transcript, runtime `hibernated`)
 * through a second handle on the store, as a restored server would find
 * them. Then every one is listed and retrieved, and the server's RSS read.
 */
export async function hibernated(ctx: Ctx, dataDir: string) {
  const { client } = ctx.server;
  ctx.log('1,000 hibernated sessions');
  const { agent, env } = await agentAndEnv(ctx, { warm_pool: { max: 0 } });
  const rssBefore = await ctx.server.rssMiB();
  const ids: string[] = [];
  for (let i = 0; i < 1000; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => client.beta.sessions.create({ agent: agent.id, environment_id: env.id })));
    ids.push(...batch.map((s) => s.id));
  }
  const store = await openStore({ dataDir, log: silentLogger() });
  const transcripts = new TranscriptStore(store);
  const at = new Date().toISOString();
  const ev = (type: string, fields: Record<string, unknown> = {}) => {
    const id = newId('sevt');
    return { id, type, createdAt: at, body: { id, type, ...fields, processed_at: at } };
  };
  for (const id of ids) {
    await store.appendEvents(
      id,
      [
        ev('user.message', { content: [{ type: 'text', text: 'summarise the quarterly numbers in notes.md' }] }),
        ev('session.status_running'),
        ev('span.model_request_start'),
        ev('agent.message', { content: [{ type: 'text', text: 'Done: notes.md now has a summary of the quarter. '.repeat(8) }] }),
        ev('span.model_request_end', { is_error: false, model_usage: { input_tokens: 2400, output_tokens: 180, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } }),
        ev('session.status_idle', { stop_reason: { type: 'end_turn' } }),
      ],
      {
        status: 'idle',
        updatedAt: at,
        body: {
          ...((await store.getSession(ctx.server.workspaceId, id))!.body),
          runtime: { sandbox_state: 'hibernated', provider: 'bwrap', pattern: 'hybrid', cli_version: null, hibernated_at: at },
          internal: { claude_session_id: id },
        },
      },
    );
    await transcripts.append({ projectKey: id, sessionId: id }, Array.from({ length: 6 }, (_, i) => ({ type: i % 2 ? 'assistant' : 'user', uuid: `${id}-${i}`, timestamp: at, message: { content: 'x'.repeat(600) } })));
  }
  await store.close();
  // Touch every one through the server.
  let listed = 0;
  for await (const _s of client.beta.sessions.list({ limit: 100 })) listed++;
  for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => client.beta.sessions.retrieve(id)));
  await sleep(500);
  return { sessions: ids.length, listed, server_rss_before_mib: rssBefore, server_rss_mib: await ctx.server.rssMiB() };
}

interface AutocannonResult {
  latency: { p50: number; p99: number };
  requests: { sent: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<AutocannonResult>;

export async function apiLatency(ctx: Ctx) {
  const { client } = ctx.server;
  ctx.log('API latency (autocannon)');
  const { agent, env } = await agentAndEnv(ctx, { warm_pool: { max: 0 } });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  const headers = { 'x-api-key': ctx.server.key, 'anthropic-beta': 'managed-agents-2026-04-01', 'anthropic-version': '2023-06-01' };
  const out = [];
  for (const [route, path] of [['retrieve', `/v1/sessions/${session.id}`], ['list', '/v1/sessions?limit=20']] as const) {
    for (const rate of [100, 500]) {
      const r = await autocannon({ url: `${ctx.server.url}${path}`, headers, connections: 10, overallRate: rate, duration: ctx.quick ? 1 : 5 });
      out.push({ route, rate, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors, sent: r.requests.sent });
    }
  }
  return out;
}

export async function density(ctx: Ctx) {
  const { client } = ctx.server;
  ctx.log('density');
  const { agent, env } = await agentAndEnv(ctx, { warm_pool: { max: 0 }, lifecycle: { pattern: 'long_running' } });
  ctx.model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);
  const levels = ctx.quick ? [1, 2] : [1, 2, 4, 8, 16];
  const ids: string[] = [];
  const treeBefore = await ctx.server.treeMemoryMiB();
  const out: Array<{ live: number; turn_ms: number }> = [];
  let perSession = { rss: NaN, pss: NaN };
  let verdict = '';
  for (const level of levels) {
    while (ids.length < level) {
      const s = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id, initial_events: msg('hello') });
      await waitIdleAfterModel(ctx, s.id, 0);
      ids.push(s.id);
    }
    await sleep(1000);
    if (level === levels[levels.length - 1]) {
      const tree = await ctx.server.treeMemoryMiB();
      perSession = { rss: (tree.rss - treeBefore.rss) / ids.length, pss: (tree.pss - treeBefore.pss) / ids.length };
    }
    const turns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const turnsBefore = await idleEvents(ctx, ids[0]!);
      const t0 = performance.now();
      await client.beta.sessions.events.send(ids[0]!, { events: msg('ping') });
      await waitIdleAfterModel(ctx, ids[0]!, turnsBefore);
      turns.push(performance.now() - t0);
    }
    const turn = stats(turns).p50;
    out.push({ live: level, turn_ms: turn });
    if (turn > 2 * out[0]!.turn_ms) {
      verdict = `${out[out.length - 2]?.live ?? level} (doubled at ${level})`;
      break;
    }
  }
  if (!verdict) verdict = `≥ ${ids.length} (not reached)`;
  for (const id of ids) await client.beta.sessions.delete(id);
  return { live_idle_rss_mib_per_session: perSession.rss, live_idle_pss_mib_per_session: perSession.pss, levels: out, max_live_before_doubling: verdict };
}

/**
 * Each sandbox provider's cold start, create → first model request, and its
 * one-tool task end to end, no warm pool: a server of its own (`server`) that
 * runs the providers named besides bwrap.
 */
export async function providerColdStarts(ctx: Ctx, providers: string[]) {
  const out: Record<string, { first_request_ms: Stats; task_ms: Stats; idle: Awaited<ReturnType<typeof idleServerCpu>> }> = {};
  for (const provider of ['bwrap', ...providers]) {
    ctx.log(`cold start: ${provider}`);
    const { agent, env } = await agentAndEnv(ctx, { sandbox: { provider }, warm_pool: { max: 0 } });
    const first: number[] = [];
    const total: number[] = [];
    // The first run warms caches (page cache, image layers, gVisor's binary).
    for (let i = 0; i <= ctx.runs; i++) {
      const r = await agenthostTask(ctx, agent.id, env.id);
      if (i > 0) {
        first.push(r.first);
        total.push(r.total);
      }
      await ctx.server.client.beta.sessions.delete(r.id);
    }
    out[provider] = { first_request_ms: stats(first), task_ms: stats(total), idle: await idleServerCpu(ctx, provider) };
  }
  return out;
}

/**
 * What live idle sessions cost the server while nothing happens in them:
 * its CPU (with the commands it runs to watch the sandboxes) over a window
 * with `n` long_running sessions idle, less the same window with none.
 */
async function idleServerCpu(ctx: Ctx, provider: string) {
  const { client } = ctx.server;
  const n = ctx.quick ? 2 : 8;
  const windowMs = ctx.quick ? 5_000 : 20_000;
  const cpuOver = async (): Promise<number> => {
    const before = await ctx.server.cpuMs();
    await sleep(windowMs);
    return ((await ctx.server.cpuMs()) - before) / (windowMs / 1000);
  };
  const baseline = await cpuOver();
  const { agent, env } = await agentAndEnv(ctx, { sandbox: { provider }, warm_pool: { max: 0 }, lifecycle: { pattern: 'long_running' } });
  ctx.model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id, initial_events: msg('hello') });
    await waitIdleAfterModel(ctx, s.id, 0);
    ids.push(s.id);
  }
  // Past the first seconds of each sandbox's watch, which look more often.
  await sleep(3_000);
  const loaded = await cpuOver();
  for (const id of ids) await client.beta.sessions.delete(id);
  return { sessions: n, server_cpu_ms_per_s: loaded, baseline_cpu_ms_per_s: baseline, per_session_cpu_ms_per_s: (loaded - baseline) / n };
}
