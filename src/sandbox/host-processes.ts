import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/**
 * Host-side process bookkeeping through /proc: identifying a process across
 * pid reuse, finding the members of a process group, and killing groups with
 * a grace period. Linux only (every provider that uses it is Linux only).
 */

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  /** Clock ticks since boot; with the pid it identifies one process for ever. */
  startTime: string;
}

/** Reads /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgid] = rest;
  const startTime = rest[19];
  if (state === undefined || ppid === undefined || pgid === undefined || startTime === undefined) return undefined;
  return { pid, ppid: Number(ppid), pgid: Number(pgid), state, startTime };
}

/** Every process on the host (in this pid namespace) that is not a zombie. */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat && stat.state !== 'Z' && stat.state !== 'X') out.push(stat);
  }
  return out;
}

/** True when `pid` is alive (not a zombie) and is the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * A process group we started: the pid of its leader and the leader's start
 * time, persisted so a later run of agenthost can find the group again.
 */
export interface GroupRecord {
  pgid: number;
  startTime: string;
}

/**
 * Live members of the group, or [] when the group is gone or the pgid now
 * belongs to a different group. While any member of a group lives the kernel
 * does not hand its id to a new process, so a group whose leader has exited
 * is still ours; a leader with another start time means the id was reused.
 */
export function groupMembers(group: GroupRecord, all: ProcStat[] = listProcesses()): ProcStat[] {
  const members = all.filter((p) => p.pgid === group.pgid);
  const leader = members.find((p) => p.pid === group.pgid);
  if (leader && leader.startTime !== group.startTime) return [];
  return members;
}

/** Sends `signal` to the group if it is still ours; returns whether anything was signalled. */
export function signalGroup(group: GroupRecord, signal: NodeJS.Signals): boolean {
  if (groupMembers(group).length === 0) return false;
  try {
    process.kill(-group.pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Unref'd unless `keepAlive`, so a pending cleanup never holds open a server
 * that is shutting down (tests that wait on nothing else pass keepAlive).
 */
export const sleep = (ms: number, keepAlive = false): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (!keepAlive) timer.unref();
  });

/** Polls until `done()` or the deadline; returns `done()`'s last answer. */
export async function waitFor(done: () => boolean, timeoutMs: number, options: { keepAlive?: boolean } = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await sleep(20, options.keepAlive);
  }
  return true;
}

/**
 * Stops process groups: SIGTERM to `term` groups, up to `graceMs` for every
 * group to be gone, then SIGKILL to all of them and a short wait for the
 * kernel to finish. Groups in `killOnly` get no SIGTERM (for a monitor whose
 * death would turn the others' SIGTERM into an immediate SIGKILL).
 */
export async function stopGroups(term: GroupRecord[], killOnly: GroupRecord[], graceMs: number): Promise<void> {
  const all = [...term, ...killOnly];
  const gone = (): boolean => {
    const procs = listProcesses();
    return all.every((g) => groupMembers(g, procs).length === 0);
  };
  if (gone()) return;
  let signalled = false;
  for (const g of term) signalled = signalGroup(g, 'SIGTERM') || signalled;
  if (signalled && (await waitFor(gone, graceMs))) return;
  for (const g of all) signalGroup(g, 'SIGKILL');
  await waitFor(gone, 2_000);
}

/** The signal an exit status of 128+n stands for, if n is a signal number. */
export function signalFromStatus(code: number): NodeJS.Signals | undefined {
  if (code <= 128) return undefined;
  const n = code - 128;
  const entry = Object.entries(constants.signals).find(([, num]) => num === n);
  return entry?.[0] as NodeJS.Signals | undefined;
}

/**
 * How a sandboxed process ended, as Node reports its own children: an init
 * process (bwrap's, a shell) reports a signal death as 128+n, and when we
 * sent that signal it is reported as the signal, not as the exit status.
 */
export function reportedExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  sent: ReadonlySet<NodeJS.Signals>,
): { code: number | null; signal: NodeJS.Signals | null } {
  const fromStatus = code === null ? undefined : signalFromStatus(code);
  return fromStatus && sent.has(fromStatus) ? { code: null, signal: fromStatus } : { code, signal };
}
