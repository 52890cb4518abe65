import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcess, readProcStat, stopGroups, type GroupRecord } from './host-processes.js';

/**
 * What a provider remembers about its sandboxes on disk, so that a later run
 * of agenthost (after a crash or SIGKILL) can find and kill what this one
 * left behind. One directory per sandbox:
 *
 *   <runtimeDir>/<provider>/sandboxes/<sandbox id>/
 *     sandbox.json          id, workspace, owner server pid + start time
 *     groups/<pgid>.json    a process group started in the sandbox
 *     ...                   provider-owned scratch (e.g. bwrap's home/)
 *
 * A sandbox is listed from `create` until `destroy` removes its directory,
 * whether or not processes still run in it. One agenthost server per runtime
 * directory: two servers sharing one would destroy each other's sandboxes at
 * start-up.
 *
 * Writes are synchronous because `Sandbox.spawn` is (the Agent SDK's
 * `spawnClaudeCodeProcess` hook returns a process, not a promise); they are
 * a few hundred bytes each.
 */

export interface SandboxMeta {
  id: string;
  workspaceId: string;
  provider: string;
  ownerPid: number;
  ownerStartTime: string;
  createdAt: string;
}

/**
 * A recorded process group. `term` groups get SIGTERM before SIGKILL; the
 * others only SIGKILL (see `stopGroups`).
 */
export interface StoredGroup extends GroupRecord {
  term: boolean;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class SandboxRegistry {
  readonly dir: string;

  constructor(runtimeDir: string, provider: string) {
    this.dir = join(runtimeDir, provider, 'sandboxes');
  }

  /** The sandbox's directory; the id is checked because it becomes a path. */
  sandboxDir(id: string): string {
    if (!SAFE_ID.test(id) || id.includes('..')) throw new Error(`invalid sandbox id ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }

  /**
   * Registers a new sandbox. Throws if one with this id is registered and
   * its owner (this server or another) is alive; a leftover of a dead server
   * is destroyed first.
   */
  async register(id: string, workspaceId: string, provider: string, graceMs: number): Promise<string> {
    const dir = this.sandboxDir(id);
    const existing = this.readMeta(id);
    if (existing) {
      if (isSameProcess(existing.ownerPid, existing.ownerStartTime)) {
        throw new Error(`sandbox ${id} already exists (owned by pid ${existing.ownerPid}); destroy it first`);
      }
      await this.destroy(id, graceMs);
    }
    mkdirSync(join(dir, 'groups'), { recursive: true, mode: 0o700 });
    const self = readProcStat(process.pid);
    const meta: SandboxMeta = {
      id,
      workspaceId,
      provider,
      ownerPid: process.pid,
      ownerStartTime: self?.startTime ?? '',
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'sandbox.json'), JSON.stringify(meta));
    return dir;
  }

  readMeta(id: string): SandboxMeta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.sandboxDir(id), 'sandbox.json'), 'utf8')) as SandboxMeta;
    } catch {
      return undefined;
    }
  }

  /** Ids of every registered sandbox, live or left by a dead server. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => SAFE_ID.test(n) && this.readMeta(n) !== undefined).sort();
  }

  /**
   * Records a group; false when the sandbox's directory is gone (destroyed
   * meanwhile, e.g. by another provider instance's start-up cleanup). Never
   * throws: it is called from process event handlers.
   */
  addGroup(id: string, group: StoredGroup): boolean {
    try {
      writeFileSync(join(this.sandboxDir(id), 'groups', `${group.pgid}.json`), JSON.stringify(group));
      return true;
    } catch {
      return false;
    }
  }

  removeGroup(id: string, pgid: number): void {
    try {
      unlinkSync(join(this.sandboxDir(id), 'groups', `${pgid}.json`));
    } catch {
      // Already gone: the sandbox was destroyed concurrently.
    }
  }

  groups(id: string): StoredGroup[] {
    const dir = join(this.sandboxDir(id), 'groups');
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const out: StoredGroup[] = [];
    for (const name of names) {
      try {
        out.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as StoredGroup);
      } catch {
        // A half-written record: its process never got past spawn.
      }
    }
    return out;
  }

  /** Stops every recorded group of the sandbox and removes its directory. Idempotent. */
  async destroy(id: string, graceMs: number): Promise<void> {
    const groups = this.groups(id);
    await stopGroups(
      groups.filter((g) => g.term),
      groups.filter((g) => !g.term),
      graceMs,
    );
    rmSync(this.sandboxDir(id), { recursive: true, force: true });
  }
}
