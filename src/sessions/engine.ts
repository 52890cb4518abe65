import type { LiveSession } from '../agent/live-session.js';
import { idleDraft, sessionError, type StopReason } from '../agent/mapping.js';
import { Reaper, type WorkspaceSnapshots } from '../lifecycle/reaper.js';
import { StartGate } from '../lifecycle/start-gate.js';
import type { WarmPoolSettings, WarmPoolStatus } from '../lifecycle/warm-pool.js';
import { WarmSessions } from '../lifecycle/warm-sessions.js';
import type { Logger } from '../logger.js';
import type { CostMeter } from '../ops/cost.js';
import { NoopMetrics, type Metrics } from '../ops/metrics.js';
import { environmentConfig, type EnvironmentConfig } from '../resources/environment-config.js';
import type { SandboxProvider } from '../sandbox/provider.js';
import type { RepairableSessionStore } from '../store/session-store.js';
import type { EnvironmentRecord, Json, JsonObject, SessionRecord, Store } from '../store/store.js';
import { SessionBoot, type SessionGateway } from './boot.js';
import { Confirmations } from './confirmations.js';
import type { EventLog, SessionRef } from './event-log.js';
import { LiveSessions } from './live-sessions.js';
import { Recovery } from './recovery.js';
import { SandboxTime } from './sandbox-time.js';
import { SerialQueue } from './serial-queue.js';
import { SessionStarts } from './start.js';
import { withRuntime } from './session-body.js';
import { Transcripts } from './transcripts.js';
import { SessionWorkspaces } from './workspaces.js';

export interface EngineOptions {
  store: Store;
  events: EventLog;
  log: Logger;
  providers: ReadonlyMap<string, SandboxProvider>;
  defaultProvider: string;
  gateway: SessionGateway;
  dataDir: string;
  maxTurns: number;
  defaultModel: string;
  /** The sessions this server runs; shared with whoever else looks them up (the gateway's model spans). */
  sessions?: LiveSessions;
  /** Where hibernating sessions keep their workspace. Without it, workspaces stay on local disk. */
  snapshots?: WorkspaceSnapshots;
  /** How often the idle reaper looks at live sessions. Default 5 s. */
  sweepIntervalMs?: number;
  /**
   * Where Claude Code transcripts are mirrored. With it, hibernation also
   * removes the local config dir (once the store has every line of it): a
   * restored session is hydrated from the store.
   */
  transcripts?: RepairableSessionStore;
  /** Start and resume durations, sandbox time. Default: none recorded. */
  metrics?: Metrics;
  /** Prices and records sandbox time; the session body keeps its running cost. */
  meter?: CostMeter;
  /** Asked before a message starts or joins a turn (workspace budgets): a reason refuses it. */
  admitTurn?: (session: SessionRecord) => Promise<string | null>;
  /** Sessions of one workspace that may hold a sandbox at once; 0 or absent is no limit. */
  maxLiveSessionsPerWorkspace?: number;
  /** The Claude Code executable a new process starts with (the version policy); undefined is the SDK's own. */
  claudeExecutable?: () => Promise<string | undefined>;
  /** Runs when an ephemeral session's task has ended, before its sandbox goes (collects outputs). */
  onTaskFinished?: (ref: SessionRef, workspaceDir: string) => Promise<void>;
  /**
   * Runs before every sandbox start of a session, once its directories exist
   * (places file resources). `dir` is where the agent starts: its workspace,
   * or its own directory in a shared one. A failure fails the start.
   */
  prepareWorkspace?: (session: SessionRecord, dir: string) => Promise<void>;
  /** Warm pools' bounds for environments whose `config.warm_pool` leaves them out. Absent: no warm pools. */
  warmPool?: WarmPoolSettings;
  /** Sandbox and Claude Code start-ups at once; more wait their turn. Default 2. */
  startConcurrency?: number;
}

