import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../logger.js';
import type { SandboxCgroup } from './cgroups/cgroup.js';
import { hostCommand } from './host-commands.js';
import { readProcStat, type ProcStat } from './host-processes.js';
import type { LimitEvent, SandboxLimits } from './provider.js';
import { fileLimitMessage, WrittenFiles } from './written-files.js';

/**
 * Watches one sandbox's cgroup and turns what the kernel did (an OOM kill, a
 * refused fork) and what it cannot do (a wall-clock limit per tool, a disk
 * quota on plain directories) into kills and reports.
 *
 * A "tool" is any process in the sandbox except those the provider names as
 * protected: its own machinery and the commands `spawn` started (the Claude
 * Code CLI). Tools are what get killed; the CLI sees its tool fail and goes
 * on, and the user reads the report as a `session.error`.
 */

/** Linux's USER_HZ: /proc/<pid>/stat start times are in these ticks on every architecture agenthost runs on. */
const TICKS_PER_SECOND = 100;

export interface WatchedProc {
  pid: number;
  ppid: number;
  /** Seconds since boot. */
  startedAt: number;
}

/**
 * Tools older than `timeoutS`, with their descendants (which may be younger
 * but die with them): the pids to kill, and the over-age ones to name.
 */
export function timedOutTools(procs: WatchedProc[], protectedPids: ReadonlySet<number>, nowS: number, timeoutS: number): { kill: number[]; culprits: number[] } {
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const culprits = procs.filter((p) => !protectedPids.has(p.pid) && nowS - p.startedAt >= timeoutS).map((p) => p.pid);
  const kill = new Set<number>();
  const visit = (pid: number): void => {
    if (kill.has(pid) || protectedPids.has(pid)) return;
    kill.add(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  for (const pid of culprits) visit(pid);
  return { kill: [...kill], culprits };
}

export function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

export function commandLine(pid: number, max = 160): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd.length > max ? `${cmd.slice(0, max)}...` : cmd;
  } catch {
    return `pid ${pid}`;
  }
}

