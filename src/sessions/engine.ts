import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LiveSession, type SessionDirs } from '../agent/live-session.js';
import { idleDraft, sessionError } from '../agent/mapping.js';
import { TOOL_NAMES, planTools } from '../agent/tools.js';
import type { SessionKey } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logger.js';
import { addCost, type CostMeter } from '../ops/cost.js';
import { NoopMetrics, type LiveSessionSample, type Metrics } from '../ops/metrics.js';
import type { SandboxLimits, SandboxProvider } from '../sandbox/provider.js';
import type { EnvironmentRecord, Json, JsonObject, SessionRecord, Store } from '../store/store.js';
import { materializeTranscript, readLocalTranscript, type RepairableSessionStore } from '../store/session-store.js';
import { newId } from '../ids.js';
import { DEFAULT_LIFECYCLE, environmentConfig, type EnvironmentConfig } from '../resources/environment-config.js';
import type { Lifecycle } from '../resources/environment-body.js';
import type { NetworkingConfig } from '../egress/policy.js';
import { PathLocks, checkSharedWrite } from '../lifecycle/path-locks.js';
import { StartGate } from '../lifecycle/start-gate.js';
import { StandbySet, standbyHoldMs } from '../lifecycle/standby.js';
import { WarmPool, poolKey, type WarmMember, type WarmPoolSettings, type WarmPoolStatus } from '../lifecycle/warm-pool.js';
import type { EventLog, SessionMutation, SessionRef } from './event-log.js';
import { SerialQueue } from './serial-queue.js';
import { inputCommitted, redeliveryContent, undeliveredMessages } from './redeliver.js';
import { agentModelId, agentOf, budgetCentsOf, internalOf, runtimeOf, withInternal, withRuntime, withUsageAdded, type SandboxState } from './session-body.js';

/** The part of the model gateway the engine uses. */
export interface SessionGateway {
  /**
   * Opens the session's model endpoint and, given its environment's
   * `networking`, its egress proxy socket (the sandbox's only other way out).
   */
  openSession(
    sessionId: string,
    network?: { networking: NetworkingConfig | undefined; mcpServerUrls: string[] },
  ): Promise<{ token: string; socketPath: string; url: string; egressSocket?: string }>;
  closeSession(sessionId: string): Promise<void>;
  /** While on, the gateway answers the session's model calls itself (a warm sandbox's rehearsal). */
  rehearse(sessionId: string, on: boolean): void;
}

export interface ModelRequestStart {
  sessionId: string;
  requestId: string;
}

export interface ModelRequestEnd {
  sessionId: string;
  requestId: string;
  status: number;
  /** The model the response named, else the one requested. */
  model?: string | undefined;
  usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number };
  error?: string;
}

/** Saves and restores a session's workspace while it hibernates (a blob store behind it). */
export interface WorkspaceSnapshots {
  save(sessionId: string, dir: string): Promise<void>;
  /** Restores into `dir` (created); false when there is no snapshot. */
  restore(sessionId: string, dir: string): Promise<boolean>;
  delete(sessionId: string): Promise<void>;
}

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
  /** Prices and records tokens and sandbox time; the session body keeps its running cost. */
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
  /**
   * Warm pools' bounds for environments whose `config.warm_pool` leaves them
   * out. Absent: no warm pools.
   */
  warmPool?: WarmPoolSettings;
  /** Sandbox and Claude Code start-ups at once; more wait their turn. Default 2. */
  startConcurrency?: number;
}

/** A sandbox with Claude Code started in it, waiting for its session's first message. */
interface Booted {
  live: LiveSession;
  dirs: SessionDirs;
  providerName: string;
  executable: string | undefined;
}

/** How long an interrupted turn may take to end before a sandbox at its max_lifetime_s goes anyway. */
const RECYCLE_TURN_END_MS = 10_000;


/**
 * Owns every live session: starts its sandbox and Claude Code process on the
 * first message, routes messages, confirmations and interrupts to it, turns
 * the gateway's observations into span events and usage, and tears it down.
 *
 * Control operations on one session run one at a time (a promise chain per
 * session), so a burst of messages starts one process, not several.
 */
export class SessionEngine {
  private readonly live = new Map<string, LiveSession>();
  /** Control operations on one session run one at a time. */
  private readonly queue = new SerialQueue();
  private readonly spans = new Map<string, string>();
  private readonly boundWorkspaces = new Map<string, string>();
  /** Sessions whose workspace is their environment's shared one: session id → environment id. */
  private readonly sharedWorkspaces = new Map<string, string>();
  private readonly locks = new PathLocks();
  private readonly preapprovals = new Map<string, { claudeName: string; input: JsonObject }>();
  private readonly lifecycles = new Map<string, Lifecycle>();
  /** Sessions whose sandbox reached its max_lifetime_s and is being stopped. */
  private readonly recycling = new Set<string>();
  private reaper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Live sessions' sandbox clocks: provider and the instant up to which their time was counted. */
  /** Sessions whose sandbox is starting: session id → workspace id (they count toward the quota). */
  private readonly starting = new Map<string, string>();
  /** Starts in progress, which shutdown waits for so that none outlives it. */
  private readonly startsInFlight = new Set<Promise<unknown>>();
  private shuttingDown = false;
  private readonly sandboxClocks = new Map<string, { ref: SessionRef; provider: string; sinceMs: number }>();
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly gate: StartGate;
  private readonly pool: WarmPool<{ env: EnvironmentRecord; config: EnvironmentConfig; body: JsonObject }, Booted>;
  /** Warm sandboxes handed to sessions that have not started on them yet (standby sessions). */
  private readonly claimed = new StandbySet<Booted>();
  /**
   * Standby sandboxes being discarded. The session's next start waits for
   * its discard, which would otherwise close the gateway endpoint and remove
   * the directories that start creates under the same session id.
   */
  private readonly discarding = new Map<string, Promise<void>>();

  constructor(private readonly o: EngineOptions) {
    this.log = o.log.child({ component: 'engine' });
    this.metrics = o.metrics ?? new NoopMetrics();
    this.gate = new StartGate(o.startConcurrency ?? 2);
    this.pool = new WarmPool({
      start: (spec, id) => this.startWarm(spec.env, spec.config, spec.body, id),
      discard: (id, booted) => this.discardWarm(id, booted),
      hasRoom: (workspaceId) => !this.shuttingDown && (!o.maxLiveSessionsPerWorkspace || this.liveCount(workspaceId) < o.maxLiveSessionsPerWorkspace),
      newId: () => newId('sesn'),
      log: this.log,
    });
  }

