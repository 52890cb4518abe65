import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { EnvironmentConfig } from '../resources/environment-config.js';
import type { Booted, SessionBoot, SessionGateway } from '../sessions/boot.js';
import type { EventLog, SessionRef } from '../sessions/event-log.js';
import { agentOf, runtimeOf, withRuntime } from '../sessions/session-body.js';
import type { Transcripts } from '../sessions/transcripts.js';
import type { SessionWorkspaces } from '../sessions/workspaces.js';
import type { EnvironmentRecord, JsonObject } from '../store/store.js';
import { StandbySet, standbyHoldMs } from './standby.js';
import type { StartGate } from './start-gate.js';
import { WarmPool, poolKey, type WarmMember, type WarmPoolStatus } from './warm-pool.js';

export interface WarmSessionsOptions {
  boot: SessionBoot;
  gate: StartGate;
  gateway: Pick<SessionGateway, 'rehearse' | 'closeSession'>;
  events: EventLog;
  log: Logger;
  workspaces: SessionWorkspaces;
  transcripts: Transcripts;
  /** Whether the workspace has room for one more sandbox (its quota of live sessions; none once the server shuts down). */
  hasRoom: (workspaceId: string) => boolean;
  /** Whether the session's own start is under way (its standby sandbox is being taken). */
  isStarting: (sessionId: string) => boolean;
}

type Spec = { env: EnvironmentRecord; config: EnvironmentConfig; body: JsonObject };

/**
 * Warm sessions: sandboxes started, with Claude Code waiting in them, before
 * any session asks (an environment's warm pool), and handed to new sessions
 * of their environment and agent. A session that takes one is standby until
 * its first message: its sandbox counts toward the workspace's quota, gives
 * way to sessions that need the room, and expires unused.
 */
export class WarmSessions {
  private readonly pool: WarmPool<Spec, Booted>;
  /** Warm sandboxes handed to sessions that have not started on them yet (standby sessions). */
  private readonly standbys = new StandbySet<Booted>();
  /**
   * Standby sandboxes being discarded. The session's next start waits for
   * its discard, which would otherwise close the gateway endpoint and remove
   * the directories that start creates under the same session id.
   */
  private readonly discarding = new Map<string, Promise<void>>();

  constructor(private readonly o: WarmSessionsOptions) {
    this.pool = new WarmPool({
      start: (spec, id) => this.start(spec, id),
      discard: (id, booted) => this.discard(id, booted),
      hasRoom: (workspaceId) => o.hasRoom(workspaceId),
      newId: () => newId('sesn'),
      log: o.log,
    });
  }

  /**
   * Hands a new session a warm sandbox of its environment's pool, if one
   * fits: the session must take the returned id (the sandbox's transcript and
   * gateway keys are that id), and is standby until its first message (see
   * `claimed`). Records the creation either way, so the pool follows
   * demand. `body` is the new session's body (agent snapshot, budget).
   */
  async claim(workspaceId: string, env: EnvironmentRecord, config: EnvironmentConfig, body: JsonObject): Promise<string | null> {
    const settings = config.warmPool;
    const agent = agentOf(body);
    // A budget is fixed when Claude Code starts; such sessions start cold.
    if (!settings || settings.max === 0 || (body.budget ?? null) !== null) return null;
    const key = poolKey(workspaceId, env.id, agent.id, agent.version);
    const fingerprint = `${env.updatedAt}|${(await this.o.boot.executable()) ?? ''}`;
    this.pool.noteDemand({ key, workspaceId, environmentId: env.id, settings, fingerprint, spec: { env, config, body: { agent: body.agent ?? null } } });
    const member = this.pool.take(key, fingerprint);
    if (member) this.standbys.add(member.id, member, standbyHoldMs(config.lifecycle.idle_timeout_s, settings));
    this.pool.reconcile();
    return member?.id ?? null;
  }

  /**
   * The session that took a warm sandbox has been created: from now on its
   * standby sandbox gives way to other sessions of the workspace and expires
   * unused, and a start that fails takes it out of standby.
   */
  claimed(ref: SessionRef): void {
    const standby = this.standbys.commit(ref.id);
    if (!standby) return;
    // A process that dies while it waits is caught by `processEnded`; this catches one that never started.
    standby.member.started.then(
      (booted) => {
        if (booted.live.isEnded) return void this.drop(ref.id, 'ended');
        // Known from the rehearsal: `cli status` can say which version a standby session holds.
        const version = booted.live.cliVersion;
        if (version) {
          void this.o.events.update(ref, (s) => ({ body: withRuntime(s.body, { cli_version: runtimeOf(s.body).cli_version ?? version }) })).catch(() => null);
        }
      },
      () => void this.drop(ref.id, 'ended'),
    );
  }

  /** Gives back a claimed warm sandbox whose session was not created after all; it is discarded. */
  release(sessionId: string): void {
    const standby = this.standbys.take(sessionId);
    if (standby) void this.discardStandby(sessionId, standby.member);
  }