export function exePath(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** Bytes allocated on disk under `dirs` (hard links counted once, sparse holes not at all). */
export async function diskUsage(dirs: string[]): Promise<number> {
  const r = await hostCommand('du', ['-s', '-c', '-B1', '--', ...dirs]);
  // du exits 1 when a file vanished mid-walk; its total is still good.
  const total = /^(\d+)\s+total$/m.exec(r.stdout);
  if (!total) throw new Error(`du printed no total: ${r.error ?? r.stdout}`);
  return Number(total[1]);
}

export interface WatchdogOptions {
  limits: SandboxLimits;
  cgroup: SandboxCgroup;
  /** Host directories the sandbox writes, counted against `diskMib`. */
  writableDirs: string[];
  /** Host pids never killed as tools, given the sandbox's processes. */
  protectedPids: (procs: ProcStat[]) => Set<number>;
  report: (event: LimitEvent) => void;
  log: Logger;
  /** How often counters, tool clocks and (see diskIntervalMs) disk use are looked at. Default 500. */
  intervalMs?: number;
  /** Least time between two disk scans; a slow scan stretches it. Default 2000. */
  diskIntervalMs?: number;
  /** Kills the tools when they are not host processes (gVisor); the count is then unknown. */
  killTools?: () => void;
  /** Where the sandbox's processes see `writableDirs` at other paths (its home), for `WrittenFiles`. */
  insideDirs?: string[];
  /**
   * The processes whose open files `WrittenFiles` looks at, given the sandbox's. Default all. gVisor
   * narrows it: its stub processes share the sentry's hundreds or thousands of descriptors, and a fork bomb makes hundreds of stubs.
   */
  fileWriters?: (procs: ProcStat[]) => number[];
}

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private last = { oomKills: 0, pidsRefused: 0 };
  /** A kill of the tools in rounds is under way (a fork bomb's): later ticks leave it to finish and report. */
  private killing = false;
  /** Which kill may report: `stop` reports at once, and the kill under way then does not. */
  private killRun = 0;
  private diskBusy = false;
  private nextDiskAt = 0;
  /** The last disk scan, and the growth it showed since the one before (bytes per ms; undefined until two scans). */
  private lastDisk: { used: number; at: number; limit: number } | undefined;
  private diskRate: number | undefined;
  /** Usage when tools were last killed for disk, so deleting files (which needs a tool) is not punished. */
  private diskKilledAt = 0;
  /** Files being written, held so a writer stopped by RLIMIT_FSIZE is reported however soon its file is deleted. */
  private readonly files: WrittenFiles;

  constructor(private readonly o: WatchdogOptions) {
    this.files = new WrittenFiles({
      dirs: [...o.writableDirs, ...(o.insideDirs ?? [])],
      limitBytes: o.limits.diskMib * 1024 * 1024,
      onLimit: (file) => o.report({ kind: 'disk', message: fileLimitMessage(o.limits.diskMib, file) }),
      log: o.log,
    });
  }

  start(): void {
    if (this.timer) return;
    this.last = this.o.cgroup.counters();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs ?? 500);
    this.timer.unref();
  }

  /** Stops watching, after a last look at the kernel's counters (an OOM kill may have just ended everything). */
  stop(): void {
    if (this.timer) {
      try {
        this.checkCounters(true);
      } catch {
        // The cgroup is already gone.
      }
      clearInterval(this.timer);
      void this.files.close(this.fileWriters(this.procs()));
    }
    this.timer = undefined;
  }

  /** The host pids whose open files `WrittenFiles` looks at. */
  private fileWriters(procs: ProcStat[]): number[] {
    return this.o.fileWriters ? this.o.fileWriters(procs) : procs.map((p) => p.pid);
  }

  private scanFiles(procs: ProcStat[]): void {
    void this.files.scan(this.fileWriters(procs));
  }

  private procs(): ProcStat[] {
    return this.o.cgroup.pids().flatMap((pid) => readProcStat(pid) ?? []);
  }

  /**
   * SIGKILLs every tool, in rounds while new ones appear (a fork bomb forks
   * into the slots that kills free). Returns how many were killed. The event
   * loop runs between rounds: a bomb's rounds of hundreds of /proc reads and
   * kills each took it for 750 ms at once on a loaded host.
   */
  async killTools(): Promise<number> {
    if (this.o.killTools) {
      this.o.killTools();
      return -1;
    }
    let killed = 0;
    for (let round = 0; round < 20; round++) {
      if (round > 0) await new Promise((r) => setImmediate(r));
      const procs = this.procs();
      const keep = this.o.protectedPids(procs);
      const tools = procs.filter((p) => !keep.has(p.pid));
      if (tools.length === 0) break;
      for (const p of tools) {
        try {
          process.kill(p.pid, 'SIGKILL');
          killed++;
        } catch {
          // Gone already.
        }
      }
    }
    return killed;
  }

  private tick(): void {
    try {
      this.checkCounters();
      // Read once a tick: a gVisor sandbox's host processes number in the hundreds under a fork bomb.
      const procs = this.procs();
      this.checkToolTimeout(procs);
      this.scanFiles(procs);
      this.checkDisk();
    } catch (error) {
      this.o.log.warn({ err: error }, 'sandbox watchdog check failed');
    }
  }

  /** `final`: the sandbox is going, and its cgroup's removal kills what is left: a refused fork is reported at once. */
  private checkCounters(final = false): void {
    const now = this.o.cgroup.counters();
    const { limits } = this.o;
    const pidsMessage = (killed: number): string =>
      `the sandbox reached its limit of ${limits.pids} processes (config.sandbox.pids): further processes were refused and ${killed < 0 ? 'its tool processes' : `its ${killed} tool process(es)`} were killed`;
    if (now.pidsRefused > this.last.pidsRefused && final) {
      this.killRun++;
      this.o.report({ kind: 'pids', message: pidsMessage(-1) });
    } else if (now.pidsRefused > this.last.pidsRefused && !this.killing) {
      this.killing = true;
      const run = ++this.killRun;
      void this.killTools()
        .then((killed) => run === this.killRun && this.o.report({ kind: 'pids', message: pidsMessage(killed) }))
        .finally(() => {
          this.killing = false;
          // Read again: killing tools may itself have been refused forks' last gasp.
          this.last.pidsRefused = this.o.cgroup.counters().pidsRefused;
        });
    }
    if (now.oomKills > this.last.oomKills) {
      this.o.report({
        kind: 'memory',
        message: `the sandbox ran out of memory (config.sandbox.memory_mib: ${limits.memoryMib}): the kernel killed ${now.oomKills - this.last.oomKills} process(es)`,
      });
    }
    this.last.oomKills = now.oomKills;
    if (!this.killing) this.last.pidsRefused = now.pidsRefused;
  }

  private checkToolTimeout(procs: ProcStat[]): void {
    const timeout = this.o.limits.toolTimeoutS;
    if (timeout === null) return;
    const watched = procs.map((p) => ({ pid: p.pid, ppid: p.ppid, startedAt: Number(p.startTime) / TICKS_PER_SECOND }));
    const { kill, culprits } = timedOutTools(watched, this.o.protectedPids(procs), uptimeSeconds(), timeout);
    if (kill.length === 0) return;
    const named = culprits.slice(0, 1).map((pid) => commandLine(pid));
    for (const pid of kill) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    this.o.report({
      kind: 'tool_timeout',
      message: `a tool ran longer than config.sandbox.tool_timeout_s (${timeout} s) and was killed with ${kill.length - 1} process(es) it started: ${named.join(', ')}`,
    });
  }

  /**
   * When to scan the disk next. A quiet sandbox is scanned every
   * `diskIntervalMs`; one that is writing is scanned at half the time its
   * growth rate needs to reach the limit (down to 50 ms), so a fast
   * writer overshoots by a fraction of the limit rather than by two seconds
   * of writes. A slow scan (a huge workspace) stretches every interval.
   */
  private nextDiskIntervalMs(scanMs: number): number {
    const base = this.o.diskIntervalMs ?? 2_000;
    const last = this.lastDisk;
    let interval = base;
    if (this.diskRate === undefined) interval = Math.min(base, 500);
    else if (last && this.diskRate > 0) interval = Math.min(base, Math.max(50, (last.limit - last.used) / this.diskRate / 2));
    return Math.max(interval, scanMs * 4);
  }

  private checkDisk(): void {
    if (this.diskBusy || Date.now() < this.nextDiskAt || this.o.writableDirs.length === 0) return;
    this.diskBusy = true;
    const started = Date.now();
    const limit = this.o.limits.diskMib * 1024 * 1024;
    void diskUsage(this.o.writableDirs)
      .then(async (used) => {
        const now = Date.now();
        if (this.lastDisk) this.diskRate = Math.max(0, (used - this.lastDisk.used) / Math.max(1, now - this.lastDisk.at));
        this.lastDisk = { used, at: now, limit };
        if (used <= limit) {
          this.diskKilledAt = 0;
          return;
        }
        if (this.diskKilledAt !== 0 && used <= this.diskKilledAt) return;
        this.diskKilledAt = used;
        const killed = await this.killTools();
        this.o.report({
          kind: 'disk',
          message: `the sandbox's files reached ${Math.round(used / 1024 / 1024)} MiB, over config.sandbox.disk_mib (${this.o.limits.diskMib}): ${killed < 0 ? 'its tool processes' : `its ${killed} tool process(es)`} were killed; delete files to go on`,
        });
      })
      .catch((error: unknown) => this.o.log.warn({ err: error }, 'disk usage check failed'))
      .finally(() => {
        this.diskBusy = false;
        const interval = this.nextDiskIntervalMs(Date.now() - started);
        this.nextDiskAt = Date.now() + interval;
        // Sooner than the next tick: a timer of its own.
        if (this.timer && interval < (this.o.intervalMs ?? 500)) setTimeout(() => this.timer && this.checkDisk(), interval).unref();
      });
  }
}
