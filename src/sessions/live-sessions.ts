import type { LiveSession } from '../agent/live-session.js';
import type { LiveSessionSample } from '../ops/metrics.js';
import type { Lifecycle } from '../resources/environment-body.js';
import type { SessionRef } from './event-log.js';

/** A session this server runs a Claude Code process for. */
export interface LiveEntry {
  live: LiveSession;
  lifecycle: Lifecycle;
  /** The sandbox provider it runs on. */
  provider: string;
}

/**
 * The sessions this server holds a process for, by session id: the engine
 * adds one when its process is the session's and takes it out when the
 * sandbox goes. An entry's process may have ended already (a crash) until
 * the engine has released its sandbox.
 */
export class LiveSessions {
  private readonly entries = new Map<string, LiveEntry>();

  add(sessionId: string, entry: LiveEntry): void {
    this.entries.set(sessionId, entry);
  }

  /** Removes the session's entry; returns it, if there was one. */
  take(sessionId: string): LiveEntry | undefined {
    const entry = this.entries.get(sessionId);
    this.entries.delete(sessionId);
    return entry;
  }

  get(sessionId: string): LiveEntry | undefined {
    return this.entries.get(sessionId);
  }

  /** The session's process, if it is running. */
  running(sessionId: string): LiveSession | undefined {
    const live = this.entries.get(sessionId)?.live;
    return live && !live.isEnded ? live : undefined;
  }

  has(sessionId: string): boolean {
    return this.entries.has(sessionId);
  }

  /** The session's ref while this server holds it (its process may have ended); null otherwise. */
  refOf(sessionId: string): SessionRef | null {
    return this.entries.get(sessionId)?.live.ref ?? null;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Every entry, as of now. */
  list(): Array<[string, LiveEntry]> {
    return [...this.entries];
  }

  /** Running processes of one workspace. */
  countIn(workspaceId: string): number {
    let n = 0;
    for (const { live } of this.entries.values()) if (live.ref.workspaceId === workspaceId && !live.isEnded) n++;
    return n;
  }

  /** Each session's state and pattern, for the sessions gauge. */
  *samples(): Iterable<LiveSessionSample> {
    for (const { live, lifecycle } of this.entries.values()) {
      yield { state: !live.busy ? 'idle' : live.idleSince !== null ? 'waiting' : 'running', pattern: lifecycle.pattern };
    }
  }
}
