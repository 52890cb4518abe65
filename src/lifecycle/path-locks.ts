import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** A session's own directory in a shared workspace is named by its id. */
const SESSION_DIR = /^sesn_[0-9A-Za-z]+$/;

export interface LockHolder {
  sessionId: string;
  since: number;
}

/**
 * Write locks on paths that several sessions share. A session that writes a
 * shared path holds it until its turn ends; another session's write to the
 * same path is refused with a reason the agent can read, never silently
 * overwriting. Scoped per shared workspace (environment).
 *
 * Held in memory: a lock only matters while its holder's process runs, and
 * every process of a workspace runs in this server, so a restart (which ends
 * every turn) correctly releases every lock.
 */
export class PathLocks {
  private readonly held = new Map<string, LockHolder>();

  /** Takes the lock, or returns who holds it. Re-acquiring one's own lock succeeds. */
  acquire(scope: string, path: string, sessionId: string, now = Date.now()): { ok: true } | { ok: false; holder: LockHolder } {
    const key = `${scope}\0${path}`;
    const current = this.held.get(key);
    if (current && current.sessionId !== sessionId) return { ok: false, holder: current };
    if (!current) this.held.set(key, { sessionId, since: now });
    return { ok: true };
  }

  /** Releases every lock a session holds in a scope. */
  releaseAll(scope: string, sessionId: string): void {
    const prefix = `${scope}\0`;
    for (const [key, holder] of this.held) {
      if (key.startsWith(prefix) && holder.sessionId === sessionId) this.held.delete(key);
    }
  }

  heldBy(scope: string, sessionId: string): string[] {
    const prefix = `${scope}\0`;
    return [...this.held].filter(([k, h]) => k.startsWith(prefix) && h.sessionId === sessionId).map(([k]) => k.slice(prefix.length));
  }
}

/** Is `path` inside `dir` (or equal to it)? Both absolute. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Decides a write in a shared workspace: free inside the session's own
 * directory and outside the workspace; refused inside another session's own
 * directory; a lock on anything else in it.
 * Returns the refusal reason, or null when the write may go ahead.
 */
export function checkSharedWrite(
  locks: PathLocks,
  o: { scope: string; workspace: string; ownDir: string; sessionId: string; cwd: string; path: string },
): string | null {
  const target = resolve(o.cwd, o.path);
  if (isInside(target, o.ownDir) || !isInside(target, o.workspace)) return null;
  // Another session's own directory (named by its id, beside this one's) is its alone.
  const top = relative(o.workspace, target).split(sep)[0]!;
  if (SESSION_DIR.test(top) && join(o.workspace, top) !== o.ownDir) {
    return `${target} is in the own directory of another agent (session ${top}) in this shared workspace; only that agent writes there. Write to your own directory or to a shared path instead.`;
  }
  const result = locks.acquire(o.scope, target, o.sessionId);
  if (result.ok) return null;
  return (
    `${target} is being written by another agent (session ${result.holder.sessionId}) in this shared workspace. ` +
    'Wait until it has finished its turn, or write to a different path (your own directory is free).'
  );
}
