import { rm } from 'node:fs/promises';
import type { LiveSession } from '../agent/live-session.js';
import { sessionError } from '../agent/mapping.js';
import type { Logger } from '../logger.js';
import { DEFAULT_LIFECYCLE } from '../resources/environment-config.js';
import type { SessionGateway } from '../sessions/boot.js';
import type { EventLog, SessionRef } from '../sessions/event-log.js';
import type { LiveSessions } from '../sessions/live-sessions.js';
import type { SandboxTime } from '../sessions/sandbox-time.js';
import type { SerialQueue } from '../sessions/serial-queue.js';
import { withRuntime } from '../sessions/session-body.js';
import type { Transcripts } from '../sessions/transcripts.js';
import type { SessionWorkspaces } from '../sessions/workspaces.js';
import type { WarmSessions } from './warm-sessions.js';

/** Saves and restores a session's workspace while it hibernates (a blob store behind it). */
export interface WorkspaceSnapshots {
  save(sessionId: string, dir: string): Promise<void>;
  /** Restores into `dir` (created); false when there is no snapshot. */
  restore(sessionId: string, dir: string): Promise<boolean>;
  delete(sessionId: string): Promise<void>;
}

export interface ReaperOptions {
  sessions: LiveSessions;
  /** The engine's per-session control queue: a hibernation waits for the session's other operations. */
  queue: SerialQueue;
  warm: WarmSessions;
  time: SandboxTime;
  gateway: Pick<SessionGateway, 'closeSession'>;
  workspaces: SessionWorkspaces;
  transcripts: Transcripts;
  /** Where hibernating sessions keep their workspace. Without it, workspaces stay on local disk. */
  snapshots: WorkspaceSnapshots | undefined;
  events: EventLog;
  log: Logger;
  /** How often it looks at live sessions. Default 5 s. */
  sweepIntervalMs?: number | undefined;
}

/** How long an interrupted turn may take to end before a sandbox at its max_lifetime_s goes anyway. */
const RECYCLE_TURN_END_MS = 10_000;

/**
 * The reaper: every sweep, a live session idle for its environment's
 * `idle_timeout_s` hibernates, a sandbox at its `max_lifetime_s` is recycled
 * (hibernated however busy it is), standby sandboxes held too long go, and
 * live sandboxes' time is counted.
 */
export class Reaper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Sessions whose sandbox reached its max_lifetime_s and is being stopped. */
  private readonly recycling = new Set<string>();

  constructor(private readonly o: ReaperOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One pass at a time; `stop` waits for the one under way (a hibernation writing its snapshot).
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.o.log.error({ err: error }, 'sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.o.sweepIntervalMs ?? 5_000);
    this.timer.unref();
  }

  /** Stops sweeping; resolves once the pass under way has finished. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  /**
   * One pass. The idle clock runs only between turns: a turn in progress
   * (model time, a long tool, a pending confirmation) is never idle.
   * `max_lifetime_s` bounds the sandbox however busy it is.
   */
  async sweep(now = Date.now()): Promise<void> {
    await this.o.warm.sweep(now);
    for (const [id, { live }] of this.o.sessions.list()) {
      await this.o.time.accrue(id, 60);
      const lc = this.o.sessions.get(id)?.lifecycle ?? DEFAULT_LIFECYCLE;
      if (lc.max_lifetime_s !== null && now - live.startedAtMs >= lc.max_lifetime_s * 1000) {
        // Once: later sweeps find the session still live while its turn is being stopped.
        if (!this.recycling.has(id)) {
          this.recycling.add(id);
          void this.recycle(live, lc.max_lifetime_s)
            .catch((error: unknown) => this.o.log.error({ err: error, sessionId: id }, 'could not recycle a sandbox at its max_lifetime_s'))
            .finally(() => this.recycling.delete(id));
        }
        continue;
      }
      const idleSince = live.idleSince;
      if (lc.idle_timeout_s !== null && idleSince !== null && now - idleSince >= lc.idle_timeout_s * 1000) {
        await this.hibernate(live.ref, 'idle');
      }
    }
  }

  /**
   * A sandbox at its `max_lifetime_s` goes however busy it is. A running turn
   * is told why, interrupted, and left to end as an interrupted turn does
   * (one idle event, `end_turn`) before the process goes; only a turn that
   * will not end is cut off with the process.
   */
  private async recycle(live: LiveSession, lifetimeS: number): Promise<void> {
    if (live.busy) {
      await this.o.events.append(live.ref, [
        sessionError('unknown_error', `the sandbox reached its max_lifetime_s of ${lifetimeS} s; the turn was stopped. Send a message to continue in a fresh sandbox.`),
      ]);
      await live.interrupt();
      const deadline = Date.now() + RECYCLE_TURN_END_MS;
      while (live.busy && !live.isEnded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    await this.hibernate(live.ref, 'max_lifetime');
  }

  /**
   * Hibernates a live session: its process and sandbox are destroyed, its
   * workspace is saved (to the snapshot store when there is one) and its
   * transcript stays where Claude Code and the transcript store keep it. The
   * next message or confirmation restores it. No-op when not live or busy.
   */
  hibernate(ref: SessionRef, reason: 'idle' | 'max_lifetime' | 'request' = 'request'): Promise<boolean> {
    return this.o.queue.run(ref.id, async () => {
      const live = this.o.sessions.get(ref.id)?.live;
      // Idle, or paused for a confirmation (which a restored session still accepts).
      if (!live || (live.idleSince === null && reason !== 'max_lifetime')) return false;
      const started = Date.now();
      this.o.sessions.take(ref.id);
      await this.o.time.stopped(ref.id);
      await live.close({ quiet: live.idleSince !== null });
      await this.o.gateway.closeSession(ref.id);
      const dirs = this.o.workspaces.dirs(ref.id);
      this.o.workspaces.releaseLocks(ref.id);
      if (this.o.snapshots && this.o.workspaces.owns(ref.id)) {
        await this.o.snapshots.save(ref.id, dirs.workspace);
        await rm(dirs.workspace, { recursive: true, force: true });
      }
      await rm(dirs.tmp, { recursive: true, force: true });
      // The local transcript goes once the store has all of it; otherwise it stays for the next start to repair from.
      if (this.o.transcripts.mirror && (await this.o.transcripts.repair(ref, dirs.config))) await rm(dirs.config, { recursive: true, force: true });
      await this.o.events.update(ref, (s) => ({
        body: withRuntime(s.body, { sandbox_state: 'hibernated', hibernated_at: new Date().toISOString() }),
      }));
      this.o.log.info({ sessionId: ref.id, reason, ms: Date.now() - started }, 'session hibernated');
      return true;
    });
  }
}
