import { StoreNotFoundError, type EventRecord, type IdempotencyRecord, type JsonObject, type NewEvent, type SessionPatch, type SessionRecord, type Store } from '../store/store.js';
import { newId } from '../ids.js';

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

/** Computes a session change from the stored session; `updatedAt` is filled in. */
export type SessionMutation = (current: SessionRecord, at: string) => Omit<SessionPatch, 'updatedAt'>;

/** An event about to be appended: its type and the fields besides id/type/processed_at. */
export interface EventDraft {
  /** Preset id, for callers that must know it before the append resolves. */
  id?: string;
  type: string;
  fields?: JsonObject;
}

/**
 * The session event log: every event is committed to the store first and only
 * then handed to live subscribers, in `seq` order.
 *
 * Appends to one session are serialized here (a promise chain per session), so
 * subscribers see events in exactly the order of their seqs even when the API
 * and the agent runner append at the same time.
 */
export class EventLog {
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Builds stored events from drafts; `processed_at` is the commit time. */
  draft(drafts: EventDraft[]): NewEvent[] {
    const at = this.now().toISOString();
    return drafts.map((d) => {
      const id = d.id ?? newId('sevt');
      return { id, type: d.type, createdAt: at, body: { id, type: d.type, ...d.fields, processed_at: at } };
    });
  }

  /**
   * Commits events, and the change `mutate` makes to the session, in one
   * transaction; then publishes the events. `mutate` sees the session as
   * stored after every earlier append and update, so read-modify-write of the
   * session body (usage, runtime) cannot lose a concurrent change.
   */
  async append(
    ref: SessionRef,
    drafts: EventDraft[],
    mutate?: SessionMutation,
    options: AppendEventOptions = {},
  ): Promise<{ events: EventRecord[]; session: SessionRecord }> {
    return this.serialized(ref.id, async () => {
      const events = this.draft(drafts);
      const patch = mutate ? await this.patchFor(ref, mutate) : undefined;
      const idempotency = options.idempotency?.(events);
      const result = await this.store.appendEvents(ref.id, events, patch, idempotency ? { idempotency } : undefined);
      this.publish(ref.id, result.events);
      return result;
    });
  }

  /** Changes the session without appending events, ordered with appends. Null when the session is gone. */
  async update(ref: SessionRef, mutate: SessionMutation): Promise<SessionRecord | null> {
    return this.serialized(ref.id, async () => {
      const patch = await this.patchFor(ref, mutate);
      return this.store.updateSession(ref.workspaceId, ref.id, patch);
    });
  }

  private async patchFor(ref: SessionRef, mutate: SessionMutation): Promise<SessionPatch> {
    const current = await this.store.getSession(ref.workspaceId, ref.id);
    if (!current) throw new StoreNotFoundError(`session ${ref.id} not found`);
    const at = this.now().toISOString();
    return { ...mutate(current, at), updatedAt: at };
  }

  /** Publishes events committed elsewhere (e.g. a session's initial events). */
  publish(sessionId: string, events: EventRecord[]): void {
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
    const previous = this.chains.get(sessionId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.chains.set(sessionId, settled);
    void settled.then(() => {
      if (this.chains.get(sessionId) === settled) this.chains.delete(sessionId);
    });
    return next;
  }
}