/**
 * Runs live sessions: starts a session's sandbox and Claude Code process on
 * its first message (within its workspace's quota), routes messages,
 * confirmations and interrupts to it, and tears it down. The rest is
 * delegated, one question per collaborator:
 *
 * - `boot.ts`: booting a session (directories, gateway endpoint, sandbox, Claude Code)
 * - `lifecycle/warm-sessions.ts`: warm pools and the standby sessions that took one
 * - `lifecycle/reaper.ts`: idle timeout, max lifetime and hibernation
 * - `recovery.ts`: after a restart, leftovers and interrupted turns; redelivery
 * - `transcripts.ts`: Claude Code transcripts in the store, and their repair
 * - `confirmations.ts`: tool confirmations of sessions without a process
 * - `sandbox-time.ts`: sandbox time and its cost (model spans: `model-spans.ts`)
 * - `workspaces.ts`, `live-sessions.ts`: where files are, which sessions run here
 *
 * Control operations on one session run one at a time (a promise chain per
 * session), so a burst of messages starts one process, not several.
 */
export class SessionEngine {
  private readonly sessions: LiveSessions;
  /** Control operations on one session run one at a time. */
  private readonly queue = new SerialQueue();
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly gate: StartGate;
  private readonly workspaces: SessionWorkspaces;
  private readonly confirmations: Confirmations;
  private readonly time: SandboxTime;
  private readonly boot: SessionBoot;
  private readonly warm: WarmSessions;
  private readonly reaper: Reaper;
  private readonly recovery: Recovery;
  private readonly starts: SessionStarts;

  constructor(private readonly o: EngineOptions) {
    const log = (this.log = o.log.child({ component: 'engine' }));
    const metrics = (this.metrics = o.metrics ?? new NoopMetrics());
    const { store, events, gateway } = o;
    const sessions = (this.sessions = o.sessions ?? new LiveSessions());
    this.gate = new StartGate(o.startConcurrency ?? 2);
    const workspaces = (this.workspaces = new SessionWorkspaces(o.dataDir));
    const transcripts = new Transcripts({ store, events, log, metrics, mirror: o.transcripts });
    this.confirmations = new Confirmations({ store, sessions });
    this.time = new SandboxTime({ events, log, metrics, meter: o.meter });
    this.boot = new SessionBoot({
      ...{ providers: o.providers, gateway, events, log: o.log, workspaces, transcripts, confirmations: this.confirmations },
      ...{ maxTurns: o.maxTurns, defaultModel: o.defaultModel, claudeExecutable: o.claudeExecutable },
      onEnded: (ref, live) => this.onEnded(ref, live),
      onTurnEnded: (ref, stop, config) => this.onTurnEnded(ref, stop, config),
    });
    const quota = o.maxLiveSessionsPerWorkspace;
    this.warm = new WarmSessions({
      ...{ boot: this.boot, gate: this.gate, gateway, events, log, workspaces, transcripts },
      hasRoom: (workspaceId) => !this.starts.isClosed && (!quota || this.liveCount(workspaceId) < quota),
      isStarting: (id) => this.starts.isStarting(id),
    });
    this.starts = new SessionStarts({
      ...{ store, events, metrics, sessions, boot: this.boot, gate: this.gate, warm: this.warm, time: this.time, confirmations: this.confirmations },
      ...{ workspaces, snapshots: o.snapshots, prepareWorkspace: o.prepareWorkspace, quota },
      configOf: (body) => this.configOf(body),
      liveCount: (workspaceId) => this.liveCount(workspaceId),
    });
    this.reaper = new Reaper({
      ...{ sessions, queue: this.queue, warm: this.warm, time: this.time, gateway, workspaces, transcripts },
      ...{ snapshots: o.snapshots, events, log, sweepIntervalMs: o.sweepIntervalMs },
    });
    const confirm = (session: SessionRecord, id: string, allow: boolean, deny: string | null) => this.confirm(session, id, allow, deny);
    this.recovery = new Recovery({ store, events, log, providers: o.providers, workspaces, transcripts, confirm });
  }

  /** See `WarmSessions.claim`: the new session must take the returned id. */
  async claimWarm(workspaceId: string, env: EnvironmentRecord, body: JsonObject): Promise<string | null> {
    return this.starts.isClosed ? null : this.warm.claim(workspaceId, env, this.configOf(env.body), body);
  }