  /**
   * Hands a new session a warm sandbox of its environment's pool, if one
   * fits: the session must take the returned id (the sandbox's transcript and
   * gateway keys are that id), and is standby until its first message (see
   * `warmClaimed`). Records the creation either way, so the pool follows
   * demand. `body` is the new session's body (agent snapshot, budget).
   */
  async claimWarm(workspaceId: string, env: EnvironmentRecord, body: JsonObject): Promise<string | null> {
    const config = this.configOf(env.body);
    const settings = config.warmPool;
    const agent = agentOf(body);
    // A budget is fixed when Claude Code starts; such sessions start cold.
    if (!settings || settings.max === 0 || this.shuttingDown || (body.budget ?? null) !== null) return null;
    const key = poolKey(workspaceId, env.id, agent.id, agent.version);
    const fingerprint = `${env.updatedAt}|${(await this.executable()) ?? ''}`;
    this.pool.noteDemand({ key, workspaceId, environmentId: env.id, settings, fingerprint, spec: { env, config, body: { agent: body.agent ?? null } } });
    const member = this.pool.take(key, fingerprint);
    if (member) this.claimed.add(member.id, member, standbyHoldMs(config.lifecycle.idle_timeout_s, settings));
    this.pool.reconcile();
    return member?.id ?? null;
  }

  /**
   * The session that took a warm sandbox has been created: from now on its
   * standby sandbox gives way to other sessions of the workspace and expires
   * unused, and a start that fails takes it out of standby.
   */
  warmClaimed(ref: SessionRef): void {
    const standby = this.claimed.commit(ref.id);
    if (!standby) return;
    // A process that dies while it waits is caught by onEnded; this catches one that never started.
    standby.member.started.then(
      (booted) => {
        if (booted.live.isEnded) return void this.dropStandby(ref.id, 'ended');
        // Known from the rehearsal: `cli status` can say which version a standby session holds.
        const version = booted.live.cliVersion;
        if (version) {
          void this.o.events
            .update(ref, (s) => ({ body: withRuntime(s.body, { cli_version: runtimeOf(s.body).cli_version ?? version }) }))
            .catch(() => null);
        }
      },
      () => void this.dropStandby(ref.id, 'ended'),
    );
  }

  /** Gives back a claimed warm sandbox whose session was not created after all; it is discarded. */
  releaseWarm(sessionId: string): void {
    const standby = this.claimed.take(sessionId);
    if (standby) void this.discardStandby(sessionId, standby.member);
  }

