import type { Logger } from '../logger.js';

/**
 * A warm pool's bounds, from the environment's `config.warm_pool` over the
 * server's defaults. `max` 0 turns the pool off.
 */
export interface WarmPoolSettings {
  /** Ready sandboxes kept while the pool is in use (a session was created within `idleTimeoutS`). */
  min: number;
  /** Never more than this many, however fast sessions are created. */
  max: number;
  /** Without a creation for this long the pool is emptied. */
  idleTimeoutS: number;
}

/** What one pool's members are started from: a session's agent version in an environment of a workspace. */
export interface PoolTemplate<S> {
  /** Workspace, environment, agent and version: members of one key are interchangeable. */
  key: string;
  workspaceId: string;
  environmentId: string;
  settings: WarmPoolSettings;
  /**
   * Everything else the start depends on (the environment's last update, the
   * Claude Code executable). A member started under another fingerprint is
   * never handed out; it is discarded.
   */
  fingerprint: string;
  spec: S;
}

export interface WarmMember<B> {
  /** The id the member's session will have: its transcript and gateway keys are fixed at start. */
  readonly id: string;
  readonly key: string;
  readonly workspaceId: string;
  readonly fingerprint: string;
  /** Settles when the start has finished (resolves) or failed (rejects). */
  readonly started: Promise<B>;
  state: 'starting' | 'ready';
}

export interface WarmPoolStatus {
  ready: number;
  starting: number;
  /** What the pool is filling towards now. */
  target: number;
}

export interface WarmPoolOptions<S, B> {
  /** Starts a member with a preallocated session id; the pool does not limit concurrency itself. */
  start(spec: S, id: string): Promise<B>;
  /** Releases a member nobody claimed (its process, sandbox, directories). Never throws. */
  discard(id: string, started: B | undefined): Promise<void>;
  /** Whether the workspace may hold one more sandbox under its quota of live sessions. */
  hasRoom(workspaceId: string): boolean;
  newId(): string;
  log: Logger;
  now?: () => number;
  /**
   * After a member is handed out, the pool holds its refill back this long,
   * or until `refillNow` names that member (its session's first turn has
   * ended), whichever comes first: a refill is a Claude Code start-up, which
   * would otherwise compete for the CPU with the turn someone waits for.
   * Default `REFILL_HOLD_MS`.
   */
  refillHoldMs?: number;
}

/** How long a refill waits, at most, for the first turn of the session that took a member. */
export const REFILL_HOLD_MS = 3_000;

/** Creations counted for the pool's size: those of the last minute. */
const RATE_WINDOW_MS = 60_000;
/** After a failed start, a pool waits this long before it tries again. */
const RETRY_AFTER_MS = 10_000;

interface Pool<S, B> {
  template: PoolTemplate<S>;
  creations: number[];
  lastDemandMs: number;
  failedAtMs: number;
  members: Map<string, WarmMember<B>>;
  /** No members start before `untilMs`, unless the session of the member handed out (`memberId`) ends its first turn first. */
  refillHold: { memberId: string; untilMs: number } | undefined;
}

/**
 * Ready sandboxes with Claude Code started and waiting for a first message,
 * per workspace, environment and agent version. A member is handed out once
 * (`take`) and never returns: a sandbox is never reused across sessions, and
 * since pools are keyed by workspace, never across workspaces either.
 *
 * The size adapts to demand: while sessions are being created, one member per
 * creation in the last minute, within `[min, max]` (and at least one); after
 * `idleTimeoutS` without a creation the pool is emptied and forgotten.
 * Members count against their workspace's quota of live sessions: a pool
 * grows only while `hasRoom` says so.
 */
export class WarmPool<S, B> {
  private readonly pools = new Map<string, Pool<S, B>>();
  private readonly now: () => number;
  private readonly refillHoldMs: number;
  private closed = false;
  private wake: { timer: NodeJS.Timeout; atMs: number } | undefined;

  constructor(private readonly o: WarmPoolOptions<S, B>) {
    this.now = o.now ?? Date.now;
    this.refillHoldMs = o.refillHoldMs ?? REFILL_HOLD_MS;
  }

  /** Records a session creation for the template's key (whether or not it was served warm). */
  noteDemand(template: PoolTemplate<S>): void {
    const now = this.now();
    let pool = this.pools.get(template.key);
    if (!pool) {
      pool = { template, creations: [], lastDemandMs: now, failedAtMs: 0, members: new Map(), refillHold: undefined };
      this.pools.set(template.key, pool);
    }
    pool.template = template;
    pool.lastDemandMs = now;
    pool.creations.push(now);
    while (pool.creations.length > 0 && pool.creations[0]! < now - RATE_WINDOW_MS) pool.creations.shift();
  }

  /**
   * Hands out a member for a new session: a ready one if there is one, else
   * the one closest to ready. It leaves the pool for good; its refill is
   * held back (see `refillHoldMs`).
   */
  take(key: string, fingerprint: string): WarmMember<B> | undefined {
    const pool = this.pools.get(key);
    if (!pool) return undefined;
    const usable = [...pool.members.values()].filter((m) => m.fingerprint === fingerprint);
    const member = usable.find((m) => m.state === 'ready') ?? usable[0];
    if (member) {
      pool.members.delete(member.id);
      if (this.refillHoldMs > 0) pool.refillHold = { memberId: member.id, untilMs: this.now() + this.refillHoldMs };
    }
    return member;
  }

