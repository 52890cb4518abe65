import { StoreNotFoundError, type EventRecord, type IdempotencyRecord, type JsonObject, type NewEvent, type SessionPatch, type SessionRecord, type Store } from '../store/store.js';
import { newId } from '../ids.js';
import { SerialQueue } from './serial-queue.js';
import { changesStatus, statusAfter } from './status.js';

/**
 * Receives the events of one commit together, in seq order: a subscriber
 * can write them out in one go. The array and its events are shared by all
 * subscribers; treat them as read-only.
 */
export type EventListener = (events: readonly EventRecord[]) => void;

export interface SessionRef {
  id: string;
  workspaceId: string;
}

export interface AppendEventOptions {
  /**
   * The idempotency record to save atomically with the events, built from
   * the drafted events (so it can hold the response that names them).
   */
  idempotency?: (events: NewEvent[]) => IdempotencyRecord;
}

/**
 * Computes a session change from the stored session; `updatedAt` is filled
 * in. Never the status: that follows from the events appended (`statusAfter`).
 */
export type SessionMutation = (current: SessionRecord, at: string) => Omit<SessionPatch, 'updatedAt' | 'status'>;

/**
 * Reads events as they are published, before subscribers get them
 * (metrics, traces, webhooks). Must not throw; one that does is skipped.
 */
export interface EventObserver {
  /** `workspaceId` is the session's, when an append or update named it. */
  observe(sessionId: string, event: EventRecord, workspaceId?: string): void;
}

export interface EventLogOptions {
  /** Each published event goes to these, in order, then to the session's subscribers. */
  observers?: readonly EventObserver[];
  now?: () => Date;
}

/** An event about to be appended: its type and the fields besides id/type/processed_at. */
export interface EventDraft {
  /** Preset id, for callers that must know it before the append resolves. */
  id?: string;
  type: string;
  fields?: JsonObject;
}

/**
 * The session event log: every event is committed to the store first and only
 * then handed to observers and live subscribers, in `seq` order. A session's
 * status is decided here, from the events appended (see `statusAfter`).
 *
 * Appends to one session are serialized here (a promise chain per session), so
 * subscribers see events in exactly the order of their seqs even when the API
 * and the agent runner append at the same time.
 */
export class EventLog {
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly queue = new SerialQueue();
  private readonly observers: readonly EventObserver[];
  private readonly now: () => Date;
  /** Session id → workspace id, learnt from appends and updates, for observers. */
  private readonly workspaces = new Map<string, string>();

  constructor(
    private readonly store: Store,
    options: EventLogOptions = {},
  ) {
    this.observers = options.observers ?? [];
    this.now = options.now ?? (() => new Date());
  }

  /** Builds stored events from drafts; `processed_at` is the commit time. */
  draft(drafts: EventDraft[]): NewEvent[] {
    const at = this.now().toISOString();
    return drafts.map((d) => {
      const id = d.id ?? newId('sevt');
      return { id, type: d.type, createdAt: at, body: { id, type: d.type, ...d.fields, processed_at: at } };
    });
  }

  /**
   * Commits events, the status they put the session in and the change
   * `mutate` makes to it, in one transaction; then publishes the events.
   * `mutate` sees the session as stored after every earlier append and
   * update, so read-modify-write of the session body (usage, runtime) cannot
   * lose a concurrent change.
   */
  async append(
    ref: SessionRef,
    drafts: EventDraft[],
    mutate?: SessionMutation,
    options: AppendEventOptions = {},
  ): Promise<{ events: EventRecord[]; session: SessionRecord }> {
    this.workspaces.set(ref.id, ref.workspaceId);
    return this.serialized(ref.id, async () => {
      const events = this.draft(drafts);
      const patch = mutate || changesStatus(events) ? await this.patchFor(ref, mutate, events) : undefined;
      const idempotency = options.idempotency?.(events);
      const result = await this.store.appendEvents(ref.id, events, patch, idempotency ? { idempotency } : undefined);
      this.publish(ref.id, result.events);
      return result;
    });
  }

  /** Changes the session without appending events, ordered with appends. Null when the session is gone. */
  async update(ref: SessionRef, mutate: SessionMutation): Promise<SessionRecord | null> {
    this.workspaces.set(ref.id, ref.workspaceId);
    return this.serialized(ref.id, async () => {
      const patch = await this.patchFor(ref, mutate);
      return this.store.updateSession(ref.workspaceId, ref.id, patch);
    });
  }

  private async patchFor(ref: SessionRef, mutate: SessionMutation | undefined, events: readonly NewEvent[] = []): Promise<SessionPatch> {
    const current = await this.store.getSession(ref.workspaceId, ref.id);
    if (!current) throw new StoreNotFoundError(`session ${ref.id} not found`);
    const at = this.now().toISOString();
    const patch: SessionPatch = { ...mutate?.(current, at), updatedAt: at };
    const status = statusAfter(current.status, events);
    if (status !== current.status) patch.status = status;
    return patch;
  }

  /** Publishes events committed elsewhere (e.g. a session's initial events). */
  publish(sessionId: string, events: EventRecord[]): void {
    this.observe(sessionId, events);
    const set = this.listeners.get(sessionId);
    if (!set || events.length === 0) return;
    for (const listener of set) {
      try {
        listener(events);
      } catch {
        // A broken subscriber must not stop the others or the writer.
      }
    }
  }

  /** Live events for a session from now on. Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: EventListener): () => void {
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
    };
  }

  subscriberCount(sessionId: string): number {
    return this.listeners.get(sessionId)?.size ?? 0;
  }

  /** Runs `fn` after every earlier serialized call for this session has settled. */
  serialized<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(sessionId, fn);
  }

  private observe(sessionId: string, events: readonly EventRecord[]): void {
    if (this.observers.length === 0) return;
    const workspaceId = this.workspaces.get(sessionId);
    for (const event of events) {
      if (event.type === 'session.deleted') this.workspaces.delete(sessionId);
      for (const observer of this.observers) {
        try {
          observer.observe(sessionId, event, workspaceId);
        } catch {
          // Telemetry must never stop an event from reaching its subscribers.
        }
      }
    }
  }
}
