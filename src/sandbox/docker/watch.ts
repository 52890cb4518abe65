import type { Logger } from '../../logger.js';
import type { LimitEvent, SandboxLimits } from '../provider.js';
import { diskUsage } from '../watchdog.js';
import { fileLimitMessage, WrittenFiles } from '../written-files.js';
import type { Monitor } from './monitor.js';
import { toolsOf, withDescendants, type StatLine } from './spec.js';

/**
 * What the engine enforces but does not report, and what it cannot
 * enforce: once a second the container's monitor lists its processes and
 * cgroup counters. An OOM kill or a refused fork becomes a report (and for
 * pids, every tool is killed: a fork bomb); a tool older than
 * `toolTimeoutS` is killed with what it started; the bind-mounted
 * directories are measured, and over `diskMib` the tools are killed.
 * Twice a second the files the container's processes write are looked at
 * (`WrittenFiles`, through their host pids): one stopped by RLIMIT_FSIZE is
 * reported even when it is deleted at once, as Claude Code does with a Bash
 * tool's output.
 */
export class DockerWatch {
  private timer: NodeJS.Timeout | undefined;
  /** The tick under way: ticks never overlap, and the last look waits for one. */
  private ticking: Promise<void> | undefined;
  private last = { oomKills: 0, pidsMax: 0 };
  private readonly firstSeen = new Map<string, number>();
  private machinery = new Set<number>();
  private nextDiskAt = 0;
  private diskKilledAt = 0;
  private diskBusy = false;
  private latest: StatLine[] = [];
  private filesTimer: NodeJS.Timeout | undefined;
  private readonly files: WrittenFiles | undefined;

  constructor(
    private readonly o: {
      monitor: Monitor;
      limits: SandboxLimits;
      writableDirs: string[];
      report: (e: LimitEvent) => void;
      log: Logger;
      intervalMs?: number;
      /** Host pids of the container's processes, for `WrittenFiles`; without it only the disk scan sees files. */
      hostPids?: () => number[];
      /** Where the container shows `writableDirs` at other paths (its home). */
      insideDirs?: string[];
      filesIntervalMs?: number;
    },
  ) {
    if (o.hostPids) {
      this.files = new WrittenFiles({
        dirs: [...o.writableDirs, ...(o.insideDirs ?? [])],
        limitBytes: o.limits.diskMib * 1024 * 1024,
        onLimit: (file) => o.report({ kind: 'disk', message: fileLimitMessage(o.limits.diskMib, file) }),
        log: o.log,
      });
    }
  }

  private scanFiles(): void {
    void this.files?.scan(this.o.hostPids?.() ?? []);
  }

