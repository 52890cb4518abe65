/** The SQLite side of the trigger members of the Store (see store.ts). */
import { finishPage, isoOrNull, isoTimestamp, pageConditions, pageTail, Params, whereClause } from '../query.js';
import { StoreNotFoundError, type JsonObject, type Page, type PageQuery, type TriggerKind, type TriggerRecord } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface TriggerRow {
  seq: number;
  id: string;
  workspace_id: string;
  session_id: string;
  kind: TriggerKind;
  body: string;
  secret: string | null;
  created_at: string;
  updated_at: string;
  last_fired_at: string | null;
  next_fire_at: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
}

const toTrigger = (r: TriggerRow): TriggerRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  sessionId: r.session_id,
  seq: r.seq,
  kind: r.kind,
  body: JSON.parse(r.body) as JsonObject,
  secret: r.secret,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastFiredAt: r.last_fired_at,
  nextFireAt: r.next_fire_at,
  disabledAt: r.disabled_at,
  disabledReason: r.disabled_reason,
});

export function createTrigger(c: SqliteConnection, t: Omit<TriggerRecord, 'seq'>): TriggerRecord {
  return c.write(() => {
    // Selecting the session in the trigger's workspace is what keeps a
    // trigger from pointing at another workspace's session.
    const row = c.get<TriggerRow>(
      `INSERT INTO triggers (id, workspace_id, session_id, kind, body, secret, created_at, updated_at,
                             last_fired_at, next_fire_at, disabled_at, disabled_reason)
       SELECT ?, workspace_id, id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM sessions WHERE workspace_id = ? AND id = ?
       RETURNING *`,
      t.id, t.kind, JSON.stringify(t.body), t.secret, isoTimestamp(t.createdAt), isoTimestamp(t.updatedAt),
      isoOrNull(t.lastFiredAt), isoOrNull(t.nextFireAt), isoOrNull(t.disabledAt), t.disabledReason,
      t.workspaceId, t.sessionId,
    );
    if (!row) throw new StoreNotFoundError(`session ${t.sessionId} not found in workspace ${t.workspaceId}`);
    return toTrigger(row);
  });
}

export function getTrigger(c: SqliteConnection, workspaceId: string, id: string): TriggerRecord | null {
  const row = c.get<TriggerRow>('SELECT * FROM triggers WHERE workspace_id = ? AND id = ?', workspaceId, id);
  return row ? toTrigger(row) : null;
}

export function findTriggerById(c: SqliteConnection, id: string): TriggerRecord | null {
  const row = c.get<TriggerRow>('SELECT * FROM triggers WHERE id = ?', id);
  return row ? toTrigger(row) : null;
}

export function listTriggers(c: SqliteConnection, workspaceId: string, sessionId: string, query: PageQuery): Page<TriggerRecord> {
  const params = new Params('sqlite');
  const where = [`workspace_id = ${params.add(workspaceId)}`, `session_id = ${params.add(sessionId)}`, ...pageConditions(query, params)];
  const sql = `SELECT * FROM triggers ${whereClause(where)} ${pageTail(query, params)}`;
  return finishPage(c.all<TriggerRow>(sql, ...params.values), query.limit, toTrigger);
}

export function listDueTriggers(c: SqliteConnection, now: string, limit: number): TriggerRecord[] {
  const sql = `SELECT * FROM triggers WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL AND next_fire_at <= ?
    ORDER BY next_fire_at, seq LIMIT ?`;
  return c.all<TriggerRow>(sql, isoTimestamp(now), limit).map(toTrigger);
}

export function nextTriggerFireAt(c: SqliteConnection): string | null {
  const sql = 'SELECT MIN(next_fire_at) AS at FROM triggers WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL';
  return c.get<{ at: string | null }>(sql)?.at ?? null;
}

export function claimTriggerFire(c: SqliteConnection, id: string, expected: string, firedAt: string, next: string | null): boolean {
  const sql = `UPDATE triggers SET last_fired_at = ?, next_fire_at = ?
    WHERE id = ? AND next_fire_at = ? AND disabled_at IS NULL`;
  return c.write(() => c.run(sql, isoTimestamp(firedAt), isoOrNull(next), id, isoTimestamp(expected)) > 0);
}

export function markTriggerFired(c: SqliteConnection, id: string, firedAt: string): boolean {
  // SQLite's two-argument max() is NULL when either is, hence the COALESCE.
  const sql = 'UPDATE triggers SET last_fired_at = COALESCE(max(last_fired_at, ?), ?) WHERE id = ?';
  const ts = isoTimestamp(firedAt);
  return c.write(() => c.run(sql, ts, ts, id) > 0);
}

export function disableTrigger(c: SqliteConnection, id: string, at: string, reason: string): TriggerRecord | null {
  const ts = isoTimestamp(at);
  const sql = `UPDATE triggers SET next_fire_at = NULL,
      disabled_reason = CASE WHEN disabled_at IS NULL THEN ? ELSE disabled_reason END,
      updated_at = CASE WHEN disabled_at IS NULL THEN ? ELSE updated_at END,
      disabled_at = COALESCE(disabled_at, ?)
    WHERE id = ? RETURNING *`;
  const row = c.write(() => c.get<TriggerRow>(sql, reason, ts, ts, id));
  return row ? toTrigger(row) : null;
}

export function deleteTrigger(c: SqliteConnection, workspaceId: string, id: string): boolean {
  return c.write(() => c.run('DELETE FROM triggers WHERE workspace_id = ? AND id = ?', workspaceId, id) > 0);
}

export function recordWebhookDelivery(c: SqliteConnection, triggerId: string, signature: string, expiresAt: string): boolean {
  const sql = 'INSERT INTO webhook_deliveries (trigger_id, signature, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING';
  return c.write(() => c.run(sql, triggerId, signature, isoTimestamp(expiresAt)) > 0);
}

export function pruneWebhookDeliveries(c: SqliteConnection, now: string): number {
  return c.write(() => c.run('DELETE FROM webhook_deliveries WHERE expires_at < ?', isoTimestamp(now)));
}
