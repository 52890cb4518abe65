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
import { SqliteConnection } from './connection.js';
import * as idempotency from './idempotency.js';
import { migrateSqlite } from './migrate.js';
import * as files from './files.js';
import * as rows from './rows.js';
import * as triggers from './triggers.js';
import * as transcripts from './transcripts.js';
import * as usage from './usage.js';
import * as webhooks from './webhooks.js';

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is
 * synchronous, so each method's transaction runs to completion before any
 * other JavaScript does; that alone serialises writers within the process.
 */
export class SqliteStore implements Store {
  private readonly c: SqliteConnection;

  /** `path` is a database file (created if absent) or `':memory:'`. */
  constructor(path: string) {
    this.c = new SqliteConnection(path);
  }

  async migrate(): Promise<void> {
    await migrateSqlite(this.c.db);
    this.c.reset();
  }

  async ping(): Promise<void> {
    this.c.get('SELECT 1');
  }

  async close(): Promise<void> {
    this.c.close();
  }

  // Workspaces and keys

  async ensureWorkspace(name: string, id: string, createdAt: string): Promise<WorkspaceRecord> {
    return this.c.write(() => {
      const insert = 'INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING';
      this.c.run(insert, id, name, isoTimestamp(createdAt));
      return rows.toWorkspace(this.c.get<rows.WorkspaceRow>('SELECT * FROM workspaces WHERE name = ?', name)!);
    });
  }

  async getWorkspace(id: string): Promise<WorkspaceRecord | null> {
    const row = this.c.get<rows.WorkspaceRow>('SELECT * FROM workspaces WHERE id = ?', id);
    return row ? rows.toWorkspace(row) : null;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return this.c.all<rows.WorkspaceRow>('SELECT * FROM workspaces ORDER BY name').map(rows.toWorkspace);
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    this.c.write(() =>
      this.c.run(
        'INSERT INTO api_keys (id, workspace_id, hash, prefix, scope, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        key.id, key.workspaceId, key.hash, key.prefix, key.scope, isoTimestamp(key.createdAt), isoOrNull(key.revokedAt),
      ),
    );
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = this.c.get<rows.ApiKeyRow>('SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL', hash);
    return row ? rows.toApiKey(row) : null;
  }

