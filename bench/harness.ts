/**
 * The benchmark's moving parts: an agenthost server in a child process of
 * its own (so its RSS and event loop are its own, apart from the load
 * generators), a scripted model in this process, and measuring helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { silentLogger } from '../src/logger.js';
import { openStore } from '../src/store/index.js';
import type { ScriptedModel } from '../src/testing/scripted-model/index.js';

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface ServerProcess {
  url: string;
  key: string;
  workspaceId: string;
  child: ChildProcess;
  client: Anthropic;
  /** RSS of the server process alone, MiB. */
  rssMiB(): Promise<number>;
  /** CPU time of the server process, with the commands it ran (not its sandboxes, which run on), ms. */
  cpuMs(): Promise<number>;
  /** RSS and PSS of the server and every process below it (sandboxes, Claude Code), MiB. */
  treeMemoryMiB(): Promise<{ rss: number; pss: number }>;
  close(): Promise<void>;
}

/**
 * Starts `agenthost serve` as a child process on a fresh data dir, with an
 * API key made beforehand.
 */
export async function startServerProcess(o: {
  dataDir: string;
  model: ScriptedModel;
  env?: Record<string, string>;
  nodeOptions?: string[];
}): Promise<ServerProcess> {
  const store = await openStore({ dataDir: o.dataDir, log: silentLogger() });
  const { key, workspaceId } = await createApiKey(store, 'bench');
  await store.close();
  const port = await freePort();
  const child = spawn(process.execPath, [...(o.nodeOptions ?? []), 'bin/agenthost', 'serve'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AGENTHOST_PORT: String(port),
      AGENTHOST_DATA_DIR: o.dataDir,
      AGENTHOST_LOG_LEVEL: 'warn',
      ANTHROPIC_BASE_URL: o.model.url,
      ANTHROPIC_API_KEY: 'bench-upstream-key',
      // The benchmark is the load: no per-key rate or stream limits in its way.
      AGENTHOST_RATE_LIMIT_RPS: '0',
      AGENTHOST_MAX_STREAMS_PER_KEY: '0',
      AGENTHOST_MAX_LIVE_SESSIONS_PER_WORKSPACE: '0',
      AGENTHOST_REAPER_INTERVAL_MS: '200',
      ...o.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const client = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0, timeout: 120_000 });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`agenthost exited at start:\n${stderr}`);
    try {
      await client.beta.agents.list();
      break;
    } catch {
      if (i > 600) throw new Error(`agenthost did not come up:\n${stderr}`);
      await sleep(100);
    }
  }
  const pid = child.pid!;
  return {
    url,
    key,
    workspaceId,
    child,
    client,
    rssMiB: async () => rssKiB(pid).then((k) => k / 1024),
    cpuMs: async () => cpuMs(pid),
    treeMemoryMiB: async () => treeMemoryKiB(pid).then((m) => ({ rss: m.rss / 1024, pss: m.pss / 1024 })),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/**
 * CPU time (ms) `pid` has used, with that of its children it has waited for
 * (the short commands it runs: `du`, `runsc ps`), from /proc/<pid>/stat.
 */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields 14-17 (utime, stime, cutime, cstime), counted after the command name, which may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0);
  return ticks * 10;
}

/**
 * Memory (KiB) of every process below `root`, and of `root` itself unless
 * `self` is false: RSS, and PSS, which splits pages several processes map
 * (Claude Code's binary, some 80 MiB of each process's RSS) among them, so
 * PSS sums to what the processes really cost.
 */
export async function treeMemoryKiB(root: number, { self = true } = {}): Promise<{ rss: number; pss: number }> {
  const parent = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(join('/proc', name, 'status'), 'utf8').catch(() => '');
    parent.set(Number(name), Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0));
  }
  const total = { rss: 0, pss: 0 };
  for (const [pid] of parent) {
    let p: number | undefined = self ? pid : parent.get(pid);
    while (p && p !== root) p = parent.get(p);
    if (p !== root) continue;
    const rollup = await readFile(join('/proc', String(pid), 'smaps_rollup'), 'utf8').catch(() => '');
    total.rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    total.pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return total;
}

/** The first main-loop model request (one that offers tools) received after `since` requests. */
export async function firstMainRequest(model: ScriptedModel, since: number, timeoutMs = 60_000): Promise<Date> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = model.messageRequests().slice(since).find((x) => Array.isArray((x.body as { tools?: unknown }).tools));
    if (r) return r.receivedAt;
    if (Date.now() > deadline) throw new Error('no model request arrived');
    await sleep(2);
  }
}

type Runtime = { sandbox_state?: string; warm_start?: boolean };

/** Polls until the session is idle with its sandbox in `state` (live by default). */
export async function waitIdle(client: Anthropic, id: string, state = 'live', timeoutMs = 120_000): Promise<Runtime> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await client.beta.sessions.retrieve(id);
    const runtime = (s as unknown as { runtime: Runtime }).runtime;
    if (s.status === 'idle' && runtime.sandbox_state === state) return runtime;
    if (Date.now() > deadline) throw new Error(`session ${id} never became idle/${state} (${s.status}/${runtime.sandbox_state})`);
    await sleep(5);
  }
}

/**
 * Waits for the environment's pool to be at rest: at least `want` members
 * ready and none starting (a start-up running meanwhile would be measured
 * with whatever comes next).
 */
export async function poolReady(client: Anthropic, envId: string, want = 1, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const env = (await client.beta.environments.retrieve(envId)) as unknown as { warm_pool_status?: { ready: number; starting: number } };
    const status = env.warm_pool_status;
    if (status && status.ready >= want && status.starting === 0) return;
    if (Date.now() > deadline) throw new Error('the warm pool did not fill');
    await sleep(20);
  }
}