  /** The session that took member `id` has ended its first turn: the refill it held back may start. */
  refillNow(id: string): void {
    let released = false;
    for (const pool of this.pools.values()) {
      if (pool.refillHold?.memberId !== id) continue;
      pool.refillHold = undefined;
      released = true;
    }
    if (released) this.reconcile();
  }

  /** Forgets a member whose process ended while it waited; it is discarded. */
  remove(id: string): void {
    for (const pool of this.pools.values()) {
      const member = pool.members.get(id);
      if (!member) continue;
      pool.members.delete(id);
      this.discard(member);
      return;
    }
  }

  /** Discards one member of the workspace's pools to make room for a session; false when it has none. */
  evict(workspaceId: string): boolean {
    for (const pool of this.pools.values()) {
      if (pool.template.workspaceId !== workspaceId) continue;
      const member = [...pool.members.values()].at(-1);
      if (!member) continue;
      pool.members.delete(member.id);
      this.discard(member);
      return true;
    }
    return false;
  }

  /** Whether `id` is a member waiting in a pool. */
  has(id: string): boolean {
    for (const pool of this.pools.values()) if (pool.members.has(id)) return true;
    return false;
  }

  /** Members of the workspace's pools, starting or ready: they count as live sessions. */
  count(workspaceId: string): number {
    let n = 0;
    for (const pool of this.pools.values()) if (pool.template.workspaceId === workspaceId) n += pool.members.size;
    return n;
  }

  /** The pools of one environment together. */
  status(workspaceId: string, environmentId: string): WarmPoolStatus {
    const out: WarmPoolStatus = { ready: 0, starting: 0, target: 0 };
    const now = this.now();
    for (const pool of this.pools.values()) {
      const t = pool.template;
      if (t.workspaceId !== workspaceId || t.environmentId !== environmentId) continue;
      for (const m of pool.members.values()) out[m.state]++;
      out.target += this.targetOf(pool, now);
    }
    return out;
  }

  /** The size a pool fills or shrinks towards now. */
  private targetOf(pool: Pool<S, B>, now: number): number {
    const { min, max, idleTimeoutS } = pool.template.settings;
    if (max <= 0 || now - pool.lastDemandMs >= idleTimeoutS * 1000) return 0;
    const recent = pool.creations.filter((t) => t >= now - RATE_WINDOW_MS).length;
    return Math.min(max, Math.max(recent, 1, min));
  }

  /**
   * Brings every pool towards its target: starts members (while the
   * workspace has room), discards surplus and stale ones, drops idle pools.
   * Cheap; call it after every change and from a timer.
   */
  reconcile(): void {
    if (this.closed) return;
    const now = this.now();
    for (const [key, pool] of this.pools) {
      for (const m of [...pool.members.values()]) {
        if (m.fingerprint !== pool.template.fingerprint) {
          pool.members.delete(m.id);
          this.discard(m);
        }
      }
      const target = this.targetOf(pool, now);
      if (target === 0 && pool.members.size === 0) {
        this.pools.delete(key);
        continue;
      }
      // Surplus goes newest first; members still starting are discarded once started.
      const surplus = [...pool.members.values()].reverse().slice(0, Math.max(0, pool.members.size - target));
      for (const m of surplus) {
        pool.members.delete(m.id);
        this.discard(m);
      }
      if (now - pool.failedAtMs < RETRY_AFTER_MS) continue;
      if (pool.refillHold && now < pool.refillHold.untilMs) {
        this.wakeAt(pool.refillHold.untilMs);
        continue;
      }
      pool.refillHold = undefined;
      while (pool.members.size < target && this.o.hasRoom(pool.template.workspaceId)) this.startMember(pool);
    }
  }

  /** Discards every member and stops filling (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.wake) clearTimeout(this.wake.timer);
    const members = [...this.pools.values()].flatMap((p) => [...p.members.values()]);
    this.pools.clear();
    await Promise.all(members.map((m) => this.discardNow(m)));
  }

  /** Reconciles again at `atMs` (the earliest such request wins). */
  private wakeAt(atMs: number): void {
    if (this.wake && this.wake.atMs <= atMs) return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(() => {
      this.wake = undefined;
      this.reconcile();
    }, Math.max(0, atMs - this.now()));
    timer.unref();
    this.wake = { timer, atMs };
  }

  private startMember(pool: Pool<S, B>): void {
    const id = this.o.newId();
    const { key, workspaceId, fingerprint, spec } = pool.template;
    const started = this.o.start(spec, id);
    const member: WarmMember<B> = { id, key, workspaceId, fingerprint, started, state: 'starting' };
    pool.members.set(id, member);
    started.then(
      () => {
        member.state = 'ready';
      },
      (error: unknown) => {
        pool.failedAtMs = this.now();
        this.o.log.warn({ err: error, pool: key }, 'a warm sandbox failed to start');
        // A member already handed out is its session's to handle.
        if (pool.members.get(id) === member) pool.members.delete(id);
      },
    );
  }

  private discard(member: WarmMember<B>): void {
    void this.discardNow(member);
  }

  private async discardNow(member: WarmMember<B>): Promise<void> {
    const started = await member.started.catch(() => undefined);
    await this.o.discard(member.id, started).catch((error: unknown) => this.o.log.warn({ err: error, sandbox: member.id }, 'could not discard a warm sandbox'));
  }
}

/** The key of the pool that serves sessions of this agent version in this environment. */
export function poolKey(workspaceId: string, environmentId: string, agentId: string, agentVersion: number): string {
  return `${workspaceId}/${environmentId}/${agentId}@${agentVersion}`;
}