  /**
   * Takes a session out of standby: its sandbox is discarded (in the
   * background; its next start waits for that) and it shows
   * `sandbox_state: destroyed`. Resolves once that is recorded.
   */
  private async dropStandby(sessionId: string, reason: 'gave_way' | 'expired' | 'ended' | 'stopped'): Promise<void> {
    const standby = this.claimed.take(sessionId);
    if (!standby) return;
    this.log.info({ sessionId, reason }, 'standby sandbox discarded');
    void this.discardStandby(sessionId, standby.member);
    await this.o.events
      .update({ id: sessionId, workspaceId: standby.workspaceId }, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) }))
      .catch(() => null);
  }

  private discardStandby(sessionId: string, member: WarmMember<Booted>): Promise<void> {
    const done = member.started
      .catch(() => undefined)
      .then((booted) => this.discardWarm(sessionId, booted))
      .catch((error: unknown) => this.log.warn({ err: error, sessionId }, 'could not discard a standby sandbox'));
    this.discarding.set(sessionId, done);
    void done.then(() => {
      if (this.discarding.get(sessionId) === done) this.discarding.delete(sessionId);
    });
    return done;
  }

  /** The warm pools of one environment, for its API view. */
  warmPoolStatus(workspaceId: string, environmentId: string): WarmPoolStatus {
    return this.pool.status(workspaceId, environmentId);
  }

  /**
   * Warm sandboxes of the workspace waiting in pools or held by standby
   * sessions: they count as live, and give way to sessions that need the room.
   */
  warmCount(workspaceId: string): number {
    return this.pool.count(workspaceId) + this.claimed.count(workspaceId, (id) => this.starting.has(id));
  }

  /** The environment's typed configuration, with this server's defaults. */
  private configOf(environmentBody: JsonObject): EnvironmentConfig {
    return environmentConfig(environmentBody, { provider: this.o.defaultProvider, warmPool: this.o.warmPool });
  }

  private async startWarm(env: EnvironmentRecord, config: EnvironmentConfig, body: JsonObject, id: string): Promise<Booted> {
    const ref: SessionRef = { id, workspaceId: env.workspaceId };
    let failure: unknown;
    // The rehearsal is part of the start: it takes the same slot of the gate.
    const booted = await this.gate.run(async () => {
      const started = await this.boot(ref, env, config, body);
      if (started.live.isEnded) failure = new Error('Claude Code exited while starting');
      // A member taken while it started has a session waiting: that session runs the first turn itself.
      else if (config.warmPool?.rehearse !== false && this.pool.has(id)) failure = await this.rehearse(id, started).then(noop, (error: unknown) => error);
      return started;
    }, 'background');
    if (failure) {
      await this.discardWarm(id, booted);
      throw failure;
    }
    return booted;
  }

  /**
   * A warm sandbox's rehearsal (see `LiveSession.rehearse`), answered by the
   * gateway; the rehearsed conversation's transcript is deleted, here and
   * in the store, so the session's conversation is the only one it has.
   */
  private async rehearse(id: string, booted: Booted): Promise<void> {
    this.o.gateway.rehearse(id, true);
    let conversation: string;
    try {
      conversation = await booted.live.rehearse();
    } finally {
      this.o.gateway.rehearse(id, false);
    }
    await rm(join(booted.dirs.config, 'projects', id, `${conversation}.jsonl`), { force: true });
    await this.o.transcripts?.delete?.({ projectKey: id, sessionId: conversation });
  }

  private async discardWarm(id: string, booted: Booted | undefined): Promise<void> {
    await booted?.live.close().catch((error: unknown) => this.log.warn({ err: error, sandbox: id }, 'could not close a warm sandbox'));
    await this.o.gateway.closeSession(id).catch(() => undefined);
    this.sharedWorkspaces.delete(id);
    // A session that later starts cold under this id starts clean.
    await this.removeOwnFiles(id);
  }

  /** The files kept under a session id: its directory (config, tmp, own workspace) and every transcript mirrored under it. */
  private async removeOwnFiles(id: string): Promise<void> {
    await rm(this.dirsFor(id).root, { recursive: true, force: true });
    const transcripts = this.o.transcripts;
    if (transcripts?.listSessions && transcripts.delete) {
      for (const t of await transcripts.listSessions(id)) await transcripts.delete({ projectKey: id, sessionId: t.sessionId });
    }
  }

  /** The warm sandbox claimed for this session, once started; undefined when there is none or it failed. */
  private async claimedBoot(sessionId: string): Promise<Booted | undefined> {
    const member = this.claimed.take(sessionId)?.member;
    if (!member) return undefined;
    const booted = await member.started.catch(() => undefined);
    if (booted && !booted.live.isEnded) return booted;
    await this.discardWarm(sessionId, booted);
    return undefined;
  }

  /** The sessions this server runs, for the sessions gauge. */
  *liveSessions(): Iterable<LiveSessionSample> {
    for (const [id, live] of this.live) {
      const pattern = this.lifecycles.get(id)?.pattern ?? DEFAULT_LIFECYCLE.pattern;
      yield { state: !live.busy ? 'idle' : live.idleSince !== null ? 'waiting' : 'running', pattern };
    }
  }

  /**
   * Counts sandbox time since it was last counted (when at least
   * `minSeconds` have passed); `final` when the sandbox goes.
   */
  private async accrueSandbox(sessionId: string, final: boolean, minSeconds = 0): Promise<void> {
    const clock = this.sandboxClocks.get(sessionId);
    if (!clock) return;
    const now = Date.now();
    const seconds = Math.max(0, now - clock.sinceMs) / 1000;
    if (!final && seconds < minSeconds) return;
    if (final) this.sandboxClocks.delete(sessionId);
    clock.sinceMs = now;
    this.metrics.sandboxTime({ provider: clock.provider, seconds });
    const meter = this.o.meter;
    if (!meter) return;
    try {
      const usd = await meter.sandbox(clock.ref, clock.provider, seconds);
      const next = final ? null : { since: new Date(now).toISOString(), usd_per_hour: meter.sandboxUsdPerHour(clock.provider) };
      await this.o.events.update(clock.ref, (s) => ({ body: addCost(s.body, { sandbox_usd: usd }, next) }));
    } catch (error) {
      this.log.warn({ err: error, sessionId }, 'could not record sandbox time');
    }
  }

  /** The sandbox provider of an environment's sessions. */
  providerFor(environmentBody: JsonObject): string {
    return this.configOf(environmentBody).provider;
  }

  /** Hands committed user.message content to the session's process, starting it if needed. */
  deliver(session: SessionRecord, content: Json[]): Promise<void> {
    return this.serialized(session.id, () => this.deliverNow(session, content));
  }

  private async deliverNow(session: SessionRecord, content: Json[]): Promise<void> {
    const refusal = await this.o.admitTurn?.(session);
    if (refusal) {
      await this.o.events.append(session, [sessionError('billing_error', refusal), idleDraft({ type: 'budget_reached' })]);
      return;
    }
    try {
      const live = await this.ensureLive(session);
      await live.enqueue(await this.withRedelivery(session, content));
    } catch (error) {
      this.log.error({ err: error, sessionId: session.id }, 'could not start the session');
      await this.o.events.append(
        session,
        [sessionError('unknown_error', `could not start the session's sandbox: ${(error as Error).message}`), idleDraft({ type: 'retries_exhausted' })],
        (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) }),
      );
    }
  }


  /**
   * Event ids of tool uses waiting for confirmation. A session without a
   * process (hibernated, or the server restarted) is still waiting for the
   * calls its last `requires_action` named and nobody answered.
   */
  async waitingToolUses(session: SessionRecord): Promise<string[]> {
    const live = this.live.get(session.id);
    if (live && !live.isEnded) return live.waitingToolUses();
    const recent = await this.o.store.listEvents(session.id, {
      limit: 500,
      order: 'desc',
      types: ['session.status_idle', 'user.tool_confirmation', 'agent.tool_result', 'session.status_running'],
    });
    const answered = new Set<string>();
    for (const e of recent.items) {
      if (e.type === 'user.tool_confirmation' || e.type === 'agent.tool_result') answered.add(String(e.body.tool_use_id));
      else if (e.type === 'session.status_running') continue;
      else {
        const stop = e.body.stop_reason as { type?: string; event_ids?: string[] } | undefined;
        if (stop?.type !== 'requires_action') return [];
        return (stop.event_ids ?? []).filter((id) => !answered.has(id));
      }
    }
    return [];
  }

  /** Whether the session holds a sandbox now (or is getting one). */
  isLive(sessionId: string): boolean {
    const live = this.live.get(sessionId);
    return (live !== undefined && !live.isEnded) || this.starting.has(sessionId);
  }

  /** Sessions of the workspace that hold a sandbox or are getting one, and its warm sandboxes. */
  liveCount(workspaceId: string): number {
    let n = this.pool.count(workspaceId);
    for (const live of this.live.values()) if (live.ref.workspaceId === workspaceId && !live.isEnded) n++;
    for (const [id, ws] of this.starting) if (ws === workspaceId && !this.live.has(id)) n++;
    return n + this.claimed.count(workspaceId, (id) => this.starting.has(id));
  }

  /** Starts the session's sandbox and process without a message (a port preview wakes it). */
  wake(session: SessionRecord): Promise<void> {
    return this.serialized(session.id, async () => void (await this.ensureLive(session)));
  }

  /** The live session's sandbox provider and the host pid of its process, when it has one. */
  sandboxProcess(sessionId: string): { provider: string; pid: number } | undefined {
    const live = this.live.get(sessionId);
    const clock = this.sandboxClocks.get(sessionId);
    return live && !live.isEnded && live.pid !== undefined && clock ? { provider: clock.provider, pid: live.pid } : undefined;
  }

  isBusy(sessionId: string): boolean {
    return this.live.get(sessionId)?.busy ?? false;
  }

  /**
   * Answers a waiting tool call. When the process that asked is gone, the
   * call never ran: the answer goes to a restored process as a message, and
   * an approved call is allowed once without asking when the agent makes it
   * again, so it runs exactly once.
   */
  confirm(session: SessionRecord, toolUseEventId: string, allow: boolean, denyMessage?: string | null): Promise<boolean> {
    return this.serialized(session.id, async () => {
      const live = this.live.get(session.id);
      if (live && !live.isEnded) return live.confirm(toolUseEventId, allow, denyMessage);
      const toolUse = await this.o.store.getEvent(session.id, toolUseEventId);
      if (!toolUse) return false;
      const name = String(toolUse.body.name);
      const input = isObject(toolUse.body.input) ? toolUse.body.input : {};
      const text = allow
        ? `The user approved your ${name} call with input ${JSON.stringify(input)}. It has not run: the session was restored while it waited for approval. Make the call again if you still need it.`
        : `The user denied your ${name} call${denyMessage ? `: ${denyMessage}` : '.'} It did not run.`;
      if (allow) this.preapprovals.set(session.id, { claudeName: claudeToolName(name), input });
      await this.deliverNow(session, [{ type: 'text', text }]);
      return true;
    });
  }

  /** Interrupts without waiting behind queued control operations. */
  async interrupt(sessionId: string): Promise<void> {
    await this.live.get(sessionId)?.interrupt();
  }

  /** Stops the session's process and destroys its sandbox. Idempotent. */
  stop(ref: SessionRef): Promise<void> {
    return this.serialized(ref.id, async () => {
      await this.dropStandby(ref.id, 'stopped');
      await this.discarding.get(ref.id);
      const live = this.live.get(ref.id);
      if (!live) return;
      this.live.delete(ref.id);
      await this.accrueSandbox(ref.id, true);
      this.lifecycles.delete(ref.id);
      this.releaseLocks(ref.id);
      await live.close();
      await this.o.gateway.closeSession(ref.id);
      await this.o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) })).catch(() => null);
    });
  }

  /**
   * Makes a host directory the session's workspace instead of one under the
   * data dir. Only in-process callers (`agenthost run`) use this; API clients
   * can never choose host paths.
   */
  bindWorkspace(sessionId: string, dir: string): void {
    this.boundWorkspaces.set(sessionId, dir);
  }

  /** Removes a session's files after it was deleted. */
  async removeFiles(sessionId: string): Promise<void> {
    await rm(this.dirsFor(sessionId).root, { recursive: true, force: true });
    this.boundWorkspaces.delete(sessionId);
    this.sharedWorkspaces.delete(sessionId);
    await this.o.snapshots?.delete(sessionId);
  }

  /** Stops every live session (server shutdown). */
  async shutdown(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    await this.sweeping;
    // A session starting now would otherwise go live after the sweep below.
    this.shuttingDown = true;
    await Promise.allSettled([...this.startsInFlight]);
    const standby = this.claimed.ids().map((id) => this.discardStandby(id, this.claimed.take(id)!.member));
    await Promise.all([this.pool.close(), ...standby, ...this.discarding.values()]);
    const ids = [...this.live.keys()];
    await Promise.all(
      ids.map(async (id) => {
        const live = this.live.get(id);
        this.live.delete(id);
        await this.accrueSandbox(id, true);
        await live?.close().catch((error: unknown) => this.log.warn({ err: error, sessionId: id }, 'close failed'));
        await this.o.gateway.closeSession(id).catch(() => undefined);
      }),
    );
  }

  /**
   * Start-up recovery: sandboxes an earlier run left behind are destroyed and
   * turns it was running end with an error the user can read.
   */
  async recover(): Promise<void> {
    for (const provider of this.o.providers.values()) {
      for (const info of await provider.list().catch(() => [])) {
        this.log.info({ sandbox: info.id, provider: provider.name }, 'destroying a sandbox left by an earlier run');
        await provider.destroy(info.id).catch((error: unknown) => this.log.warn({ err: error }, 'could not destroy a leftover sandbox'));
      }
    }
    await this.removeOrphanedFiles();
    const unapplied: Array<{ session: SessionRecord; confirmation: JsonObject }> = [];
    for (const session of await this.o.store.listSessionsByStatus(['idle'])) {
      const state = runtimeOf(session.body).sandbox_state;
      const hadSandbox = state === 'live' || state === 'starting' || state === 'standby';
      if (!hadSandbox && !inputCommitted(session.body)) continue;
      // Input committed after the last turn began or ended never reached Claude Code: the server died
      // while the sandbox started, or before it began to. An applied confirmation is followed by
      // session.status_running (a live process's) or a turn (a restored one's).
      const recent = (
        await this.o.store.listEvents(session.id, { limit: 100, order: 'desc', types: ['user.message', 'user.tool_confirmation', 'session.status_idle', 'session.status_running'] })
      ).items;
      const end = recent.findIndex((e) => e.type !== 'user.tool_confirmation');
      for (const e of recent.slice(0, end === -1 ? recent.length : end).reverse()) unapplied.push({ session, confirmation: e.body });
      if (recent[end]?.type === 'user.message') {
        await this.endInterrupted(session, 'agenthost restarted before your message reached the agent; send a message to continue, and it is delivered with that one');
      } else {
        await this.o.events.update(session, (s) => ({
          body: withInternal(hadSandbox ? withRuntime(s.body, { sandbox_state: 'destroyed' }) : s.body, { input_committed: undefined }),
        }));
      }
    }
    for (const session of await this.o.store.listSessionsByStatus(['running', 'rescheduling'])) {
      await this.endInterrupted(session, 'agenthost restarted while this turn was running; send a message to continue');
    }
    // Answers the user gave are applied as if the server had not died: to a restored process.
    for (const { session, confirmation: c } of unapplied) {
      this.log.info({ sessionId: session.id, toolUseId: c.tool_use_id }, 'applying a tool confirmation a restart kept from the agent');
      void this.confirm(session, String(c.tool_use_id), c.result === 'allow', typeof c.deny_message === 'string' ? c.deny_message : null).catch((error: unknown) =>
        this.log.error({ err: error, sessionId: session.id }, 'could not apply a tool confirmation after the restart'),
      );
    }
  }

  /**
   * Removes the directories, and mirrored transcripts, of sessions that do
   * not exist: warm sandboxes nobody had claimed when the last server died,
   * or a deletion it did not finish.
   */
  private async removeOrphanedFiles(): Promise<void> {
    const root = join(this.o.dataDir, 'sessions');
    const names = await readdir(root).catch(() => [] as string[]);
    if (names.length === 0) return;
    const existing = await this.o.store.existingSessionIds(names);
    for (const id of names) {
      if (existing.has(id)) continue;
      this.log.info({ sessionId: id }, 'removing the files of a session that does not exist (an unclaimed warm sandbox)');
      await this.removeOwnFiles(id).catch((error: unknown) => this.log.warn({ err: error, sessionId: id }, 'could not remove leftover session files'));
    }
  }

  /**
   * Ends a turn the last server did not finish, with an error the user can
   * read, and marks the log up to here for redelivery: messages in it that
   * Claude Code's transcript lacks go with the next message (see redeliver.ts).
   */
  private async endInterrupted(session: SessionRecord, message: string): Promise<void> {
    const { events } = await this.o.events.append(session, [sessionError('unknown_error', message, 'exhausted'), idleDraft({ type: 'retries_exhausted' })], (s) => ({
      // A hibernated session's snapshot is still its workspace: the next start restores it.
      body: runtimeOf(s.body).sandbox_state === 'hibernated' ? s.body : withRuntime(s.body, { sandbox_state: 'destroyed' }),
    }));
    const through = events.at(-1)!.seq;
    await this.o.events.update(session, (s) => ({ body: withInternal(s.body, { redeliver_through: through, input_committed: undefined }) }));
  }

  /**
   * The content of the next turn after a restart: the messages the crash
   * kept from Claude Code, then the new content. Clears the mark.
   */
  private async withRedelivery(session: SessionRecord, content: Json[]): Promise<Json[]> {
    const current = (await this.o.store.getSession(session.workspaceId, session.id)) ?? session;
    const internal = internalOf(current.body);
    const through = internal.redeliver_through;
    if (typeof through !== 'number') return content;
    const events = await this.o.store.listEvents(session.id, { limit: 10_000, order: 'asc', types: ['user.message', 'session.status_idle'] });
    // The process just started from the transcript in its config dir (materialized from the store); read it there.
    const claudeSessionId = internal.claude_session_id;
    const transcript =
      typeof claudeSessionId === 'string' ? await readLocalTranscript(this.dirsFor(session.id).config, { projectKey: session.id, sessionId: claudeSessionId }) : null;
    const missed = undeliveredMessages(events.items, transcript, through);
    await this.o.events.update(session, (s) => ({ body: withInternal(s.body, { redeliver_through: undefined }) }));
    if (missed.length > 0) this.log.info({ sessionId: session.id, messages: missed.length }, 'redelivering messages a restart kept from Claude Code');
    return [...redeliveryContent(missed), ...content];
  }

  /** Starts the idle reaper. */
  startReaper(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => {
      // One pass at a time; shutdown waits for the one under way (a hibernation writing its snapshot).
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.log.error({ err: error }, 'sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.o.sweepIntervalMs ?? 5_000);
    this.reaper.unref();
  }

  /**
   * One pass of the idle reaper. The idle clock runs only between turns: a
   * turn in progress (model time, a long tool, a pending confirmation) is
   * never idle. `max_lifetime_s` bounds the sandbox however busy it is.
   */
  async sweep(now = Date.now()): Promise<void> {
    for (const id of this.claimed.expired(now)) if (!this.starting.has(id)) await this.dropStandby(id, 'expired');
    this.pool.reconcile();
    for (const [id, live] of [...this.live]) {
      await this.accrueSandbox(id, false, 60);
      const lc = this.lifecycles.get(id) ?? DEFAULT_LIFECYCLE;
      if (lc.max_lifetime_s !== null && now - live.startedAtMs >= lc.max_lifetime_s * 1000) {
        // Once: later sweeps find the session still live while its turn is being stopped.
        if (!this.recycling.has(id)) {
          this.recycling.add(id);
          void this.recycle(live, lc.max_lifetime_s)
            .catch((error: unknown) => this.log.error({ err: error, sessionId: id }, 'could not recycle a sandbox at its max_lifetime_s'))
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
    return this.serialized(ref.id, async () => {
      const live = this.live.get(ref.id);
      // Idle, or paused for a confirmation (which a restored session still accepts).
      if (!live || (live.idleSince === null && reason !== 'max_lifetime')) return false;
      const started = Date.now();
      this.live.delete(ref.id);
      await this.accrueSandbox(ref.id, true);
      this.lifecycles.delete(ref.id);
      await live.close({ quiet: live.idleSince !== null });
      await this.o.gateway.closeSession(ref.id);
      const dirs = this.dirsFor(ref.id);
      this.releaseLocks(ref.id);
      if (this.o.snapshots && this.ownsWorkspace(ref.id)) {
        await this.o.snapshots.save(ref.id, dirs.workspace);
        await rm(dirs.workspace, { recursive: true, force: true });
      }
      await rm(dirs.tmp, { recursive: true, force: true });
      // The local transcript goes once the store has all of it; otherwise it stays for the next start to repair from.
      if (this.o.transcripts && (await this.repairTranscripts(ref, dirs.config))) await rm(dirs.config, { recursive: true, force: true });
      await this.o.events.update(ref, (s) => ({
        body: withRuntime(s.body, { sandbox_state: 'hibernated', hibernated_at: new Date().toISOString() }),
      }));
      this.log.info({ sessionId: ref.id, reason, ms: Date.now() - started }, 'session hibernated');
      return true;
    });
  }

  /** Gateway hook: a model request from a session's sandbox has started. */
  async modelRequestStarted(info: ModelRequestStart): Promise<void> {
    const ref = this.refFor(info.sessionId);
    if (!ref) return;
    // The id is known before the append resolves: a fast response may end
    // while the start is still being committed.
    const id = newId('sevt');
    this.spans.set(info.requestId, id);
    await this.o.events.append(ref, [{ id, type: 'span.model_request_start' }]);
  }

  /** Gateway hook: that request has finished; its usage counts toward the session. */
  async modelRequestEnded(info: ModelRequestEnd): Promise<void> {
    const ref = this.refFor(info.sessionId);
    const startId = this.spans.get(info.requestId);
    this.spans.delete(info.requestId);
    if (!ref || !startId) return;
    const u = info.usage;
    const usd = this.o.meter
      ? await this.o.meter.tokens(ref, info.model, u).catch((error: unknown) => {
          this.log.warn({ err: error, sessionId: ref.id }, 'could not record token usage');
          return 0;
        })
      : 0;
    await this.o.events.append(
      ref,
      [
        {
          type: 'span.model_request_end',
          fields: {
            model_request_start_id: startId,
            is_error: info.status >= 400 || info.error !== undefined,
            model_usage: {
              input_tokens: u.input_tokens,
              output_tokens: u.output_tokens,
              cache_creation_input_tokens: u.cache_creation_input_tokens,
              cache_read_input_tokens: u.cache_read_input_tokens,
            },
          },
        },
      ],
      (s) => ({ body: addCost(withUsageAdded(s.body, u), { tokens_usd: usd }) }),
    );
  }

  private refFor(sessionId: string): SessionRef | null {
    return this.live.get(sessionId)?.ref ?? null;
  }

  /**
   * A session's directories. Sessions of `shared` and `long_running`
   * environments share their environment's workspace, each starting in its
   * own directory in it; everyone else has a workspace of their own.
   */
  private dirsFor(sessionId: string): SessionDirs {
    const root = join(this.o.dataDir, 'sessions', sessionId);
    const envId = this.sharedWorkspaces.get(sessionId);
    if (envId) {
      const workspace = join(this.o.dataDir, 'environments', envId, 'workspace');
      return { root, workspace, cwd: join(workspace, sessionId), config: join(root, 'claude'), tmp: join(root, 'tmp') };
    }
    const workspace = this.boundWorkspaces.get(sessionId) ?? join(root, 'workspace');
    return { root, workspace, cwd: workspace, config: join(root, 'claude'), tmp: join(root, 'tmp') };
  }

  /** Whether the session's workspace is its own, so hibernation may snapshot and remove it. */
  private ownsWorkspace(sessionId: string): boolean {
    return !this.boundWorkspaces.has(sessionId) && !this.sharedWorkspaces.has(sessionId);
  }


  /** The session's live process; starts one within the workspace's quota of live sessions. */
  private async ensureLive(session: SessionRecord): Promise<LiveSession> {
    const existing = this.live.get(session.id);
    if (existing && !existing.isEnded) return existing;
    const quota = this.o.maxLiveSessionsPerWorkspace;
    let gaveWay: Promise<void> | undefined;
    // A standby session's own sandbox was counted already. Otherwise a warm
    // sandbox gives way to a session that needs the room: an unclaimed pool
    // member first, then the standby session that has waited longest.
    if (quota && !this.claimed.has(session.id) && this.liveCount(session.workspaceId) >= quota && !this.pool.evict(session.workspaceId)) {
      const victim = this.claimed.victim(session.workspaceId, (id) => this.starting.has(id));
      if (!victim) {
        this.metrics.limited({ limit: 'live_sessions' });
        throw new Error(`the workspace already has ${quota} live sessions, its quota; archive one or wait for an idle one to hibernate`);
      }
      gaveWay = this.dropStandby(victim, 'gave_way');
    }
    if (this.shuttingDown) throw new Error('the server is shutting down; the message is kept and runs when the session next starts');
    // Counted from here on, before anything is awaited, so that concurrent starts see it.
    this.starting.set(session.id, session.workspaceId);
    const start = (async () => {
      await gaveWay;
      return this.startLive(session);
    })();
    this.startsInFlight.add(start);
    try {
      return await start;
    } finally {
      this.startsInFlight.delete(start);
      this.starting.delete(session.id);
    }
  }

  private async startLive(session: SessionRecord): Promise<LiveSession> {
    const existing = this.live.get(session.id);
    if (existing && !existing.isEnded) return existing;
    const startedMs = performance.now();
    const ref: SessionRef = { id: session.id, workspaceId: session.workspaceId };
    const env = await this.o.store.getEnvironment(session.workspaceId, session.environmentId);
    if (!env) throw new Error(`environment ${session.environmentId} no longer exists`);
    const current = (await this.o.store.getSession(session.workspaceId, session.id)) ?? session;
    const config = this.configOf(env.body);
    const lifecycle = config.lifecycle;
    const wasHibernated = runtimeOf(current.body).sandbox_state === 'hibernated';

    let booted = await this.claimedBoot(session.id);
    const warm = booted !== undefined;
    // A standby sandbox of this session that went is still being discarded.
    if (!warm) await this.discarding.get(session.id);
    if (booted) {
      this.lifecycles.set(session.id, lifecycle);
      const warmBoot = booted;
      // Placed now that the session exists; the process reads files only once a turn starts.
      await this.o.prepareWorkspace?.(current, warmBoot.dirs.cwd).catch(async (error: unknown) => {
        await this.discardWarm(session.id, warmBoot);
        throw error;
      });
    } else {
      this.lifecycles.set(session.id, lifecycle);
      await this.setSandboxState(ref, 'starting', config.provider);
      booted = await this.gate.run(() =>
        this.boot(ref, env, config, current.body, {
          beforeStart: async (dirs) => {
            if (wasHibernated && this.o.snapshots && this.ownsWorkspace(session.id)) await this.o.snapshots.restore(session.id, dirs.workspace);
          },
          prepare: (dirs) => this.o.prepareWorkspace?.(current, dirs.cwd) ?? Promise.resolve(),
        }),
      );
    }
    const { live, providerName } = booted;
    live.adopted();
    this.live.set(session.id, live);
    this.sandboxClocks.set(session.id, { ref, provider: providerName, sinceMs: live.startedAtMs });
    if (this.o.meter) {
      const clock = { since: new Date(live.startedAtMs).toISOString(), usd_per_hour: this.o.meter.sandboxUsdPerHour(providerName) };
      await this.o.events.update(ref, (s) => ({ body: addCost(s.body, {}, clock) }));
    }
    this.preapprovals.delete(session.id);
    await this.o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'live', provider: providerName, warm_start: warm }) }));
    this.metrics.sessionStarted({ provider: providerName, pattern: lifecycle.pattern, seconds: (performance.now() - startedMs) / 1000, resumed: wasHibernated });
    return live;
  }

  /**
   * Creates a session's directories, gateway endpoint and sandbox, and starts
   * its Claude Code process; resolves once the process waits for its first
   * message. Runs for a session that exists (a cold start) or for one a warm
   * pool will hand out (its id preallocated, its record not yet written).
   */
  private async boot(
    ref: SessionRef,
    env: EnvironmentRecord,
    config: EnvironmentConfig,
    body: JsonObject,
    hooks: { beforeStart?: (dirs: SessionDirs) => Promise<void>; prepare?: (dirs: SessionDirs) => Promise<void> } = {},
  ): Promise<Booted> {
    const providerName = config.provider;
    const provider = this.o.providers.get(providerName);
    if (!provider) throw new Error(`sandbox provider ${providerName} is not available on this server`);
    const { lifecycle, networking } = config;
    const shared = lifecycle.pattern === 'shared' || lifecycle.pattern === 'long_running';
    if (shared) this.sharedWorkspaces.set(ref.id, env.id);
    const dirs = this.dirsFor(ref.id);
    await hooks.beforeStart?.(dirs);
    await Promise.all([dirs.workspace, dirs.cwd, dirs.config, dirs.tmp].map((d) => mkdir(d, { recursive: true, mode: 0o777 })));
    // A resume would materialize the store's copy over the local file that has the missed lines.
    const internal = internalOf(body);
    if ((internal.transcript_gaps ?? []).length > 0 && !(await this.repairTranscripts(ref, dirs.config))) {
      throw new Error('the conversation transcript could not be saved to the store; try again');
    }
    await hooks.prepare?.(dirs);
    const resume = await this.resumableConversation(ref.id, internal.claude_session_id, dirs.config);
    const agent = agentOf(body);
    const mcpServerUrls = (agent.mcp_servers ?? []).flatMap((m) => (typeof m.url === 'string' ? [m.url] : []));
    const endpoint = await this.o.gateway.openSession(ref.id, { networking, mcpServerUrls });
    let sandbox;
    try {
      sandbox = await provider.create({
        id: ref.id,
        workspaceId: ref.workspaceId,
        workspaceDir: dirs.workspace,
        configDir: dirs.config,
        tmpDir: dirs.tmp,
        gatewaySocket: endpoint.socketPath,
        gatewayUrl: endpoint.url,
        limits: config.limits,
        ...(endpoint.egressSocket ? { egressSocket: endpoint.egressSocket, egressLimited: networking.type === 'limited' } : {}),
        // What a limit stopped, for the user to read; the turn itself goes on (or ends as the CLI decides).
        onLimit: (event) =>
          void this.o.events
            .append(ref, [sessionError('unknown_error', `sandbox limit: ${event.message}`)])
            .catch((error: unknown) => this.log.warn({ err: error, sessionId: ref.id }, 'could not record a sandbox limit')),
      });
    } catch (error) {
      await this.o.gateway.closeSession(ref.id);
      throw error;
    }

    const executable = await this.executable();
    const live: LiveSession = new LiveSession({
      ref,
      log: this.o.log,
      events: this.o.events,
      sandbox,
      dirs,
      gatewayToken: endpoint.token,
      options: {
        model: agentModelId(agent) ?? this.o.defaultModel,
        system: typeof agent.system === 'string' ? agent.system : null,
        plan: planTools(agent.tools),
        maxTurns: this.o.maxTurns,
        ...remainingBudget(body),
        ...(executable ? { executable } : {}),
        ...(resume ? { resume } : {}),
        ...(this.preapprovals.has(ref.id) ? { preapproved: this.preapprovals.get(ref.id)! } : {}),
        ...(shared
          ? {
              writeGuard: (path: string, cwd: string) =>
                checkSharedWrite(this.locks, { scope: env.id, workspace: dirs.workspace, ownDir: dirs.cwd, sessionId: ref.id, cwd, path }),
            }
          : {}),
      },
      ...(this.o.transcripts ? { sessionStore: this.o.transcripts } : {}),
      onEnded: (ended) => this.onEnded(ref, ended),
      onMirrorError: (_live, key, error) => void this.transcriptMissed(ref, key, error),
      onTurnEnded: (_live, stop) => {
        // The refill this session's warm start held back competes with nothing that is waited for now.
        this.pool.refillNow(ref.id);
        // Shared paths a session wrote during its turn are free again once it ends.
        if (stop.type !== 'requires_action') this.releaseLocks(ref.id);
        // An ephemeral session is one task: when it ends (not when it pauses
        // for a confirmation) the sandbox goes and the session is terminated.
        if (lifecycle.pattern === 'ephemeral' && stop.type !== 'requires_action') void this.finishEphemeral(ref);
      },
    });
    // Inside the start gate, so a burst of starts queues instead of sharing the CPU.
    await live.ready();
    return { live, dirs, providerName, executable };
  }

  /**
   * The SDK gave up saving a batch of the session's transcript lines to the
   * store (after its retries). The local file still has them: the session
   * records which transcript misses lines, and the store's copy is rewritten
   * from that file before the local one goes (hibernation) or a resume would
   * overwrite it (the next start).
   */
  private async transcriptMissed(ref: SessionRef, key: SessionKey, error: string): Promise<void> {
    this.metrics.transcriptMirror({ outcome: 'missed' });
    this.log.error({ sessionId: ref.id, transcript: key, error }, 'the store missed transcript lines; they are rewritten from the local file later');
    await this.o.events
      .update(ref, (s) => {
        const gaps = internalOf(s.body).transcript_gaps ?? [];
        if (gaps.some((k) => sameTranscript(k, key))) return {};
        return { body: withInternal(s.body, { transcript_gaps: [...gaps, transcriptKey(key)] }) };
      })
      .catch((e: unknown) => this.log.error({ err: e, sessionId: ref.id }, 'could not record a transcript the store missed lines of'));
  }

  /**
   * Rewrites the store's copy of each transcript the session's mirror missed
   * lines of, from the local file under `configDir`. True when nothing is
   * missing any more. A store that fails keeps the gap recorded (the caller
   * keeps the local file); a local file that is gone (another machine)
   * cannot repair it, which the user is told. Never rejects.
   */
  private async repairTranscripts(ref: SessionRef, configDir: string): Promise<boolean> {
    return this.repairTranscriptsOrThrow(ref, configDir).catch((error: unknown) => {
      this.log.error({ err: error, sessionId: ref.id }, 'could not repair transcripts');
      return false;
    });
  }

  private async repairTranscriptsOrThrow(ref: SessionRef, configDir: string): Promise<boolean> {
    const transcripts = this.o.transcripts;
    const session = await this.o.store.getSession(ref.workspaceId, ref.id);
    const gaps = session ? (internalOf(session.body).transcript_gaps ?? []) : [];
    if (!transcripts || gaps.length === 0) return true;
    const left: SessionKey[] = [];
    let lost = 0;
    for (const key of gaps) {
      try {
        const entries = await readLocalTranscript(configDir, key);
        if (entries === null) {
          lost++;
          this.metrics.transcriptMirror({ outcome: 'failed' });
          this.log.error({ sessionId: ref.id, transcript: key }, 'the store misses transcript lines and the local file is gone');
          continue;
        }
        await transcripts.replace(key, entries);
        this.metrics.transcriptMirror({ outcome: 'repaired' });
        this.log.info({ sessionId: ref.id, transcript: key, entries: entries.length }, 'transcript rewritten from the local file');
      } catch (error) {
        left.push(key);
        this.metrics.transcriptMirror({ outcome: 'failed' });
        this.log.error({ err: error, sessionId: ref.id, transcript: key }, 'could not rewrite a transcript from the local file');
      }
    }
    const record: SessionMutation = (s) => ({
      body: withInternal(s.body, { transcript_gaps: left.map(transcriptKey) }),
    });
    if (lost === 0) await this.o.events.update(ref, record);
    else {
      const message = 'part of this session’s conversation history could not be saved; the agent may not remember some earlier turns';
      await this.o.events.append(ref, [sessionError('unknown_error', message)], record);
    }
    return left.length === 0;
  }

  /**
   * The Claude Code conversation to resume, if there is one, with its
   * transcript written from the store into the session's config dir. A
   * server killed after Claude Code announced its session id but before any
   * line of its transcript reached the store leaves an id with nothing
   * behind it; resuming that fails every turn ("No conversation found"), so
   * the session starts a new conversation instead, and the messages the
   * crash kept from the old one are redelivered (see redeliver.ts).
   */
  private async resumableConversation(sessionId: string, claudeSessionId: string | undefined, configDir: string): Promise<string | undefined> {
    if (typeof claudeSessionId !== 'string') return undefined;
    const transcripts = this.o.transcripts;
    if (!transcripts) return claudeSessionId;
    if (await materializeTranscript(transcripts, { projectKey: sessionId, sessionId: claudeSessionId }, configDir)) return claudeSessionId;
    this.log.warn({ sessionId, claudeSessionId }, 'no stored transcript for this conversation; starting a new one');
    return undefined;
  }

  private async executable(): Promise<string | undefined> {
    return this.o.claudeExecutable?.().catch((error: unknown) => {
      this.log.warn({ err: error }, 'no Claude Code version chosen; starting the bundled one');
      return undefined;
    });
  }

  /** Ends an ephemeral session after its task: outputs collected, sandbox destroyed, terminated. */
  private async finishEphemeral(ref: SessionRef): Promise<void> {
    try {
      await this.o.onTaskFinished?.(ref, this.dirsFor(ref.id).workspace);
      await this.stop(ref);
      await this.o.events.append(ref, [{ type: 'session.status_terminated' }]);
    } catch (error) {
      this.log.error({ err: error, sessionId: ref.id }, 'could not finish an ephemeral session');
    }
  }

  private releaseLocks(sessionId: string): void {
    const envId = this.sharedWorkspaces.get(sessionId);
    if (envId) this.locks.releaseAll(envId, sessionId);
  }

  private onEnded(ref: SessionRef, ended: LiveSession): void {
    if (this.live.get(ref.id) !== ended) {
      // A warm sandbox whose process died while it waited.
      if (this.pool.has(ref.id)) this.pool.remove(ref.id);
      else if (this.claimed.has(ref.id) && !this.starting.has(ref.id)) void this.dropStandby(ref.id, 'ended');
      return;
    }
    // The process ended on its own (a limit, or a crash). Release the sandbox;
    // anything still queued is delivered to a fresh process.
    const leftover = ended.drainPending();
    void this.stop(ref).then(async () => {
      if (leftover.length === 0) return;
      const session = await this.o.store.getSession(ref.workspaceId, ref.id);
      if (session && session.archivedAt === null && session.status !== 'terminated') await this.deliver(session, leftover);
    });
  }

  private async setSandboxState(ref: SessionRef, state: SandboxState, provider: string): Promise<void> {
    await this.o.events.update(ref, (s) => ({ body: withRuntime(s.body, { sandbox_state: state, provider }) }));
  }

  private serialized<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(sessionId, fn);
  }
}

function noop(): void {}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What is left of the session's budget for the next process, in USD. */
function remainingBudget(body: JsonObject): { maxBudgetUsd?: number } {
  const cents = budgetCentsOf(body);
  if (cents === undefined) return {};
  const spent = internalOf(body).cost_usd ?? 0;
  return { maxBudgetUsd: Math.max(Number(cents) / 100 - spent, 0.000001) };
}

/** Claude Code's name for an API tool name (`bash` → `Bash`). */
function claudeToolName(apiName: string): string {
  return (TOOL_NAMES as Record<string, string>)[apiName] ?? apiName;
}

function sameTranscript(a: SessionKey, b: SessionKey): boolean {
  return a.projectKey === b.projectKey && a.sessionId === b.sessionId && (a.subpath ?? '') === (b.subpath ?? '');
}

/** A transcript's key as stored: without an empty subpath. */
function transcriptKey(key: SessionKey): SessionKey {
  return { projectKey: key.projectKey, sessionId: key.sessionId, ...(key.subpath ? { subpath: key.subpath } : {}) };
}