  /** See `WarmSessions.claimed`. */
  warmClaimed(ref: SessionRef): void {
    this.warm.claimed(ref);
  }

  /** Gives back a claimed warm sandbox whose session was not created after all; it is discarded. */
  releaseWarm(sessionId: string): void {
    this.warm.release(sessionId);
  }

  /** The warm pools of one environment, for its API view. */
  warmPoolStatus(workspaceId: string, environmentId: string): WarmPoolStatus {
    return this.warm.status(workspaceId, environmentId);
  }

  /** Warm sandboxes of the workspace: they count as live, and give way to sessions that need the room. */
  warmCount(workspaceId: string): number {
    return this.warm.count(workspaceId);
  }

  /** The sandbox provider of an environment's sessions. */
  providerFor(environmentBody: JsonObject): string {
    return this.configOf(environmentBody).provider;
  }

  /** Hands committed user.message content to the session's process, starting it if needed. */
  deliver(session: SessionRecord, content: Json[]): Promise<void> {
    return this.queue.run(session.id, () => this.deliverNow(session, content));
  }

  private async deliverNow(session: SessionRecord, content: Json[]): Promise<void> {
    const refusal = await this.o.admitTurn?.(session);
    if (refusal) {
      await this.o.events.append(session, [sessionError('billing_error', refusal), idleDraft({ type: 'budget_reached' })]);
      return;
    }
    try {
      const live = await this.starts.live(session);
      await live.enqueue(await this.recovery.withRedelivery(session, content));
    } catch (error) {
      this.log.error({ err: error, sessionId: session.id }, 'could not start the session');
      await this.o.events.append(
        session,
        [sessionError('unknown_error', `could not start the session's sandbox: ${(error as Error).message}`), idleDraft({ type: 'retries_exhausted' })],
        (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) }),
      );
    }
  }

  /** Event ids of tool uses waiting for confirmation, with a process or without one. */
  waitingToolUses(session: SessionRecord): Promise<string[]> {
    return this.confirmations.waiting(session);
  }

  /** Whether the session holds a sandbox now (or is getting one). */
  isLive(sessionId: string): boolean {
    return this.sessions.running(sessionId) !== undefined || this.starts.isStarting(sessionId);
  }

  /** Sessions of the workspace that hold a sandbox or are getting one, and its warm sandboxes. */
  liveCount(workspaceId: string): number {
    return this.sessions.countIn(workspaceId) + this.starts.startingIn(workspaceId) + this.warm.count(workspaceId);
  }

  /** Starts the session's sandbox and process without a message (a port preview wakes it). */
  wake(session: SessionRecord): Promise<void> {
    return this.queue.run(session.id, async () => void (await this.starts.live(session)));
  }

  /** The live session's sandbox provider and the host pid of its process, when it has one. */
  sandboxProcess(sessionId: string): { provider: string; pid: number } | undefined {
    const entry = this.sessions.get(sessionId);
    const pid = entry?.live.pid;
    return entry && !entry.live.isEnded && pid !== undefined ? { provider: entry.provider, pid } : undefined;
  }

  /** Answers a waiting tool call: to its process, or, when that is gone, to a restored one (see confirmations.ts). */
  confirm(session: SessionRecord, toolUseEventId: string, allow: boolean, denyMessage?: string | null): Promise<boolean> {
    return this.queue.run(session.id, async () => {
      const live = this.sessions.running(session.id);
      if (live) return live.confirm(toolUseEventId, allow, denyMessage);
      const answer = await this.confirmations.answerForRestored(session, toolUseEventId, allow, denyMessage);
      if (!answer) return false;
      await this.deliverNow(session, answer);
      return true;
    });
  }

  /** Interrupts without waiting behind queued control operations. */
  async interrupt(sessionId: string): Promise<void> {
    await this.sessions.get(sessionId)?.live.interrupt();
  }

  /** Stops the session's process and destroys its sandbox. Idempotent. */
  stop(ref: SessionRef): Promise<void> {
    return this.queue.run(ref.id, async () => {
      await this.warm.drop(ref.id, 'stopped');
      await this.warm.discarded(ref.id);
      const entry = this.sessions.take(ref.id);
      if (!entry) return;
      await this.time.stopped(ref.id);
      this.workspaces.releaseLocks(ref.id);
      await entry.live.close();
      await this.o.gateway.closeSession(ref.id);
      await this.o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) })).catch(() => null);
    });
  }

  /** Hibernates a live, idle session (see `Reaper.hibernate`). */
  hibernate(ref: SessionRef, reason: 'idle' | 'max_lifetime' | 'request' = 'request'): Promise<boolean> {
    return this.reaper.hibernate(ref, reason);
  }

  /** Makes a host directory the session's workspace (`agenthost run`; API clients never choose host paths). */
  bindWorkspace(sessionId: string, dir: string): void {
    this.workspaces.bind(sessionId, dir);
  }

  /** Removes a session's files after it was deleted. */
  async removeFiles(sessionId: string): Promise<void> {
    await this.workspaces.removeOwn(sessionId);
    this.workspaces.forget(sessionId);
    await this.o.snapshots?.delete(sessionId);
  }

  /** Start-up recovery (see recovery.ts). */
  recover(): Promise<void> {
    return this.recovery.recover();
  }

  /** Starts the idle reaper. */
  startReaper(): void {
    this.reaper.start();
  }

  /** Stops every live session (server shutdown). */
  async shutdown(): Promise<void> {
    await this.reaper.stop();
    // A session starting now would otherwise go live after the sweep below.
    await this.starts.close();
    await this.warm.close();
    await Promise.all(
      this.sessions.ids().map(async (id) => {
        const entry = this.sessions.take(id);
        await this.time.stopped(id);
        await entry?.live.close().catch((error: unknown) => this.log.warn({ err: error, sessionId: id }, 'close failed'));
        await this.o.gateway.closeSession(id).catch(() => undefined);
      }),
    );
  }

  private onEnded(ref: SessionRef, ended: LiveSession): void {
    // A warm sandbox whose process died while it waited.
    if (this.sessions.get(ref.id)?.live !== ended) return this.warm.processEnded(ref.id);
    // The process ended on its own (a limit, or a crash). Release the sandbox;
    // anything still queued is delivered to a fresh process.
    const leftover = ended.drainPending();
    void this.stop(ref).then(async () => {
      if (leftover.length === 0) return;
      const session = await this.o.store.getSession(ref.workspaceId, ref.id);
      if (session && session.archivedAt === null && session.status !== 'terminated') await this.deliver(session, leftover);
    });
  }

  private onTurnEnded(ref: SessionRef, stop: StopReason, config: EnvironmentConfig): void {
    // The refill this session's warm start held back competes with nothing that is waited for now.
    this.warm.refillNow(ref.id);
    // Shared paths a session wrote during its turn are free again once it ends.
    if (stop.type !== 'requires_action') this.workspaces.releaseLocks(ref.id);
    // An ephemeral session is one task: when it ends (not when it pauses
    // for a confirmation) the sandbox goes and the session is terminated.
    if (config.lifecycle.pattern === 'ephemeral' && stop.type !== 'requires_action') void this.finishEphemeral(ref);
  }

  /** Ends an ephemeral session after its task: outputs collected, sandbox destroyed, terminated. */
  private async finishEphemeral(ref: SessionRef): Promise<void> {
    try {
      await this.o.onTaskFinished?.(ref, this.workspaces.dirs(ref.id).workspace);
      await this.stop(ref);
      await this.o.events.append(ref, [{ type: 'session.status_terminated' }]);
    } catch (error) {
      this.log.error({ err: error, sessionId: ref.id }, 'could not finish an ephemeral session');
    }
  }

  /** The environment's typed configuration, with this server's defaults. */
  private configOf(environmentBody: JsonObject): EnvironmentConfig {
    return environmentConfig(environmentBody, { provider: this.o.defaultProvider, warmPool: this.o.warmPool });
  }
}