  /**
   * Takes a session out of standby: its sandbox is discarded (in the
   * background; its next start waits for that) and it shows
   * `sandbox_state: destroyed`. Resolves once that is recorded.
   */
  async drop(sessionId: string, reason: 'gave_way' | 'expired' | 'ended' | 'stopped'): Promise<void> {
    const standby = this.standbys.take(sessionId);
    if (!standby) return;
    this.o.log.info({ sessionId, reason }, 'standby sandbox discarded');
    void this.discardStandby(sessionId, standby.member);
    await this.o.events
      .update({ id: sessionId, workspaceId: standby.workspaceId }, (s) => ({ body: withRuntime(s.body, { sandbox_state: 'destroyed' }) }))
      .catch(() => null);
  }

  /** The warm sandbox claimed for this session, once started; undefined when there is none or it failed. */
  async take(sessionId: string): Promise<Booted | undefined> {
    const member = this.standbys.take(sessionId)?.member;
    if (!member) return undefined;
    const booted = await member.started.catch(() => undefined);
    if (booted && !booted.live.isEnded) return booted;
    await this.discard(sessionId, booted);
    return undefined;
  }

  /** Resolves once the session's standby sandbox that went is discarded (its next start waits for that). */
  async discarded(sessionId: string): Promise<void> {
    await this.discarding.get(sessionId);
  }

  /** Whether the session holds a standby sandbox. */
  isStandby(sessionId: string): boolean {
    return this.standbys.has(sessionId);
  }

  /**
   * Makes room in the workspace for a session that needs it: an unclaimed
   * pool member goes first, then the standby session that has waited
   * longest. Resolves once the room is made; null when there is nothing to
   * give way.
   */
  giveWay(workspaceId: string): Promise<void> | null {
    if (this.pool.evict(workspaceId)) return Promise.resolve();
    const victim = this.standbys.victim(workspaceId, this.o.isStarting);
    return victim ? this.drop(victim, 'gave_way') : null;
  }

  /** The warm pools of one environment, for its API view. */
  status(workspaceId: string, environmentId: string): WarmPoolStatus {
    return this.pool.status(workspaceId, environmentId);
  }

  /**
   * Warm sandboxes of the workspace waiting in pools or held by standby
   * sessions: they count as live, and give way to sessions that need the room.
   */
  count(workspaceId: string): number {
    return this.pool.count(workspaceId) + this.standbys.count(workspaceId, this.o.isStarting);
  }

  /** A session's first turn ended: the refill its warm start held back may go ahead. */
  refillNow(sessionId: string): void {
    this.pool.refillNow(sessionId);
  }

  /** One pass of the reaper: standby sandboxes held too long go, and pools move toward their targets. */
  async sweep(now: number): Promise<void> {
    for (const id of this.standbys.expired(now)) if (!this.o.isStarting(id)) await this.drop(id, 'expired');
    this.pool.reconcile();
  }

  /** A process no session runs has ended: a warm sandbox's, which goes. */
  processEnded(sessionId: string): void {
    if (this.pool.has(sessionId)) this.pool.remove(sessionId);
    else if (this.standbys.has(sessionId) && !this.o.isStarting(sessionId)) void this.drop(sessionId, 'ended');
  }

  /** Discards every warm sandbox (server shutdown). */
  async close(): Promise<void> {
    const standby = this.standbys.ids().map((id) => this.discardStandby(id, this.standbys.take(id)!.member));
    await Promise.all([this.pool.close(), ...standby, ...this.discarding.values()]);
  }

  /** Closes a warm sandbox and removes what it left under its id, so a session that later starts cold under this id starts clean. */
  async discard(id: string, booted: Booted | undefined): Promise<void> {
    await booted?.live.close().catch((error: unknown) => this.o.log.warn({ err: error, sandbox: id }, 'could not close a warm sandbox'));
    await this.o.gateway.closeSession(id).catch(() => undefined);
    this.o.workspaces.forgetShared(id);
    await this.o.workspaces.removeOwn(id);
    await this.o.transcripts.deleteAll(id);
  }

  private discardStandby(sessionId: string, member: WarmMember<Booted>): Promise<void> {
    const done = member.started
      .catch(() => undefined)
      .then((booted) => this.discard(sessionId, booted))
      .catch((error: unknown) => this.o.log.warn({ err: error, sessionId }, 'could not discard a standby sandbox'));
    this.discarding.set(sessionId, done);
    void done.then(() => {
      if (this.discarding.get(sessionId) === done) this.discarding.delete(sessionId);
    });
    return done;
  }

  private async start({ env, config, body }: Spec, id: string): Promise<Booted> {
    const ref: SessionRef = { id, workspaceId: env.workspaceId };
    let failure: unknown;
    // The rehearsal is part of the start: it takes the same slot of the gate.
    const booted = await this.o.gate.run(async () => {
      const started = await this.o.boot.boot(ref, env.id, config, body);
      if (started.live.isEnded) failure = new Error('Claude Code exited while starting');
      // A member taken while it started has a session waiting: that session runs the first turn itself.
      else if (config.warmPool?.rehearse !== false && this.pool.has(id)) failure = await this.rehearse(id, started).then(noop, (error: unknown) => error);
      return started;
    }, 'background');
    if (failure) {
      await this.discard(id, booted);
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
    await this.o.transcripts.deleteConversation(booted.dirs.config, id, conversation);
  }
}

function noop(): void {}
