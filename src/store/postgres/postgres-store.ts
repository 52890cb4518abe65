import type { Logger } from '../../logger.js';
import {
  StoreConflictError,
  StoreIdempotencyConflictError,
  StoreNotFoundError,
  type AppendOptions,
  type AgentRecord,
  type AgentVersionRecord,
  type ApiKeyRecord,
  type EnvironmentRecord,
  type EventQuery,
  type EventRecord,
  type IdempotencyRecord,
  type JsonObject,
  type NewEvent,
  type Page,
  type PageQuery,
  type SessionPatch,
  type SessionQuery,
  type SessionRecord,
  type SessionStatus,
  type Store,
  type TriggerRecord,
  type TranscriptEntry,
  type TranscriptKey,
  type WorkspaceRecord,
} from '../store.js';
import type { FileQuery, FileRecord } from '../store.js';
import type { UsageRecord, UsageSummary, WorkspaceBudget } from '../store.js';
import type { WebhookAttempt, WebhookDeliveryRecord, WebhookEndpointRecord } from '../store.js';
import {
  eventConditions,
  finishPage,
  isoOrNull,
  isoTimestamp,
  listedConditions,
  pageTail,
  Params,
  sessionAssignments,
  sessionConditions,
  whereClause,
} from '../query.js';
import { PgConnection } from './connection.js';
import * as idempotency from './idempotency.js';
import { migratePostgres } from './migrate.js';
import * as files from './files.js';
import * as rows from './rows.js';
import * as triggers from './triggers.js';
import * as transcripts from './transcripts.js';
import * as usage from './usage.js';
import * as webhooks from './webhooks.js';
import { insertAgentVersion, insertEvents, lastSeq } from './writes.js';

export interface PostgresStoreOptions {
  /**
   * Schema holding agenthost's tables, created by `migrate()` and set as the
   * search_path of every pooled connection. Default: the server's search_path.
   */
  schema?: string;
  log?: Logger;
  /** Pool size. Default 10. */
  max?: number;
}

/** Names that need no quoting anywhere they are spliced into SQL or options. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The PostgreSQL store over a node-postgres pool. A write that reads before it
 * writes locks the row it depends on (`SELECT ... FOR UPDATE`); that is what
 * keeps event seqs gap-free under concurrent appends, from any process.
 */
