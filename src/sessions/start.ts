import type { LiveSession } from '../agent/live-session.js';
import type { WorkspaceSnapshots } from '../lifecycle/reaper.js';
import type { StartGate } from '../lifecycle/start-gate.js';
import type { WarmSessions } from '../lifecycle/warm-sessions.js';
import type { Metrics } from '../ops/metrics.js';
import type { EnvironmentConfig } from '../resources/environment-config.js';
import type { JsonObject, SessionRecord, Store } from '../store/store.js';
import type { SessionBoot } from './boot.js';
import type { Confirmations } from './confirmations.js';
import type { EventLog, SessionRef } from './event-log.js';
import type { LiveSessions } from './live-sessions.js';
import type { SandboxTime } from './sandbox-time.js';
import { runtimeOf, withRuntime } from './session-body.js';
import type { SessionWorkspaces } from './workspaces.js';

export interface SessionStartsOptions {
  store: Store;
  events: EventLog;
  metrics: Metrics;
  sessions: LiveSessions;
  boot: SessionBoot;
  gate: StartGate;
  warm: WarmSessions;
  time: SandboxTime;
  confirmations: Confirmations;
  workspaces: SessionWorkspaces;
  snapshots: WorkspaceSnapshots | undefined;
  /** Places file resources; see `EngineOptions.prepareWorkspace`. */
  prepareWorkspace: ((session: SessionRecord, dir: string) => Promise<void>) | undefined;
  configOf: (environmentBody: JsonObject) => EnvironmentConfig;
  /** Sessions of one workspace that may hold a sandbox at once; 0 or absent is no limit. */
  quota: number | undefined;
  /** Sandboxes the workspace holds or is getting, warm ones included. */
  liveCount: (workspaceId: string) => number;
}

/**
 * Gets a session its Claude Code process: the warm sandbox it holds as a
 * standby session, or a cold boot that restores a hibernated workspace,
 * within its workspace's quota of live sessions (a warm sandbox gives way
 * when the workspace needs the room). The process is then the session's:
 * live, its sandbox time counted.
 */
export class SessionStarts {
  /** Sessions whose sandbox is starting: session id → workspace id (they count toward the quota). */
  private readonly starting = new Map<string, string>();
  /** Starts in progress, which `close` waits for so that none outlives it. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly o: SessionStartsOptions) {}

  get isClosed(): boolean {
    return this.closed;
  }

  isStarting(sessionId: string): boolean {
    return this.starting.has(sessionId);
  }

  /** Sessions of the workspace getting a sandbox that are not live yet. */
  startingIn(workspaceId: string): number {
    let n = 0;
    for (const [id, ws] of this.starting) if (ws === workspaceId && !this.o.sessions.has(id)) n++;
    return n;
  }

  /** No more starts; resolves once those under way have ended (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
  }

  /** The session's live process; starts one within the workspace's quota of live sessions. */
  async live(session: SessionRecord): Promise<LiveSession> {
    const existing = this.o.sessions.running(session.id);
    if (existing) return existing;
    const { quota, warm } = this.o;
    let gaveWay: Promise<void> | undefined;
    // A standby session's own sandbox was counted already. Otherwise a warm sandbox gives way to a session that needs the room.
    if (quota && !warm.isStandby(session.id) && this.o.liveCount(session.workspaceId) >= quota) {
      const room = warm.giveWay(session.workspaceId);
      if (!room) {
        this.o.metrics.limited({ limit: 'live_sessions' });
        throw new Error(`the workspace already has ${quota} live sessions, its quota; archive one or wait for an idle one to hibernate`);
      }
      gaveWay = room;
    }
    if (this.closed) throw new Error('the server is shutting down; the message is kept and runs when the session next starts');
    // Counted from here on, before anything is awaited, so that concurrent starts see it.
    this.starting.set(session.id, session.workspaceId);
    const start = (async () => {
      await gaveWay;
      return this.start(session);
    })();
    this.inFlight.add(start);
    try {
      return await start;
    } finally {
      this.inFlight.delete(start);
      this.starting.delete(session.id);
    }
  }

  private async start(session: SessionRecord): Promise<LiveSession> {
    const { o } = this;
    const existing = o.sessions.running(session.id);
    if (existing) return existing;
    const startedMs = performance.now();
    const ref: SessionRef = { id: session.id, workspaceId: session.workspaceId };
    const env = await o.store.getEnvironment(session.workspaceId, session.environmentId);
    if (!env) throw new Error(`environment ${session.environmentId} no longer exists`);
    const current = (await o.store.getSession(session.workspaceId, session.id)) ?? session;
    const config = o.configOf(env.body);
    const wasHibernated = runtimeOf(current.body).sandbox_state === 'hibernated';
    const { snapshots, prepareWorkspace } = o;

    let booted = await o.warm.take(session.id);
    const warm = booted !== undefined;
    if (booted) {
      const warmBoot = booted;
      // Placed now that the session exists; the process reads files only once a turn starts.
      await prepareWorkspace?.(current, warmBoot.dirs.cwd).catch(async (error: unknown) => {
        await o.warm.discard(session.id, warmBoot);
        throw error;
      });
    } else {
      // A standby sandbox of this session that went is still being discarded.
      await o.warm.discarded(session.id);
      await o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'starting', provider: config.provider }) }));
      booted = await o.gate.run(() =>
        o.boot.boot(ref, env.id, config, current.body, {
          beforeStart: async (dirs) => {
            if (wasHibernated && snapshots && o.workspaces.owns(session.id)) await snapshots.restore(session.id, dirs.workspace);
          },
          prepare: (dirs) => prepareWorkspace?.(current, dirs.cwd) ?? Promise.resolve(),
        }),
      );
    }
    const { live, providerName } = booted;
    live.adopted();
    o.sessions.add(session.id, { live, lifecycle: config.lifecycle, provider: providerName });
    await o.time.started(ref, providerName, live.startedAtMs);
    o.confirmations.handedOver(session.id);
    await o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'live', provider: providerName, warm_start: warm }) }));
    o.metrics.sessionStarted({ provider: providerName, pattern: config.lifecycle.pattern, seconds: (performance.now() - startedMs) / 1000, resumed: wasHibernated });
    return live;
  }
}
