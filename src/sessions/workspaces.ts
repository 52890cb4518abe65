import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionDirs } from '../agent/live-session.js';
import { PathLocks, checkSharedWrite } from '../lifecycle/path-locks.js';

/**
 * Where each session's files live on this server. A session's own directory
 * (`<dataDir>/sessions/<id>`) holds its Claude Code config and tmp; its
 * workspace is its own, a host directory bound to it (`agenthost run`), or
 * its environment's shared one (`shared` and `long_running` patterns), where
 * it starts in a directory of its own and writes to shared paths under locks.
 */
export class SessionWorkspaces {
  private readonly bound = new Map<string, string>();
  /** Sessions whose workspace is their environment's shared one: session id → environment id. */
  private readonly shared = new Map<string, string>();
  private readonly locks = new PathLocks();

  constructor(private readonly dataDir: string) {}

  /** Where the directories of every session are. */
  get sessionsRoot(): string {
    return join(this.dataDir, 'sessions');
  }

  dirs(sessionId: string): SessionDirs {
    const root = join(this.sessionsRoot, sessionId);
    const envId = this.shared.get(sessionId);
    if (envId) {
      const workspace = join(this.dataDir, 'environments', envId, 'workspace');
      return { root, workspace, cwd: join(workspace, sessionId), config: join(root, 'claude'), tmp: join(root, 'tmp') };
    }
    const workspace = this.bound.get(sessionId) ?? join(root, 'workspace');
    return { root, workspace, cwd: workspace, config: join(root, 'claude'), tmp: join(root, 'tmp') };
  }

  /**
   * Makes a host directory the session's workspace instead of one under the
   * data dir. Only in-process callers (`agenthost run`) use this; API clients
   * can never choose host paths.
   */
  bind(sessionId: string, dir: string): void {
    this.bound.set(sessionId, dir);
  }

  /** The session works in its environment's shared workspace. */
  share(sessionId: string, environmentId: string): void {
    this.shared.set(sessionId, environmentId);
  }

  /** Whether the session's workspace is its own, so hibernation may snapshot and remove it. */
  owns(sessionId: string): boolean {
    return !this.bound.has(sessionId) && !this.shared.has(sessionId);
  }

  /** Checks a write of a session in a shared workspace: a reason to refuse it, or null. */
  writeGuard(sessionId: string): ((path: string, cwd: string) => string | null) | undefined {
    const scope = this.shared.get(sessionId);
    if (!scope) return undefined;
    const dirs = this.dirs(sessionId);
    return (path, cwd) => checkSharedWrite(this.locks, { scope, workspace: dirs.workspace, ownDir: dirs.cwd, sessionId, cwd, path });
  }

  /** Frees the shared paths the session wrote (its turn ended, or its process went). */
  releaseLocks(sessionId: string): void {
    const envId = this.shared.get(sessionId);
    if (envId) this.locks.releaseAll(envId, sessionId);
  }

  /** Removes the session's own directory (config, tmp, own workspace). */
  async removeOwn(sessionId: string): Promise<void> {
    await rm(this.dirs(sessionId).root, { recursive: true, force: true });
  }

  /** Forgets where the session's workspace was: a session that starts later under this id starts from its own. */
  forget(sessionId: string): void {
    this.bound.delete(sessionId);
    this.shared.delete(sessionId);
  }

  /** Forgets only a shared workspace (a warm sandbox that went: a bound one stays bound). */
  forgetShared(sessionId: string): void {
    this.shared.delete(sessionId);
  }
}
