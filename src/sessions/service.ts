import { createHash } from 'node:crypto';
import { conflict, invalid, notFound } from '../errors.js';
import { resolveSessionResources } from '../files/session-resources.js';
import { newId } from '../ids.js';
import {
  StoreIdempotencyConflictError,
  StoreNotFoundError,
  type EventQuery,
  type EventRecord,
  type IdempotencyRecord,
  type Json,
  type JsonObject,
  type NewEvent,
  type Page,
  type SessionQuery,
  type SessionRecord,
  type Store,
} from '../store/store.js';
import { environmentConfig } from '../resources/environment-config.js';
import type { SessionEngine } from './engine.js';
import type { EventLog } from './event-log.js';
import { withInputCommitted } from './redeliver.js';
import { withRuntime } from './session-body.js';
import { INITIAL_STATUS, statusAfter } from './status.js';
import { createSessionBody, sendEventsBody, updateSessionBody, type EventParams } from './schemas.js';

/** Fields of an agent version copied into the session (BetaManagedAgentsSessionAgent). */
const AGENT_SNAPSHOT_KEYS = ['name', 'description', 'model', 'system', 'tools', 'mcp_servers', 'skills', 'multiagent', 'execution_identity'] as const;

export interface SessionServiceOptions {
  store: Store;
  events: EventLog;
  engine: SessionEngine;
  providers: ReadonlySet<string>;
  now?: () => Date;
}

/**
 * Sessions and their events as the API sees them. Validation happens before
 * anything is written, so a bad request changes nothing; every accepted event
 * is committed before the engine acts on it.
 */
export class SessionService {
  private readonly now: () => Date;

  constructor(private readonly o: SessionServiceOptions) {
    this.now = o.now ?? (() => new Date());
  }

  async create(workspaceId: string, input: unknown): Promise<SessionRecord> {
    const body = createSessionBody.parse(input);
    const agentId = typeof body.agent === 'string' ? body.agent : body.agent.id;
    const agent = await this.o.store.getAgent(workspaceId, agentId);
    if (!agent) throw notFound('agent', agentId);
    if (agent.archivedAt) throw invalid(`agent ${agentId} is archived; archived agents cannot start sessions`);
    const version = typeof body.agent === 'string' ? agent.version : (body.agent.version ?? agent.version);
    const agentVersion = await this.o.store.getAgentVersion(workspaceId, agentId, version);
    if (!agentVersion) throw notFound('agent version', `${agentId}@${version}`);

    const env = await this.o.store.getEnvironment(workspaceId, body.environment_id);
    if (!env) throw notFound('environment', body.environment_id);
    if (env.archivedAt) throw invalid(`environment ${body.environment_id} is archived; archived environments cannot start sessions`);
    const provider = this.o.engine.providerFor(env.body);
    if (!this.o.providers.has(provider)) throw invalid(`environment ${env.id} uses sandbox provider ${provider}, which this server does not run`);

    const snapshot: JsonObject = { id: agentId, type: 'agent', version };
    for (const key of AGENT_SNAPSHOT_KEYS) snapshot[key] = agentVersion.body[key] ?? null;

    const at = this.now().toISOString();
    const resources = await resolveSessionResources(this.o.store, workspaceId, body.resources ?? [], at);
    const initial = this.o.events.draft((body.initial_events ?? []).map((e) => ({ type: e.type, fields: { content: e.content as Json } })));
    const budget = (body.budget as JsonObject | undefined) ?? null;
    // A warm sandbox was started for a session id of its own; the session takes that id. Until its
    // first message the session is standby: its sandbox gives way when the workspace needs the room.
    const warmId = await this.o.engine.claimWarm(workspaceId, env, { agent: snapshot, budget });
    const { lifecycle } = environmentConfig(env.body, { provider });
    const stored = withRuntime(
      {
        agent: snapshot,
        title: body.title ?? null,
        metadata: body.metadata ?? {},
        budget,
        resources,
        usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        internal: {},
      },
      { sandbox_state: warmId ? 'standby' : 'destroyed', provider, pattern: lifecycle.pattern, cli_version: null },
    );
    const created = this.o.store.createSession(
      {
        id: warmId ?? newId('sesn'),
        workspaceId,
        agentId,
        agentVersion: version,
        environmentId: env.id,
        status: statusAfter(INITIAL_STATUS, initial),
        createdAt: at,
        updatedAt: at,
        archivedAt: null,
        // Recovery looks for initial events that never reached Claude Code, as for sent ones.
        body: initial.length > 0 ? withInputCommitted(stored) : stored,
      },
      initial,
    );
    if (warmId) created.catch(() => this.o.engine.releaseWarm(warmId));
    const { session, events } = await created;
    if (warmId) this.o.engine.warmClaimed(session);
    this.o.events.publish(session.id, events);
    const content = events.flatMap((e) => (e.body.content as Json[] | undefined) ?? []);
    if (content.length > 0) void this.o.engine.deliver(session, content);
    return session;
  }