export class PostgresStore implements Store {
  private readonly c: PgConnection;
  private readonly schema: string | undefined;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new Error(`invalid schema name ${JSON.stringify(options.schema)}: use lowercase letters, digits and _`);
    }
    this.schema = options.schema;
    this.c = new PgConnection(connectionString, options);
  }

  async migrate(): Promise<void> {
    await this.c.tx((client) => migratePostgres(client, this.schema));
  }

  async ping(): Promise<void> {
    await this.c.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.c.end();
  }

  // Workspaces and keys

  async ensureWorkspace(name: string, id: string, createdAt: string): Promise<WorkspaceRecord> {
    // Two statements, not one: after waiting out a concurrent insert of the
    // same name, only a new statement's snapshot can see that row.
    const insert = 'INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING';
    await this.c.query(insert, [id, name, isoTimestamp(createdAt)]);
    const [row] = await this.c.query<rows.WorkspaceRow>('SELECT * FROM workspaces WHERE name = $1', [name]);
    if (!row) throw new StoreNotFoundError(`workspace ${name} vanished while being ensured`);
    return rows.toWorkspace(row);
  }

  async getWorkspace(id: string): Promise<WorkspaceRecord | null> {
    const [row] = await this.c.query<rows.WorkspaceRow>('SELECT * FROM workspaces WHERE id = $1', [id]);
    return row ? rows.toWorkspace(row) : null;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return (await this.c.query<rows.WorkspaceRow>('SELECT * FROM workspaces ORDER BY name COLLATE "C"')).map(rows.toWorkspace);
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    await this.c.query(
      'INSERT INTO api_keys (id, workspace_id, hash, prefix, scope, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [key.id, key.workspaceId, key.hash, key.prefix, key.scope, isoTimestamp(key.createdAt), isoOrNull(key.revokedAt)],
    );
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const sql = 'SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL';
    const [row] = await this.c.query<rows.ApiKeyRow>(sql, [hash]);
    return row ? rows.toApiKey(row) : null;
  }

  async listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    const sql = 'SELECT * FROM api_keys WHERE workspace_id = $1 ORDER BY created_at, id';
    return (await this.c.query<rows.ApiKeyRow>(sql, [workspaceId])).map(rows.toApiKey);
  }

  async revokeApiKey(workspaceId: string, id: string, at: string): Promise<boolean> {
    const sql = 'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE workspace_id = $2 AND id = $3 RETURNING id';
    return (await this.c.query(sql, [isoTimestamp(at), workspaceId, id])).length > 0;
  }

  // Agents

  async createAgent(agent: Omit<AgentRecord, 'seq'>): Promise<AgentRecord> {
    return this.c.tx(async (client) => {
      const body = JSON.stringify(agent.body);
      const [row] = await this.c.query<rows.AgentRow>(
        `INSERT INTO agents (id, workspace_id, version, body, created_at, updated_at, archived_at)
         VALUES ($1, $2, 1, $3, $4, $5, $6) RETURNING *`,
        [
          agent.id,
          agent.workspaceId,
          body,
          isoTimestamp(agent.createdAt),
          isoTimestamp(agent.updatedAt),
          isoOrNull(agent.archivedAt),
        ],
        client,
      );
      await insertAgentVersion(client, agent.id, 1, body, agent.createdAt);
      return rows.toAgent(row!);
    });
  }

  async getAgent(workspaceId: string, id: string): Promise<AgentRecord | null> {
    const sql = 'SELECT * FROM agents WHERE workspace_id = $1 AND id = $2';
    const [row] = await this.c.query<rows.AgentRow>(sql, [workspaceId, id]);
    return row ? rows.toAgent(row) : null;
  }

  async getAgentVersion(workspaceId: string, id: string, version: number): Promise<AgentVersionRecord | null> {
    const [row] = await this.c.query<rows.AgentVersionRow>(
      `SELECT v.* FROM agent_versions v JOIN agents a ON a.id = v.agent_id
       WHERE a.workspace_id = $1 AND a.id = $2 AND v.version = $3`,
      [workspaceId, id, version],
    );
    return row ? rows.toAgentVersion(row) : null;
  }

  async updateAgent(
    workspaceId: string,
    id: string,
    expectedVersion: number,
    body: JsonObject,
    at: string,
  ): Promise<AgentRecord | null> {
    return this.c.tx(async (client) => {
      const select = 'SELECT version FROM agents WHERE workspace_id = $1 AND id = $2 FOR UPDATE';
      const [current] = await this.c.query<{ version: number }>(select, [workspaceId, id], client);
      if (!current) return null;
      if (current.version !== expectedVersion) {
        throw new StoreConflictError(`agent ${id} is at version ${current.version}, not ${expectedVersion}`);
      }
      const text = JSON.stringify(body);
      const version = expectedVersion + 1;
      await insertAgentVersion(client, id, version, text, at);
      const update = 'UPDATE agents SET version = $1, body = $2, updated_at = $3 WHERE id = $4 RETURNING *';
      const [row] = await this.c.query<rows.AgentRow>(update, [version, text, isoTimestamp(at), id], client);
      return rows.toAgent(row!);
    });
  }

  async listAgents(workspaceId: string, query: PageQuery): Promise<Page<AgentRecord>> {
    const params = new Params('postgres');
    return this.page('agents', listedConditions(workspaceId, query, params), query, params, rows.toAgent);
  }

  async archiveAgent(workspaceId: string, id: string, at: string): Promise<AgentRecord | null> {
    const row = await this.archive<rows.AgentRow>('agents', workspaceId, id, at);
    return row ? rows.toAgent(row) : null;
  }

  // Environments

  async createEnvironment(env: Omit<EnvironmentRecord, 'seq'>): Promise<EnvironmentRecord> {
    const [row] = await this.c.query<rows.EnvironmentRow>(
      `INSERT INTO environments (id, workspace_id, body, created_at, updated_at, archived_at)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [
        env.id,
        env.workspaceId,
        JSON.stringify(env.body),
        isoTimestamp(env.createdAt),
        isoTimestamp(env.updatedAt),
        isoOrNull(env.archivedAt),
      ],
    );
    return rows.toEnvironment(row!);
  }

  async getEnvironment(workspaceId: string, id: string): Promise<EnvironmentRecord | null> {
    const sql = 'SELECT * FROM environments WHERE workspace_id = $1 AND id = $2';
    const [row] = await this.c.query<rows.EnvironmentRow>(sql, [workspaceId, id]);
    return row ? rows.toEnvironment(row) : null;
  }

  async updateEnvironment(workspaceId: string, id: string, body: JsonObject, at: string): Promise<EnvironmentRecord | null> {
    const sql = 'UPDATE environments SET body = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4 RETURNING *';
    const [row] = await this.c.query<rows.EnvironmentRow>(sql, [JSON.stringify(body), isoTimestamp(at), workspaceId, id]);
    return row ? rows.toEnvironment(row) : null;
  }

  async listEnvironments(workspaceId: string, query: PageQuery): Promise<Page<EnvironmentRecord>> {
    const params = new Params('postgres');
    return this.page('environments', listedConditions(workspaceId, query, params), query, params, rows.toEnvironment);
  }

  async archiveEnvironment(workspaceId: string, id: string, at: string): Promise<EnvironmentRecord | null> {
    const row = await this.archive<rows.EnvironmentRow>('environments', workspaceId, id, at);
    return row ? rows.toEnvironment(row) : null;
  }

  async deleteEnvironment(workspaceId: string, id: string): Promise<boolean> {
    const inUse = (cause?: unknown): StoreConflictError =>
      new StoreConflictError(`environment ${id} is used by sessions`, cause === undefined ? undefined : { cause });
    try {
      return await this.c.tx(async (client) => {
        // The row lock waits out any session insert whose foreign key check
        // holds this environment, so the count below includes that session.
        const lock = 'SELECT 1 FROM environments WHERE workspace_id = $1 AND id = $2 FOR UPDATE';
        if ((await this.c.query(lock, [workspaceId, id], client)).length === 0) return false;
        const using = 'SELECT 1 FROM sessions WHERE workspace_id = $1 AND environment_id = $2 LIMIT 1';
        if ((await this.c.query(using, [workspaceId, id], client)).length > 0) throw inUse();
        await this.c.query('DELETE FROM environments WHERE workspace_id = $1 AND id = $2', [workspaceId, id], client);
        return true;
      });
    } catch (error) {
      // A foreign key violation on delete means a session still points here.
      if (error instanceof StoreNotFoundError) throw inUse(error);
      throw error;
    }
  }

  // Sessions and events

  async createSession(
    session: Omit<SessionRecord, 'seq'>,
    initialEvents: NewEvent[],
  ): Promise<{ session: SessionRecord; events: EventRecord[] }> {
    return this.c.tx(async (client) => {
      const [row] = await this.c.query<rows.SessionRow>(
        `INSERT INTO sessions (id, workspace_id, agent_id, agent_version, environment_id, status, body,
                               created_at, updated_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
        [
          session.id,
          session.workspaceId,
          session.agentId,
          session.agentVersion,
          session.environmentId,
          session.status,
          JSON.stringify(session.body),
          isoTimestamp(session.createdAt),
          isoTimestamp(session.updatedAt),
          isoOrNull(session.archivedAt),
        ],
        client,
      );
      return { session: rows.toSession(row!), events: await insertEvents(client, session.id, 0, initialEvents) };
    });
  }

  async getSession(workspaceId: string, id: string): Promise<SessionRecord | null> {
    const sql = 'SELECT * FROM sessions WHERE workspace_id = $1 AND id = $2';
    const [row] = await this.c.query<rows.SessionRow>(sql, [workspaceId, id]);
    return row ? rows.toSession(row) : null;
  }

  async listSessions(workspaceId: string, query: SessionQuery): Promise<Page<SessionRecord>> {
    const params = new Params('postgres');
    return this.page('sessions', sessionConditions(workspaceId, query, params), query, params, rows.toSession);
  }

  async listSessionsByStatus(statuses: SessionStatus[]): Promise<SessionRecord[]> {
    if (statuses.length === 0) return [];
    const sql = 'SELECT * FROM sessions WHERE status = ANY($1) ORDER BY seq';
    return (await this.c.query<rows.SessionRow>(sql, [statuses])).map(rows.toSession);
  }

  async existingSessionIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.c.query<{ id: string }>('SELECT id FROM sessions WHERE id = ANY($1)', [ids]);
    return new Set(rows.map((r) => r.id));
  }

  async updateSession(workspaceId: string, id: string, patch: SessionPatch): Promise<SessionRecord | null> {
    const params = new Params('postgres');
    const set = sessionAssignments(patch, params);
    const where = `workspace_id = ${params.add(workspaceId)} AND id = ${params.add(id)}`;
    const [row] = await this.c.query<rows.SessionRow>(`UPDATE sessions SET ${set} WHERE ${where} RETURNING *`, params.values);
    return row ? rows.toSession(row) : null;
  }

  async deleteSession(workspaceId: string, id: string): Promise<boolean> {
    const sql = 'DELETE FROM sessions WHERE workspace_id = $1 AND id = $2 RETURNING id';
    return (await this.c.query(sql, [workspaceId, id])).length > 0;
  }

  async appendEvents(
    sessionId: string,
    events: NewEvent[],
    patch?: SessionPatch,
    options: AppendOptions = {},
  ): Promise<{ events: EventRecord[]; session: SessionRecord }> {
    return this.c.tx(async (client) => {
      // The session row lock serialises appenders to this session, so the
      // last seq read after taking it is final until this transaction ends.
      const lock = 'SELECT * FROM sessions WHERE id = $1 FOR UPDATE';
      let [row] = await this.c.query<rows.SessionRow>(lock, [sessionId], client);
      if (!row) throw new StoreNotFoundError(`session ${sessionId} not found`);
      if (options.idempotency) {
        if (options.idempotency.workspaceId !== row.workspace_id) {
          throw new StoreNotFoundError(`session ${sessionId} not found in workspace ${options.idempotency.workspaceId}`);
        }
        // The key row stays locked until commit, so of two appends racing
        // with one key (to any session) the second waits and then sees it.
        const held = await idempotency.saveIdempotency(this.c, options.idempotency, client);
        if (held) throw new StoreIdempotencyConflictError(held);
      }
      const stored = await insertEvents(client, sessionId, await lastSeq(client, sessionId), events);
      if (patch) {
        const params = new Params('postgres');
        const sql = `UPDATE sessions SET ${sessionAssignments(patch, params)} WHERE id = ${params.add(sessionId)} RETURNING *`;
        [row] = await this.c.query<rows.SessionRow>(sql, params.values, client);
      }
      return { events: stored, session: rows.toSession(row!) };
    });
  }

  async listEvents(sessionId: string, query: EventQuery): Promise<Page<EventRecord>> {
    const params = new Params('postgres');
    return this.page('events', eventConditions(sessionId, query, params), query, params, rows.toEvent);
  }

  async getEvent(sessionId: string, id: string): Promise<EventRecord | null> {
    const sql = 'SELECT * FROM events WHERE session_id = $1 AND id = $2';
    const [row] = await this.c.query<rows.EventRow>(sql, [sessionId, id]);
    return row ? rows.toEvent(row) : null;
  }

  // Idempotency keys

  async saveIdempotentResponse(record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    // In a transaction: the conflicting row stays locked until the read that
    // returns it, so a concurrent prune cannot take it away in between.
    return this.c.tx((client) => idempotency.saveIdempotency(this.c, record, client));
  }

  async getIdempotentResponse(workspaceId: string, key: string, at: string): Promise<IdempotencyRecord | null> {
    return idempotency.getIdempotency(this.c, workspaceId, key, at);
  }

  async pruneIdempotencyKeys(at: string): Promise<number> {
    return idempotency.pruneIdempotency(this.c, at);
  }

  // Transcripts

  async appendTranscript(key: TranscriptKey, entries: TranscriptEntry[]): Promise<void> {
    return transcripts.appendTranscript(this.c, key, entries);
  }

  async replaceTranscript(key: TranscriptKey, entries: TranscriptEntry[]): Promise<void> {
    return transcripts.replaceTranscript(this.c, key, entries);
  }

  async loadTranscript(key: TranscriptKey): Promise<TranscriptEntry[] | null> {
    return transcripts.loadTranscript(this.c, key);
  }

  async listTranscriptSessions(projectKey: string): Promise<{ sessionId: string; mtime: number }[]> {
    return transcripts.listTranscriptSessions(this.c, projectKey);
  }

  async listTranscriptSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    return transcripts.listTranscriptSubkeys(this.c, key);
  }

  async deleteTranscript(key: TranscriptKey): Promise<void> {
    return transcripts.deleteTranscript(this.c, key);
  }

  // Files

  async createFile(file: Omit<FileRecord, 'seq'>): Promise<FileRecord> {
    return files.createFile(this.c, file);
  }

  async getFile(workspaceId: string, id: string): Promise<FileRecord | null> {
    return files.getFile(this.c, workspaceId, id);
  }

  async listFiles(workspaceId: string, query: FileQuery): Promise<Page<FileRecord>> {
    return files.listFiles(this.c, workspaceId, query);
  }

  async deleteFile(workspaceId: string, id: string): Promise<boolean> {
    return files.deleteFile(this.c, workspaceId, id);
  }

  // Triggers

  async createTrigger(trigger: Omit<TriggerRecord, 'seq'>): Promise<TriggerRecord> {
    return triggers.createTrigger(this.c, trigger);
  }

  async getTrigger(workspaceId: string, id: string): Promise<TriggerRecord | null> {
    return triggers.getTrigger(this.c, workspaceId, id);
  }

  async findTriggerById(id: string): Promise<TriggerRecord | null> {
    return triggers.findTriggerById(this.c, id);
  }

  async listTriggers(workspaceId: string, sessionId: string, query: PageQuery): Promise<Page<TriggerRecord>> {
    return triggers.listTriggers(this.c, workspaceId, sessionId, query);
  }

  async listDueTriggers(now: string, limit: number): Promise<TriggerRecord[]> {
    return triggers.listDueTriggers(this.c, now, limit);
  }

  async nextTriggerFireAt(): Promise<string | null> {
    return triggers.nextTriggerFireAt(this.c);
  }

  async claimTriggerFire(id: string, expectedNextFireAt: string, firedAt: string, nextFireAt: string | null): Promise<boolean> {
    return triggers.claimTriggerFire(this.c, id, expectedNextFireAt, firedAt, nextFireAt);
  }

  async markTriggerFired(id: string, firedAt: string): Promise<boolean> {
    return triggers.markTriggerFired(this.c, id, firedAt);
  }

  async disableTrigger(id: string, at: string, reason: string): Promise<TriggerRecord | null> {
    return triggers.disableTrigger(this.c, id, at, reason);
  }

  async deleteTrigger(workspaceId: string, id: string): Promise<boolean> {
    return triggers.deleteTrigger(this.c, workspaceId, id);
  }

  async recordWebhookDelivery(triggerId: string, signature: string, expiresAt: string): Promise<boolean> {
    return triggers.recordWebhookDelivery(this.c, triggerId, signature, expiresAt);
  }

  async pruneWebhookDeliveries(now: string): Promise<number> {
    return triggers.pruneWebhookDeliveries(this.c, now);
  }

  // Usage and budgets

  async recordUsage(record: UsageRecord): Promise<void> {
    return usage.recordUsage(this.c, record);
  }

  async usageTotal(workspaceId: string, since?: string): Promise<number> {
    return usage.usageTotal(this.c, workspaceId, since);
  }

  async usageReport(query: { workspaceId?: string; since?: string }): Promise<UsageSummary[]> {
    return usage.usageReport(this.c, query);
  }

  async getWorkspaceBudget(workspaceId: string): Promise<WorkspaceBudget | null> {
    return usage.getWorkspaceBudget(this.c, workspaceId);
  }

  async setWorkspaceBudget(budget: WorkspaceBudget): Promise<WorkspaceBudget> {
    return usage.setWorkspaceBudget(this.c, budget);
  }

  // Outbound webhooks

  async createWebhookEndpoint(endpoint: WebhookEndpointRecord): Promise<WebhookEndpointRecord> {
    return webhooks.createWebhookEndpoint(this.c, endpoint);
  }

  async getWebhookEndpoint(workspaceId: string, id: string): Promise<WebhookEndpointRecord | null> {
    return webhooks.getWebhookEndpoint(this.c, workspaceId, id);
  }

  async listWebhookEndpoints(workspaceId: string): Promise<WebhookEndpointRecord[]> {
    return webhooks.listWebhookEndpoints(this.c, workspaceId);
  }

  async deleteWebhookEndpoint(workspaceId: string, id: string): Promise<boolean> {
    return webhooks.deleteWebhookEndpoint(this.c, workspaceId, id);
  }

  async createWebhookDeliveries(deliveries: WebhookDeliveryRecord[]): Promise<void> {
    return webhooks.createWebhookDeliveries(this.c, deliveries);
  }

  async listWebhookDeliveries(endpointId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    return webhooks.listWebhookDeliveries(this.c, endpointId, limit);
  }

  async claimWebhookDeliveries(now: string, leaseUntil: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    return webhooks.claimWebhookDeliveries(this.c, now, leaseUntil, limit);
  }

  async recordWebhookAttempt(id: string, outcome: WebhookAttempt): Promise<boolean> {
    return webhooks.recordWebhookAttempt(this.c, id, outcome);
  }

  // Helpers

  private async page<R, T>(
    table: string,
    where: string[],
    query: PageQuery | EventQuery,
    params: Params,
    map: (row: R) => T,
  ): Promise<Page<T>> {
    const sql = `SELECT * FROM ${table} ${whereClause(where)} ${pageTail(query, params)}`;
    return finishPage(await this.c.query<R>(sql, params.values), query.limit, map);
  }

  /** Sets archived_at (and updated_at) only if not archived yet. */
  private async archive<R>(table: 'agents' | 'environments', workspaceId: string, id: string, at: string): Promise<R | undefined> {
    const sql = `UPDATE ${table}
      SET archived_at = COALESCE(archived_at, $1), updated_at = CASE WHEN archived_at IS NULL THEN $1 ELSE updated_at END
      WHERE workspace_id = $2 AND id = $3 RETURNING *`;
    const [row] = await this.c.query<R>(sql, [isoTimestamp(at), workspaceId, id]);
    return row;
  }
}
