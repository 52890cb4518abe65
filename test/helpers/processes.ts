import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Anthropic from '@anthropic-ai/sdk';
import type { AnyEvent } from './e2e.js';

/** Processes in /proc, and `bin/agenthost serve` as a child process, for tests that kill servers. */

export const BIN = fileURLToPath(new URL('../../bin/agenthost', import.meta.url));
/** Real path: the server runs Claude Code from where module resolution leads, through a symlinked node_modules (a git worktree's). */
export const CLAUDE_BINARY_DIR = `${realpathSync(fileURLToPath(new URL('../../node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/', import.meta.url)))}/`;

export interface Proc {
  pid: number;
  ppid: number;
  state: string;
  startTime: string;
  cmdline: string;
}

export async function readProc(pid: number): Promise<Proc | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    return { pid, ppid: Number(rest[1]), state: rest[0]!, startTime: rest[19]!, cmdline };
  } catch {
    return undefined;
  }
}

export async function allProcesses(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = await readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** Adds to `pids` every process in `procs` below one of them, by parent links. */
function addDescendants(procs: Proc[], pids: Set<number>): void {
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!pids.has(p.pid) && pids.has(p.ppid)) {
        pids.add(p.pid);
        grew = true;
      }
    }
  }
}

/** Every live process below `root`, by parent links. */
export async function descendants(root: number): Promise<Proc[]> {
  const procs = await allProcesses();
  const below = new Set([root]);
  addDescendants(procs, below);
  return procs.filter((p) => p.pid !== root && below.has(p.pid) && p.state !== 'Z');
}

/** True while the very process `p` (same pid and start time) is alive and not a zombie. */
export async function stillAlive(p: Proc): Promise<boolean> {
  const now = await readProc(p.pid);
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z' && now.state !== 'X';
}

/** Claude Code processes (the CLI binary, or a sandbox running it) that belong to `dataDir`. */
export async function claudeProcessesOf(dataDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await allProcesses()) {
    if (p.state === 'Z' || !p.cmdline.includes(CLAUDE_BINARY_DIR)) continue;
    const environ = await readFile(`/proc/${p.pid}/environ`, 'utf8').catch(() => '');
    if (p.cmdline.includes(dataDir) || environ.includes(dataDir)) out.push(p.pid);
  }
  return out;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Serve {
  child: ChildProcess;
  url: string;
  exited: Promise<number | string>;
  output(): string;
}

/**
 * Starts `bin/agenthost serve` and waits until it listens. `wrap` runs it
 * through a command that execs it (e.g. `prlimit --nofile=1024:1024 --`), so
 * the child's pid is still the server's.
 */
export async function startServe(env: Record<string, string>, o: { wrap?: string[] } = {}): Promise<Serve> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AGENTHOST_') && !k.startsWith('ANTHROPIC_')) base[k] = v;
  }
  const [command, ...args] = [...(o.wrap ?? []), process.execPath, BIN, 'serve'];
  const child = spawn(command!, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = out.match(/agenthost listening on (http:\/\/\S+)/);
    if (m) return { child, url: m[1]!, exited, output: () => out };
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited early:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function eventsOf(client: Anthropic, sessionId: string): Promise<AnyEvent[]> {
  const out: AnyEvent[] = [];
  for await (const e of client.beta.sessions.events.list(sessionId)) out.push(e as unknown as AnyEvent);
  return out;
}

/**
 * Every live process of one session of the server at `dataDir`: those whose
 * command line or environment names the session's own directory (its
 * Claude Code process), the bubblewrap processes around them, and
 * everything below them.
 */
export async function sessionProcesses(dataDir: string, sessionId: string): Promise<Proc[]> {
  const mark = join(dataDir, 'sessions', sessionId);
  const procs = (await allProcesses()).filter((p) => p.state !== 'Z' && p.state !== 'X');
  const own = new Set<number>();
  for (const p of procs) {
    const environ = p.cmdline.includes(mark) ? '' : await readFile(`/proc/${p.pid}/environ`, 'utf8').catch(() => '');
    if (p.cmdline.includes(mark) || environ.includes(mark)) own.add(p.pid);
  }
  // The bubblewrap processes around them take their options through a pipe, so they name no directory.
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  for (const pid of [...own]) {
    for (let up = byPid.get(byPid.get(pid)?.ppid ?? 0); up && /^(\S*\/)?bwrap /.test(up.cmdline); up = byPid.get(up.ppid)) own.add(up.pid);
  }
  addDescendants(procs, own);
  return procs.filter((p) => own.has(p.pid));
}

/** Resident (RSS) and proportional (PSS: shared pages split among their users) memory of a process in KiB; 0 once it is gone. */
export async function memoryKiB(pid: number): Promise<{ rss: number; pss: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const field = (name: string) => Number(rollup.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss') };
}