  start(machinery: number[]): void {
    this.machinery = new Set(machinery);
    this.timer ??= setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, this.o.intervalMs ?? 1_000);
    this.timer.unref();
    if (this.files) {
      this.filesTimer ??= setInterval(() => this.scanFiles(), this.o.filesIntervalMs ?? 500);
      this.filesTimer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.filesTimer) {
      clearInterval(this.filesTimer);
      this.filesTimer = undefined;
      void this.files?.close(this.o.hostPids?.() ?? []);
    }
  }

  /**
   * Stops watching after a last look at the counters, as the sandbox goes: a
   * fork bomb that makes the CLI abort ends the session's process, and with
   * it the sandbox, usually before the next tick would have reported it.
   */
  async finish(): Promise<void> {
    if (!this.timer) return;
    this.stop();
    const timeout = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
    const lastLook = (this.ticking ?? Promise.resolve()).then(() => this.checkCounters());
    await Promise.race([lastLook.catch((error: unknown) => this.o.log.warn({ err: error }, 'docker sandbox watch failed')), timeout(5_000)]);
  }

  private tools(procs: StatLine[]): StatLine[] {
    return toolsOf(procs, this.machinery);
  }

  /** Kills every tool now; the count killed. */
  private killTools(procs: StatLine[]): number {
    const tools = this.tools(procs);
    this.o.monitor.kill(tools.map((t) => t.pid));
    return tools.length;
  }

  private async tick(): Promise<void> {
    try {
      const { limits } = this.o;
      const now = await this.checkCounters();
      if (limits.toolTimeoutS !== null) this.checkTimeouts(now.procs, limits.toolTimeoutS);
      this.checkDisk();
    } catch (error) {
      this.o.log.warn({ err: error }, 'docker sandbox watch failed');
    }
  }

  /** Reports (and for a fork bomb, kills the tools of) what the counters gained since the last look. */
  private async checkCounters(): Promise<Awaited<ReturnType<Monitor['tick']>>> {
    const { limits, report } = this.o;
    const now = await this.o.monitor.tick();
    this.latest = now.procs;
    if (now.pidsMax > this.last.pidsMax || now.procs.length >= limits.pids - 1) {
      // Killed in rounds: a bomb's survivors fork again between a list and its kill.
      let killed = this.killTools(now.procs);
      for (let round = 0; round < 5 && killed > 0; round++) killed = this.killTools((await this.o.monitor.tick()).procs);
      report({
        kind: 'pids',
        message: `the sandbox reached its limit of ${limits.pids} processes (config.sandbox.pids): further processes were refused and its tool processes were killed`,
      });
    }
    if (now.oomKills > this.last.oomKills) {
      report({
        kind: 'memory',
        message: `the sandbox ran out of memory (config.sandbox.memory_mib: ${limits.memoryMib}): the kernel killed ${now.oomKills - this.last.oomKills} process(es)`,
      });
    }
    this.last = { oomKills: now.oomKills, pidsMax: now.pidsMax };
    return now;
  }

  private checkTimeouts(procs: StatLine[], timeoutS: number): void {
    const now = Date.now();
    const tools = this.tools(procs);
    const seen = new Set<string>();
    const over: StatLine[] = [];
    for (const t of tools) {
      const key = `${t.pid}/${t.startTime}`;
      seen.add(key);
      const first = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, first);
      if (now - first >= timeoutS * 1000) over.push(t);
    }
    for (const key of this.firstSeen.keys()) if (!seen.has(key)) this.firstSeen.delete(key);
    if (over.length === 0) return;
    const toolPids = new Set(tools.map((t) => t.pid));
    const kill = withDescendants(procs, over.map((t) => t.pid), (p) => toolPids.has(p.pid));
    this.o.monitor.kill(kill);
    this.o.report({
      kind: 'tool_timeout',
      message: `a tool ran longer than config.sandbox.tool_timeout_s (${timeoutS} s) and was killed with ${kill.length - over.length} process(es) it started: ${over.map((t) => t.comm).join(', ')}`,
    });
  }

  private checkDisk(): void {
    if (this.diskBusy || Date.now() < this.nextDiskAt) return;
    this.diskBusy = true;
    const started = Date.now();
    const limit = this.o.limits.diskMib * 1024 * 1024;
    void diskUsage(this.o.writableDirs)
      .then((used) => {
        if (used <= limit) {
          this.diskKilledAt = 0;
          return;
        }
        // Again only while usage still grows, so `rm` can run.
        if (this.diskKilledAt !== 0 && used <= this.diskKilledAt) return;
        this.diskKilledAt = used;
        const killed = this.killTools(this.latest);
        this.o.report({
          kind: 'disk',
          message: `the sandbox's files reached ${Math.round(used / 1024 / 1024)} MiB, over config.sandbox.disk_mib (${this.o.limits.diskMib}): its ${killed} tool process(es) were killed; delete files to go on`,
        });
      })
      .catch((error: unknown) => this.o.log.warn({ err: error }, 'disk usage check failed'))
      .finally(() => {
        this.diskBusy = false;
        this.nextDiskAt = Date.now() + Math.max(2_000, (Date.now() - started) * 10);
      });
  }
}
