import { hostCommandOutput } from '../host-commands.js';

/** How agenthost runs runsc: its binary and the global flags every call shares. */
export interface Runsc {
  path: string;
  /** runsc's state directory (one per runtime dir). */
  root: string;
  /** Extra global flags, e.g. `--platform=kvm`. */
  flags: string[];
}

/**
 * Global flags, then the subcommand. No network stack but loopback; host
 * Unix sockets may be connected to (the gateway and egress sockets bound in)
 * but not created; cgroups are left to agenthost, which puts the whole
 * runsc process tree in the sandbox's cgroup. The bundle's seccomp filter
 * is applied inside gVisor (`--oci-seccomp`).
 */
export function runscArgs(runsc: Runsc, sub: string[]): string[] {
  return ['--root', runsc.root, '--network=none', '--host-uds=open', '--ignore-cgroups', '--oci-seccomp', ...runsc.flags, ...sub];
}

export interface RunscProcess {
  pid: number;
  ppid: number;
  /** Command name (not its arguments). */
  cmd: string;
}

/** `runsc ps` of one container: the processes inside it, by their pids inside. */
export async function runscPs(runsc: Runsc, container: string): Promise<RunscProcess[]> {
  return parsePs(await hostCommandOutput(runsc.path, runscArgs(runsc, ['ps', container])));
}

export function parsePs(text: string): RunscProcess[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 8 && /^\d+$/.test(cols[1]!))
    .map((cols) => ({ pid: Number(cols[1]), ppid: Number(cols[2]), cmd: cols.slice(7).join(' ') }));
}

/**
 * Tasks (threads) in a container, as its pids controller counts them: what
 * RLIMIT_NPROC inside counts too, where `runsc ps` lists only processes.
 */
export async function runscTasks(runsc: Runsc, container: string): Promise<number> {
  return parseTasks(await hostCommandOutput(runsc.path, runscArgs(runsc, ['events', '--stats', container])));
}

export function parseTasks(text: string): number {
  const line = text.split('\n').find((l) => l.trimStart().startsWith('{'));
  const current = line ? (JSON.parse(line) as { data?: { pids?: { current?: unknown } } }).data?.pids?.current : undefined;
  if (typeof current !== 'number') throw new Error(`runsc events --stats printed no task count: ${text.slice(0, 200)}`);
  return current;
}

/** Ids of every container runsc knows under this root. */
export async function runscList(runsc: Runsc): Promise<string[]> {
  return (await hostCommandOutput(runsc.path, runscArgs(runsc, ['list', '--quiet']))).split('\n').filter(Boolean);
}