  async get(workspaceId: string, id: string): Promise<SessionRecord> {
    const session = await this.o.store.getSession(workspaceId, id);
    if (!session) throw notFound('session', id);
    return session;
  }

  list(workspaceId: string, query: SessionQuery): Promise<Page<SessionRecord>> {
    return this.o.store.listSessions(workspaceId, query);
  }

  async update(workspaceId: string, id: string, input: unknown): Promise<SessionRecord> {
    const patch = updateSessionBody.parse(input);
    const session = await this.get(workspaceId, id);
    if (session.archivedAt) throw conflict(`session ${id} is archived and cannot be changed`);
    const apply = (s: SessionRecord): { body: JsonObject } => {
      const body: JsonObject = { ...s.body };
      if (patch.title !== undefined) body.title = patch.title;
      if (patch.budget !== undefined) body.budget = patch.budget as JsonObject | null;
      if (patch.metadata === null) body.metadata = {};
      else if (patch.metadata) {
        const merged: JsonObject = { ...(s.body.metadata as JsonObject) };
        for (const [k, v] of Object.entries(patch.metadata)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        if (Object.keys(merged).length > 16) throw invalid('metadata: at most 16 keys');
        body.metadata = merged;
      }
      return { body };
    };
    // Deleted between the read and the write: as absent as an unknown id.
    const updated = await this.o.events.update(session, apply).catch((error: unknown) => {
      if (error instanceof StoreNotFoundError) return null;
      throw error;
    });
    if (!updated) throw notFound('session', id);
    return updated;
  }

  /** Archives the session: its process stops and it accepts no more events. */
  async archive(workspaceId: string, id: string): Promise<SessionRecord> {
    const session = await this.get(workspaceId, id);
    if (session.archivedAt) return session;
    await this.o.engine.stop(session);
    const { session: archived } = await this.o.events.append(session, [{ type: 'session.status_terminated' }], (_s, at) => ({ archivedAt: at }));
    return archived;
  }

  async delete(workspaceId: string, id: string): Promise<{ id: string; type: 'session_deleted' }> {
    const session = await this.get(workspaceId, id);
    await this.o.engine.stop(session);
    const deleted = await this.o.events.serialized(id, () => this.o.store.deleteSession(workspaceId, id));
    if (!deleted) throw notFound('session', id);
    // Not stored (the log is gone with the session), but open streams learn
    // why they end.
    const at = this.now().toISOString();
    const eventId = newId('sevt');
    this.o.events.publish(id, [
      { id: eventId, sessionId: id, seq: Number.MAX_SAFE_INTEGER, type: 'session.deleted', createdAt: at, body: { id: eventId, type: 'session.deleted', processed_at: at } },
    ]);
    await this.o.engine.removeFiles(id);
    return { id, type: 'session_deleted' };
  }

  async listEvents(workspaceId: string, id: string, query: EventQuery): Promise<Page<EventRecord>> {
    await this.get(workspaceId, id);
    return this.o.store.listEvents(id, query);
  }

  async getEvent(workspaceId: string, id: string, eventId: string): Promise<EventRecord> {
    await this.get(workspaceId, id);
    const event = await this.o.store.getEvent(id, eventId);
    if (!event) throw notFound('event', eventId);
    return event;
  }

  /**
   * Validates every event, commits them all, then acts on them in order.
   * A confirmation for a tool that is not waiting fails the whole request
   * before anything is written.
   */
  async send(workspaceId: string, id: string, input: unknown, options: SendOptions = {}): Promise<{ data: JsonObject[] }> {
    const { events } = sendEventsBody.parse(input) as { events: EventParams[] };
    const session = await this.get(workspaceId, id);
    // A retry of a request already applied gets the first answer, whatever
    // happened to the session since; nothing is applied twice.
    const key = options.idempotencyKey;
    const requestHash = key ? createHash('sha256').update(id).update('\0').update(JSON.stringify(input)).digest('hex') : '';
    if (key) {
      const held = await this.o.store.getIdempotentResponse(workspaceId, key, this.now().toISOString());
      if (held) return replayed(held, requestHash);
    }
    if (session.archivedAt) throw conflict(`session ${id} is archived; it accepts no more events`);
    if (session.status === 'terminated') throw conflict(`session ${id} is terminated; it accepts no more events`);

    const waiting = new Set(events.some((e) => e.type === 'user.tool_confirmation') ? await this.o.engine.waitingToolUses(session) : []);
    for (const e of events) {
      if (e.type !== 'user.tool_confirmation') continue;
      if (!waiting.has(e.tool_use_id)) {
        throw conflict(`tool use ${e.tool_use_id} is not waiting for a confirmation in session ${id}`);
      }
      waiting.delete(e.tool_use_id);
    }

    let committed: EventRecord[];
    try {
      ({ events: committed } = await this.o.events.append(
        session,
        events.map((e) => ({ type: e.type, fields: fieldsOf(e) })),
        events.some((e) => e.type !== 'user.interrupt') ? (s) => ({ body: withInputCommitted(s.body) }) : undefined,
        key ? { idempotency: (drafted) => this.idempotencyRecord(workspaceId, key, requestHash, drafted) } : {},
      ));
    } catch (error) {
      if (error instanceof StoreNotFoundError) throw notFound('session', id);
      // Two tries of one request raced: the other one applied it.
      if (error instanceof StoreIdempotencyConflictError) return replayed(error.existing, requestHash);
      throw error;
    }

    for (const e of events) {
      if (e.type === 'user.interrupt') await this.o.engine.interrupt(id);
      else if (e.type === 'user.message') void this.o.engine.deliver(session, e.content as Json[]);
      else void this.o.engine.confirm(session, e.tool_use_id, e.result === 'allow', e.deny_message);
    }
    return { data: committed.map((e) => e.body) };
  }

  private idempotencyRecord(workspaceId: string, key: string, requestHash: string, drafted: NewEvent[]): IdempotencyRecord {
    const now = this.now();
    return {
      workspaceId,
      key,
      requestHash,
      response: { data: drafted.map((e) => e.body) },
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS).toISOString(),
    };
  }
}

export interface SendOptions {
  /** The request's `Idempotency-Key`: a retry with the same key and body is answered, not applied again. */
  idempotencyKey?: string;
}

/** How long an Idempotency-Key is remembered. */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

function replayed(held: IdempotencyRecord, requestHash: string): { data: JsonObject[] } {
  if (held.requestHash !== requestHash) {
    throw conflict(`Idempotency-Key ${JSON.stringify(held.key)} was already used for a different request; use a new key for a new request`);
  }
  return held.response as { data: JsonObject[] };
}

function fieldsOf(e: EventParams): JsonObject {
  const { type: _type, ...rest } = e as EventParams & Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest)) as JsonObject;
}