  async listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    const all = this.c.all<rows.ApiKeyRow>('SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id', workspaceId);
    return all.map(rows.toApiKey);
  }

  async revokeApiKey(workspaceId: string, id: string, at: string): Promise<boolean> {
    const sql = 'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE workspace_id = ? AND id = ?';
    return this.c.write(() => this.c.run(sql, isoTimestamp(at), workspaceId, id) > 0);
  }

  // Agents

  async createAgent(agent: Omit<AgentRecord, 'seq'>): Promise<AgentRecord> {
    return this.c.write(() => {
      const body = JSON.stringify(agent.body);
      const row = this.c.get<rows.AgentRow>(
        `INSERT INTO agents (id, workspace_id, version, body, created_at, updated_at, archived_at)
         VALUES (?, ?, 1, ?, ?, ?, ?) RETURNING *`,
        agent.id, agent.workspaceId, body,
        isoTimestamp(agent.createdAt), isoTimestamp(agent.updatedAt), isoOrNull(agent.archivedAt),
      );
      this.insertAgentVersion(agent.id, 1, body, agent.createdAt);
      return rows.toAgent(row!);
    });
  }

  async getAgent(workspaceId: string, id: string): Promise<AgentRecord | null> {
    const row = this.c.get<rows.AgentRow>('SELECT * FROM agents WHERE workspace_id = ? AND id = ?', workspaceId, id);
    return row ? rows.toAgent(row) : null;
  }

  async getAgentVersion(workspaceId: string, id: string, version: number): Promise<AgentVersionRecord | null> {
    const row = this.c.get<rows.AgentVersionRow>(
      `SELECT v.* FROM agent_versions v JOIN agents a ON a.id = v.agent_id
       WHERE a.workspace_id = ? AND a.id = ? AND v.version = ?`,
      workspaceId, id, version,
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
    return this.c.write(() => {
      const select = 'SELECT version FROM agents WHERE workspace_id = ? AND id = ?';
      const current = this.c.get<{ version: number }>(select, workspaceId, id);
      if (!current) return null;
      if (current.version !== expectedVersion) {
        throw new StoreConflictError(`agent ${id} is at version ${current.version}, not ${expectedVersion}`);
      }
      const text = JSON.stringify(body);
      const version = expectedVersion + 1;
      this.insertAgentVersion(id, version, text, at);
      const sql = 'UPDATE agents SET version = ?, body = ?, updated_at = ? WHERE id = ? RETURNING *';
      return rows.toAgent(this.c.get<rows.AgentRow>(sql, version, text, isoTimestamp(at), id)!);
    });
  }

  async listAgents(workspaceId: string, query: PageQuery): Promise<Page<AgentRecord>> {
    const params = new Params('sqlite');
    return this.page('agents', listedConditions(workspaceId, query, params), query, params, rows.toAgent);
  }

  async archiveAgent(workspaceId: string, id: string, at: string): Promise<AgentRecord | null> {
    const row = this.archive<rows.AgentRow>('agents', workspaceId, id, at);
    return row ? rows.toAgent(row) : null;
  }

  // Environments

  async createEnvironment(env: Omit<EnvironmentRecord, 'seq'>): Promise<EnvironmentRecord> {
    const row = this.c.write(() =>
      this.c.get<rows.EnvironmentRow>(
        `INSERT INTO environments (id, workspace_id, body, created_at, updated_at, archived_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
        env.id, env.workspaceId, JSON.stringify(env.body),
        isoTimestamp(env.createdAt), isoTimestamp(env.updatedAt), isoOrNull(env.archivedAt),
      ),
    );
    return rows.toEnvironment(row!);
  }

  async getEnvironment(workspaceId: string, id: string): Promise<EnvironmentRecord | null> {
    const row = this.c.get<rows.EnvironmentRow>('SELECT * FROM environments WHERE workspace_id = ? AND id = ?', workspaceId, id);
    return row ? rows.toEnvironment(row) : null;
  }

  async updateEnvironment(workspaceId: string, id: string, body: JsonObject, at: string): Promise<EnvironmentRecord | null> {
    const sql = 'UPDATE environments SET body = ?, updated_at = ? WHERE workspace_id = ? AND id = ? RETURNING *';
    const row = this.c.write(() => this.c.get<rows.EnvironmentRow>(sql, JSON.stringify(body), isoTimestamp(at), workspaceId, id));
    return row ? rows.toEnvironment(row) : null;
  }

  async listEnvironments(workspaceId: string, query: PageQuery): Promise<Page<EnvironmentRecord>> {
    const params = new Params('sqlite');
    return this.page('environments', listedConditions(workspaceId, query, params), query, params, rows.toEnvironment);
  }

  async archiveEnvironment(workspaceId: string, id: string, at: string): Promise<EnvironmentRecord | null> {
    const row = this.archive<rows.EnvironmentRow>('environments', workspaceId, id, at);
    return row ? rows.toEnvironment(row) : null;
  }

  async deleteEnvironment(workspaceId: string, id: string): Promise<boolean> {
    return this.c.write(() => {
      const inUse = this.c.get('SELECT 1 FROM sessions WHERE workspace_id = ? AND environment_id = ? LIMIT 1', workspaceId, id);
      if (inUse) throw new StoreConflictError(`environment ${id} is used by sessions`);
      return this.c.run('DELETE FROM environments WHERE workspace_id = ? AND id = ?', workspaceId, id) > 0;
    });
  }

  // Sessions and events

  async createSession(
    session: Omit<SessionRecord, 'seq'>,
    initialEvents: NewEvent[],
  ): Promise<{ session: SessionRecord; events: EventRecord[] }> {
    return this.c.write(() => {
      const row = this.c.get<rows.SessionRow>(
        `INSERT INTO sessions (id, workspace_id, agent_id, agent_version, environment_id, status, body,
                               created_at, updated_at, archived_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        session.id, session.workspaceId, session.agentId, session.agentVersion, session.environmentId, session.status,
        JSON.stringify(session.body),
        isoTimestamp(session.createdAt), isoTimestamp(session.updatedAt), isoOrNull(session.archivedAt),
      );
      return { session: rows.toSession(row!), events: this.insertEvents(session.id, 0, initialEvents) };
    });
  }

  async getSession(workspaceId: string, id: string): Promise<SessionRecord | null> {
    const row = this.c.get<rows.SessionRow>('SELECT * FROM sessions WHERE workspace_id = ? AND id = ?', workspaceId, id);
    return row ? rows.toSession(row) : null;
  }

  async listSessions(workspaceId: string, query: SessionQuery): Promise<Page<SessionRecord>> {
    const params = new Params('sqlite');
    return this.page('sessions', sessionConditions(workspaceId, query, params), query, params, rows.toSession);
  }

  async listSessionsByStatus(statuses: SessionStatus[]): Promise<SessionRecord[]> {
    if (statuses.length === 0) return [];
    const params = new Params('sqlite');
    const sql = `SELECT * FROM sessions WHERE status IN (${params.list(statuses)}) ORDER BY seq`;
    return this.c.all<rows.SessionRow>(sql, ...params.values).map(rows.toSession);
  }

  async existingSessionIds(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // SQLite caps bound parameters (32,766 since 3.32); batches stay far below.
    for (let i = 0; i < ids.length; i += 500) {
      const params = new Params('sqlite');
      const sql = `SELECT id FROM sessions WHERE id IN (${params.list(ids.slice(i, i + 500))})`;
      for (const row of this.c.all<{ id: string }>(sql, ...params.values)) found.add(row.id);
    }
    return found;
  }

  async updateSession(workspaceId: string, id: string, patch: SessionPatch): Promise<SessionRecord | null> {
    const params = new Params('sqlite');
    const set = sessionAssignments(patch, params);
    const where = `workspace_id = ${params.add(workspaceId)} AND id = ${params.add(id)}`;
    const sql = `UPDATE sessions SET ${set} WHERE ${where} RETURNING *`;
    const row = this.c.write(() => this.c.get<rows.SessionRow>(sql, ...params.values));
    return row ? rows.toSession(row) : null;
  }

  async deleteSession(workspaceId: string, id: string): Promise<boolean> {
    return this.c.write(() => this.c.run('DELETE FROM sessions WHERE workspace_id = ? AND id = ?', workspaceId, id) > 0);
  }

  async appendEvents(
    sessionId: string,
    events: NewEvent[],
    patch?: SessionPatch,
    options: AppendOptions = {},
  ): Promise<{ events: EventRecord[]; session: SessionRecord }> {
    return this.c.write(() => {
      let row = this.c.get<rows.SessionRow>('SELECT * FROM sessions WHERE id = ?', sessionId);
      if (!row) throw new StoreNotFoundError(`session ${sessionId} not found`);
      if (options.idempotency) {
        if (options.idempotency.workspaceId !== row.workspace_id) {
          throw new StoreNotFoundError(`session ${sessionId} not found in workspace ${options.idempotency.workspaceId}`);
        }
        const held = idempotency.saveIdempotency(this.c, options.idempotency);
        if (held) throw new StoreIdempotencyConflictError(held);
      }
      const max = 'SELECT COALESCE(MAX(seq), 0) AS last FROM events WHERE session_id = ?';
      const last = this.c.get<{ last: number }>(max, sessionId);
      const stored = this.insertEvents(sessionId, last?.last ?? 0, events);
      if (patch) {
        const params = new Params('sqlite');
        const sql = `UPDATE sessions SET ${sessionAssignments(patch, params)} WHERE id = ${params.add(sessionId)} RETURNING *`;
        row = this.c.get<rows.SessionRow>(sql, ...params.values)!;
      }
      return { events: stored, session: rows.toSession(row) };
    });
  }

  async listEvents(sessionId: string, query: EventQuery): Promise<Page<EventRecord>> {
    const params = new Params('sqlite');
    return this.page('events', eventConditions(sessionId, query, params), query, params, rows.toEvent);
  }

  async getEvent(sessionId: string, id: string): Promise<EventRecord | null> {
    const row = this.c.get<rows.EventRow>('SELECT * FROM events WHERE session_id = ? AND id = ?', sessionId, id);
    return row ? rows.toEvent(row) : null;
  }

  // Idempotency keys

  async saveIdempotentResponse(record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    return this.c.write(() => idempotency.saveIdempotency(this.c, record));
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

  private page<R, T>(table: string, where: string[], query: PageQuery | EventQuery, params: Params, map: (row: R) => T): Page<T> {
    const sql = `SELECT * FROM ${table} ${whereClause(where)} ${pageTail(query, params)}`;
    return finishPage(this.c.all<R>(sql, ...params.values), query.limit, map);
  }

  /** Sets archived_at (and updated_at) only if not archived yet. */
  private archive<R>(table: 'agents' | 'environments', workspaceId: string, id: string, at: string): R | undefined {
    const ts = isoTimestamp(at);
    const sql = `UPDATE ${table}
      SET archived_at = COALESCE(archived_at, ?), updated_at = CASE WHEN archived_at IS NULL THEN ? ELSE updated_at END
      WHERE workspace_id = ? AND id = ? RETURNING *`;
    return this.c.write(() => this.c.get<R>(sql, ts, ts, workspaceId, id));
  }

  private insertAgentVersion(agentId: string, version: number, body: string, at: string): void {
    const sql = 'INSERT INTO agent_versions (agent_id, version, body, created_at) VALUES (?, ?, ?, ?)';
    this.c.run(sql, agentId, version, body, isoTimestamp(at));
  }

  private insertEvents(sessionId: string, lastSeq: number, events: NewEvent[]): EventRecord[] {
    const sql = 'INSERT INTO events (id, session_id, seq, type, body, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *';
    return events.map((e, i) => {
      const body = JSON.stringify(e.body);
      const row = this.c.get<rows.EventRow>(sql, e.id, sessionId, lastSeq + i + 1, e.type, body, isoTimestamp(e.createdAt));
      return rows.toEvent(row!);
    });
  }
}
