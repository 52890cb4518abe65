import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sleep } from '../host-processes.js';
import type { SandboxLimits } from '../provider.js';
import { CONTROLLERS, counterFiles, limitWrites, readCounters, type CgroupCounters, type CgroupVersion, type Controller } from './files.js';

/**
 * One cgroup per sandbox, under `agenthost/<provider>-<runtime hash>/<sandbox id>`,
 * so servers with different runtime directories (tests run several) never
 * touch each other's. Root (or a delegated subtree) is needed to create it.
 * The runtime directory's level goes with its last sandbox: every test run
 * and every server's temporary data dir would otherwise leave one behind in
 * the kernel for good.
 */

export interface CgroupLayout {
  version: CgroupVersion;
  /** Directory of each controller's hierarchy (v2: the same directory for all). */
  mounts: Record<Controller, string>;
}

/**
 * Finds writable memory, pids and cpu controllers: cgroup v2 at `root` when
 * it is the unified hierarchy with all three enabled, else v1 hierarchies at
 * `root/<controller>`. Returns a reason when neither is usable.
 */
export function detectCgroups(root = '/sys/fs/cgroup'): CgroupLayout | { unavailable: string } {
  const controllers = (() => {
    try {
      return readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      return undefined;
    }
  })();
  if (controllers) {
    const missing = CONTROLLERS.filter((c) => !controllers.includes(c));
    if (missing.length > 0) return { unavailable: `cgroup v2 at ${root} lacks the ${missing.join(', ')} controller(s)` };
    return { version: 2, mounts: { memory: root, pids: root, cpu: root } };
  }
  const mounts = {} as Record<Controller, string>;
  for (const c of CONTROLLERS) {
    const dir = join(root, c);
    if (!existsSync(join(dir, 'cgroup.procs'))) return { unavailable: `no cgroup v1 ${c} controller at ${dir} and no cgroup v2 at ${root}` };
    mounts[c] = dir;
  }
  return { version: 1, mounts };
}

/** The cgroup path (relative to each hierarchy) of a sandbox of the provider using `runtimeDir`. */
export function sandboxCgroupPath(runtimeDir: string, provider: string, id: string): string {
  const hash = createHash('sha256').update(runtimeDir).digest('hex').slice(0, 12);
  return join('agenthost', `${provider}-${hash}`, id);
}

function write(path: string, value: string): void {
  writeFileSync(path, value);
}

/** rmdir of a cgroup, which the kernel refuses while it holds processes or child cgroups: whether it is gone. */
function removeIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Removes what servers that are gone left of `provider`'s runtime-directory
 * levels (`agenthost/<provider>-<hash>`): empty levels, and in a level no
 * live server watches (`live`: the levels' directories named by running
 * `sweep-on-exit.ts` helpers) the sandbox cgroups without processes last
 * changed before `staleBefore` (a server's sandbox has processes from its
 * first spawn on; a recent one may be between its creation and that spawn).
 * Nothing with a process in it is touched: the kernel refuses to remove it,
 * atomically. A server creating its first sandbox in a level removed at that
 * very moment makes it again (`SandboxCgroup.create`). Returns how many
 * directories it removed in the first hierarchy.
 */
