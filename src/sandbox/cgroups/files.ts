import type { SandboxLimits } from '../provider.js';

/**
 * What to write into a sandbox's cgroup for its limits, and how to read what
 * the kernel counted. Pure, so both cgroup versions are unit-tested on any
 * host; `cgroup.ts` does the I/O.
 *
 * v1 has one hierarchy per controller (memory, pids, cpu); v2 one tree with
 * every controller's files in each directory.
 */

export type CgroupVersion = 1 | 2;
export type Controller = 'memory' | 'pids' | 'cpu';
export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu'];

export interface CgroupWrite {
  controller: Controller;
  file: string;
  value: string;
  /** Files some kernels lack (swap accounting off): a missing one is skipped, not an error. */
  optional?: boolean;
}

/** The CFS period: quotas are in microseconds of CPU per 100 ms. */
export const CPU_PERIOD_US = 100_000;

export function limitWrites(version: CgroupVersion, limits: SandboxLimits): CgroupWrite[] {
  const memory = String(limits.memoryMib * 1024 * 1024);
  const quota = String(Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)));
  if (version === 1) {
    return [
      { controller: 'memory', file: 'memory.limit_in_bytes', value: memory },
      // Memory plus swap no larger than memory: the sandbox cannot swap its way past the limit.
      { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: memory, optional: true },
      { controller: 'pids', file: 'pids.max', value: String(limits.pids) },
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CPU_PERIOD_US) },
      ...withBurst('cpu.cfs_burst_us', { controller: 'cpu', file: 'cpu.cfs_quota_us', value: quota }, quota),
    ];
  }
  return [
    { controller: 'memory', file: 'memory.max', value: memory },
    { controller: 'memory', file: 'memory.swap.max', value: '0', optional: true },
    { controller: 'pids', file: 'pids.max', value: String(limits.pids) },
    ...withBurst('cpu.max.burst', { controller: 'cpu', file: 'cpu.max', value: `${quota} ${CPU_PERIOD_US}` }, quota),
  ];
}

/**
 * The quota write wrapped in CFS burst writes: a sandbox may spend CPU time
 * it left unused in earlier periods, up to one period's quota, so a short
 * burst of several threads (Claude Code starting: 50-95 ms of throttling per
 * start at 1 CPU without it, none with it) runs at full speed while the
 * average stays within `cpus`. The kernel refuses a burst above the quota,
 * so a reused cgroup's burst goes to 0 before its quota changes. Kernels
 * before 5.14 have no burst file: skipped.
 */
function withBurst(file: string, quotaWrite: CgroupWrite, burst: string): CgroupWrite[] {
  const burstWrite = (value: string): CgroupWrite => ({ controller: 'cpu', file, value, optional: true });
  return [burstWrite('0'), quotaWrite, burstWrite(burst)];
}

/** Parses "key value" lines (memory.events, pids.events, memory.oom_control) into numbers. */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** Kernel counters the watchdog turns into reports. */
export interface CgroupCounters {
  /** Processes the OOM killer killed in this cgroup. */
  oomKills: number;
  /** Forks refused because pids.max was reached. */
  pidsRefused: number;
}

/** Where the counters live: v1 memory.oom_control / pids.events, v2 memory.events / pids.events. */
export function counterFiles(version: CgroupVersion): { memory: string; pids: string } {
  return version === 1 ? { memory: 'memory.oom_control', pids: 'pids.events' } : { memory: 'memory.events', pids: 'pids.events' };
}

export function readCounters(memoryText: string, pidsText: string): CgroupCounters {
  return { oomKills: parseKeyed(memoryText).oom_kill ?? 0, pidsRefused: parseKeyed(pidsText).max ?? 0 };
}
