import type { WarmMember, WarmPoolSettings } from './warm-pool.js';

/**
 * A warm sandbox handed to a session that has not run its first turn on it.
 * Such a session is "standby": its sandbox counts against the workspace's
 * quota of live sessions, like an unclaimed pool member, and like one it
 * gives way when another session needs the room, or goes when nobody used it
 * for `holdMs`.
 */
export interface Standby<B> {
  member: WarmMember<B>;
  workspaceId: string;
  sinceMs: number;
  holdMs: number;
  /**
   * Set once the session's record exists. Before that a discard could not be
   * recorded on the session, so it neither gives way nor expires (the window
   * is one store write).
   */
  committed: boolean;
}

/**
 * How long a standby sandbox waits for its session's first message: the
 * shorter of the environment's idle timeout (what an idle live session gets
 * before it hibernates) and the pool's idle timeout (what an unclaimed
 * sandbox gets without demand). A standby session is both an idle session
 * and a sandbox nobody is using yet, so it is held no longer than either.
 */
export function standbyHoldMs(idleTimeoutS: number | null, pool: WarmPoolSettings): number {
  return Math.min(idleTimeoutS ?? Number.POSITIVE_INFINITY, pool.idleTimeoutS) * 1000;
}

/** Standby sessions by session id, with the choices the engine makes about them. */
export class StandbySet<B> {
  private readonly entries = new Map<string, Standby<B>>();

  constructor(private readonly now: () => number = Date.now) {}

  add(sessionId: string, member: WarmMember<B>, holdMs: number): void {
    this.entries.set(sessionId, { member, workspaceId: member.workspaceId, sinceMs: this.now(), holdMs, committed: false });
  }

  /** The session's record exists; returns its standby, undefined when it is not standby (any more). */
  commit(sessionId: string): Standby<B> | undefined {
    const entry = this.entries.get(sessionId);
    if (entry) entry.committed = true;
    return entry;
  }

  /** Removes the session's standby and returns it: the session starts on it, or it is discarded. */
  take(sessionId: string): Standby<B> | undefined {
    const entry = this.entries.get(sessionId);
    this.entries.delete(sessionId);
    return entry;
  }

  has(sessionId: string): boolean {
    return this.entries.has(sessionId);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Standby sessions of the workspace, leaving out those `skip` names. */
  count(workspaceId: string, skip: (sessionId: string) => boolean = () => false): number {
    let n = 0;
    for (const [id, e] of this.entries) if (e.workspaceId === workspaceId && !skip(id)) n++;
    return n;
  }

  /**
   * The standby session of the workspace that gives way first: the one that
   * has waited longest, as the least likely to be sent a message soon.
   */
  victim(workspaceId: string, skip: (sessionId: string) => boolean = () => false): string | undefined {
    let best: [string, Standby<B>] | undefined;
    for (const [id, e] of this.entries) {
      if (e.workspaceId !== workspaceId || !e.committed || skip(id)) continue;
      if (!best || e.sinceMs < best[1].sinceMs) best = [id, e];
    }
    return best?.[0];
  }

  /** Committed standby sessions whose hold has run out by `now`. */
  expired(now = this.now()): string[] {
    return [...this.entries].filter(([, e]) => e.committed && now - e.sinceMs >= e.holdMs).map(([id]) => id);
  }
}