export function removeLeftoverRuntimeCgroups(layout: CgroupLayout, provider: string, o: { live: ReadonlySet<string>; staleBefore: number }): number {
  let removed = 0;
  const pattern = new RegExp(`^${provider.replace(/[^a-z0-9]/gi, '')}-[0-9a-f]{12}$`);
  const mounts = [...new Set(Object.values(layout.mounts))];
  const dirs = (dir: string): string[] => {
    try {
      return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  };
  for (const name of dirs(join(mounts[0]!, 'agenthost')).filter((n) => pattern.test(n))) {
    const level = (mount: string): string => join(mount, 'agenthost', name);
    if (!mounts.some((m) => o.live.has(level(m)))) {
      for (const sandbox of dirs(level(mounts[0]!))) {
        const stale = mounts.every((m) => {
          try {
            return statSync(join(level(m), sandbox)).mtimeMs < o.staleBefore;
          } catch {
            return true;
          }
        });
        if (stale && mounts.map((m) => removeIfEmpty(join(level(m), sandbox)))[0]) removed++;
      }
    }
    if (mounts.map((m) => removeIfEmpty(level(m)))[0]) removed++;
  }
  return removed;
}

export class SandboxCgroup {
  private constructor(
    readonly layout: CgroupLayout,
    /** Relative path, the same in every hierarchy. */
    readonly path: string,
  ) {}

  /**
   * Creates (or reuses) the cgroup and writes the limits. Throws with the
   * file that could not be written (not root, controller not delegated).
   */
  static create(layout: CgroupLayout, path: string, limits: SandboxLimits): SandboxCgroup {
    // Another server's start-up may remove an empty runtime level between our mkdir of it and of the
    // sandbox's own directory, or our last sandbox's destroy just did: once more finds it gone and makes it again.
    try {
      return SandboxCgroup.make(layout, path, limits);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return SandboxCgroup.make(layout, path, limits);
    }
  }

  private static make(layout: CgroupLayout, path: string, limits: SandboxLimits): SandboxCgroup {
    const cg = new SandboxCgroup(layout, path);
    const parts = path.split('/');
    for (const mount of new Set(Object.values(layout.mounts))) {
      for (let i = 0; i < parts.length; i++) {
        const parent = join(mount, ...parts.slice(0, i));
        // v2: a child gets a controller only when every ancestor enables it for its children.
        if (layout.version === 2) write(join(parent, 'cgroup.subtree_control'), CONTROLLERS.map((c) => `+${c}`).join(' '));
        mkdirSync(join(parent, parts[i]!), { recursive: true });
      }
    }
    // All sandboxes together weigh an eighth of an ordinary process when CPU is short, so
    // the API stays responsive however busy they are (under a gVisor fork bomb or stdout
    // flood /healthz answered within 170 ms; at a quarter or half a process, 0.6-1.6 s).
    // The price: other busy processes on the host starve the sandboxes (three CPU-bound
    // neighbours held a Claude Code start-up back for a minute), so give agenthost its host.
    const top = join(layout.mounts.cpu, parts[0]!);
    if (layout.version === 1) write(join(top, 'cpu.shares'), '128');
    else write(join(top, 'cpu.weight'), '12');
    for (const w of limitWrites(layout.version, limits)) {
      const file = join(cg.dir(w.controller), w.file);
      if (w.optional && !existsSync(file)) continue;
      write(file, w.value);
    }
    return cg;
  }

  /** Opens an existing sandbox cgroup (start-up cleanup), or undefined. */
  static open(layout: CgroupLayout, path: string): SandboxCgroup | undefined {
    const cg = new SandboxCgroup(layout, path);
    return existsSync(cg.dir('memory')) ? cg : undefined;
  }

  dir(controller: Controller): string {
    return join(this.layout.mounts[controller], this.path);
  }

  /** The `cgroup.procs` files a process must write its pid into to join (one per hierarchy). */
  procsFiles(): string[] {
    return [...new Set(CONTROLLERS.map((c) => join(this.dir(c), 'cgroup.procs')))];
  }

  /** Host pids of every process in the sandbox (the pids hierarchy counts them all). */
  pids(): number[] {
    try {
      return readFileSync(join(this.dir('pids'), 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  counters(): CgroupCounters {
    const files = counterFiles(this.layout.version);
    const read = (c: Controller, f: string): string => {
      try {
        return readFileSync(join(this.dir(c), f), 'utf8');
      } catch {
        return '';
      }
    };
    return readCounters(read('memory', files.memory), read('pids', files.pids));
  }

  /** Bytes of memory in use now, for diagnostics. */
  memoryBytes(): number {
    const file = this.layout.version === 1 ? 'memory.usage_in_bytes' : 'memory.current';
    try {
      return Number(readFileSync(join(this.dir('memory'), file), 'utf8').trim());
    } catch {
      return 0;
    }
  }

  /**
   * SIGKILLs everything left in it and removes it, and its runtime
   * directory's level when no other sandbox is in it. Repeats while
   * processes remain (a fork bomb refills what is killed). Idempotent.
   */
  async destroy(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const pids = this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await sleep(20);
    }
    for (const c of CONTROLLERS) {
      const dir = this.dir(c);
      for (let attempt = 0; attempt < 50 && existsSync(dir); attempt++) {
        try {
          rmdirSync(dir);
        } catch {
          // Busy until the last killed process is reaped.
          await sleep(20);
        }
      }
    }
    for (const mount of new Set(Object.values(this.layout.mounts))) removeIfEmpty(join(mount, dirname(this.path)));
  }
}
