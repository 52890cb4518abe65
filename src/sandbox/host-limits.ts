import { existsSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { dirname } from 'node:path';
import { detectCgroups, removeLeftoverRuntimeCgroups, sandboxCgroupPath, SandboxCgroup, type CgroupLayout } from './cgroups/cgroup.js';
import { sweepOnServerExit, watchedLevels } from './cgroups/sweep-on-exit.js';
import type { ProcStat } from './host-processes.js';
import { SandboxUnsupportedError, type LimitEvent, type SandboxLimits } from './provider.js';
import { Watchdog } from './watchdog.js';

/**
 * Limits for providers whose processes run on the host kernel as host
 * processes (bwrap, process): a cgroup per sandbox that every spawned
 * process joins before it execs, RLIMIT_FSIZE so no single file outgrows the
 * disk limit, and a watchdog for what the kernel does not enforce itself.
 */

const cgroupLayouts = new Map<string, CgroupLayout | { unavailable: string }>();

/** Cgroup support at `root`, looked at once per process. */
export function cgroupLayout(root: string): CgroupLayout | { unavailable: string } {
  let layout = cgroupLayouts.get(root);
  if (!layout) {
    layout = detectCgroups(root);
    cgroupLayouts.set(root, layout);
  }
  return layout;
}

export interface HostLimitsOptions {
  provider: string;
  runtimeDir: string;
  /** Where the cgroup hierarchies are mounted (or a delegated v2 subtree). */
  cgroupRoot: string;
  id: string;
  limits: SandboxLimits;
  writableDirs: string[];
  protectedPids: (procs: ProcStat[]) => Set<number>;
  report: (event: LimitEvent) => void;
  log: Logger;
  /** Kills the tools when they are not host processes (gVisor). */
  killTools?: () => void;
  /** `writableDirs` at the paths the sandbox shows them (its home), where those differ. */
  insideDirs?: string[];
  /** Which processes' open files to watch (see `WatchdogOptions.fileWriters`). */
  fileWriters?: (procs: ProcStat[]) => number[];
}

function findPrlimit(): string | undefined {
  return ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
}

export class HostLimits {
  private readonly watchdog: Watchdog;

  private constructor(
    private readonly cgroup: SandboxCgroup,
    private readonly prlimit: string,
    private readonly limits: SandboxLimits,
    options: HostLimitsOptions,
  ) {
    this.watchdog = new Watchdog({
      limits,
      cgroup,
      writableDirs: options.writableDirs,
      protectedPids: options.protectedPids,
      report: options.report,
      log: options.log,
      ...(options.killTools ? { killTools: options.killTools } : {}),
      ...(options.insideDirs ? { insideDirs: options.insideDirs } : {}),
      ...(options.fileWriters ? { fileWriters: options.fileWriters } : {}),
    });
    this.watchdog.start();
  }

  /** Creates the sandbox's cgroup; throws SandboxUnsupportedError when this host cannot. */
  static create(options: HostLimitsOptions): HostLimits {
    const layout = cgroupLayout(options.cgroupRoot);
    const unsupported = (reason: string): SandboxUnsupportedError =>
      new SandboxUnsupportedError(options.provider, 'config.sandbox.memory_mib, cpus and pids', reason);
    if ('unavailable' in layout) throw unsupported(`${layout.unavailable}; run agenthost as root or point AGENTHOST_CGROUP_ROOT at a delegated cgroup v2 directory`);
    const prlimit = findPrlimit();
    if (!prlimit) throw new SandboxUnsupportedError(options.provider, 'config.sandbox.disk_mib', 'prlimit is missing (apt-get install util-linux)');
    let cgroup: SandboxCgroup;
    try {
      cgroup = SandboxCgroup.create(layout, sandboxCgroupPath(options.runtimeDir, options.provider, options.id), options.limits);
    } catch (error) {
      throw unsupported(`could not create a cgroup (${(error as Error).message}); run agenthost as root or point AGENTHOST_CGROUP_ROOT at a delegated cgroup v2 directory`);
    }
    sweepOnServerExit(layout, dirname(cgroup.path));
    return new HostLimits(cgroup, prlimit, options.limits, options);
  }

  /** Removes the cgroup a sandbox of an earlier run left behind, killing what is left in it. */
  static async destroyLeftover(options: { provider: string; runtimeDir: string; cgroupRoot: string; id: string }): Promise<void> {
    const layout = cgroupLayout(options.cgroupRoot);
    if ('unavailable' in layout) return;
    await SandboxCgroup.open(layout, sandboxCgroupPath(options.runtimeDir, options.provider, options.id))?.destroy();
  }

  /**
   * Removes the cgroup directories without processes that servers of
   * `provider` which are gone left (start-up cleanup, beside
   * `destroyLeftover` for each sandbox of this runtime directory): see
   * `removeLeftoverRuntimeCgroups`. A sandbox cgroup of a level no live
   * server watches goes once it is ten minutes old. Returns how many went.
   */
  static removeLeftovers(options: { provider: string; cgroupRoot: string }): number {
    const layout = cgroupLayout(options.cgroupRoot);
    if ('unavailable' in layout) return 0;
    return removeLeftoverRuntimeCgroups(layout, options.provider, { live: watchedLevels(), staleBefore: Date.now() - 10 * 60_000 });
  }

  /**
   * A host command line that joins the cgroup, caps file size and then execs
   * `command`. The pid stays the same through the execs, and inherited file
   * descriptors pass through.
   */
  wrap(command: string, args: string[], options: { fileSizeLimit?: boolean } = {}): { command: string; args: string[] } {
    const joins = this.cgroup
      .procsFiles()
      .map((f) => `echo $$ > '${f.replace(/'/g, `'\\''`)}' || exit 125`)
      .join('\n');
    const bytes = this.limits.diskMib * 1024 * 1024;
    // Not for a sandbox kernel on the host (gVisor's memory file is a host file): it gets RLIMIT_FSIZE inside.
    const exec = options.fileSizeLimit === false ? 'exec "$0" "$@"' : `exec '${this.prlimit}' --fsize=${bytes}:${bytes} -- "$0" "$@"`;
    return { command: '/bin/sh', args: ['-c', `${joins}\n${exec}`, command, ...args] };
  }

  /** Kills every tool now (not the protected processes). */
  killTools(): Promise<number> {
    return this.watchdog.killTools();
  }

  /** Stops watching, kills whatever is left in the cgroup and removes it. Idempotent. */
  async destroy(): Promise<void> {
    this.watchdog.stop();
    await this.cgroup.destroy();
  }
}
