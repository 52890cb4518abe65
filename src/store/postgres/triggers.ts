/** The PostgreSQL side of the trigger members of the Store (see store.ts). */
import { finishPage, isoOrNull, isoTimestamp, pageConditions, pageTail, Params, whereClause } from '../query.js';
import { StoreNotFoundError, type JsonObject, type Page, type PageQuery, type TriggerKind, type TriggerRecord } from '../store.js';
import type { PgConnection } from './connection.js';

/** As node-postgres returns it: BIGINT as string, TIMESTAMPTZ as Date, json parsed. */
interface TriggerRow {
  seq: string;
  id: string;
  workspace_id: string;
  session_id: string;
  kind: TriggerKind;
  body: JsonObject;
  secret: string | null;
  created_at: Date;
  updated_at: Date;
  last_fired_at: Date | null;
  next_fire_at: Date | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const toTrigger = (r: TriggerRow): TriggerRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  sessionId: r.session_id,
  seq: Number(r.seq),
  kind: r.kind,
  body: r.body,
  secret: r.secret,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  lastFiredAt: iso(r.last_fired_at),
  nextFireAt: iso(r.next_fire_at),
  disabledAt: iso(r.disabled_at),
  disabledReason: r.disabled_reason,
});

export async function createTrigger(c: PgConnection, t: Omit<TriggerRecord, 'seq'>): Promise<TriggerRecord> {
  // Selecting the session in the trigger's workspace is what keeps a trigger
  // from pointing at another workspace's session. A session deleted
  // concurrently fails the foreign key instead (StoreNotFoundError too).
  const [row] = await c.query<TriggerRow>(
    `INSERT INTO triggers (id, workspace_id, session_id, kind, body, secret, created_at, updated_at,
                           last_fired_at, next_fire_at, disabled_at, disabled_reason)
     SELECT $1, workspace_id, id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM sessions WHERE workspace_id = $11 AND id = $12
     RETURNING *`,
    [
      t.id,
      t.kind,
      JSON.stringify(t.body),
      t.secret,
      isoTimestamp(t.createdAt),
      isoTimestamp(t.updatedAt),
      isoOrNull(t.lastFiredAt),
      isoOrNull(t.nextFireAt),
      isoOrNull(t.disabledAt),
      t.disabledReason,
      t.workspaceId,
      t.sessionId,
    ],
  );
  if (!row) throw new StoreNotFoundError(`session ${t.sessionId} not found in workspace ${t.workspaceId}`);
  return toTrigger(row);
}

export async function getTrigger(c: PgConnection, workspaceId: string, id: string): Promise<TriggerRecord | null> {
  const [row] = await c.query<TriggerRow>('SELECT * FROM triggers WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return row ? toTrigger(row) : null;
}

export async function findTriggerById(c: PgConnection, id: string): Promise<TriggerRecord | null> {
  const [row] = await c.query<TriggerRow>('SELECT * FROM triggers WHERE id = $1', [id]);
  return row ? toTrigger(row) : null;
}

export async function listTriggers(c: PgConnection, workspaceId: string, sessionId: string, query: PageQuery): Promise<Page<TriggerRecord>> {
  const params = new Params('postgres');
  const where = [`workspace_id = ${params.add(workspaceId)}`, `session_id = ${params.add(sessionId)}`, ...pageConditions(query, params)];
  const sql = `SELECT * FROM triggers ${whereClause(where)} ${pageTail(query, params)}`;
  return finishPage(await c.query<TriggerRow>(sql, params.values), query.limit, toTrigger);
}

export async function listDueTriggers(c: PgConnection, now: string, limit: number): Promise<TriggerRecord[]> {
  const sql = `SELECT * FROM triggers WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL AND next_fire_at <= $1
    ORDER BY next_fire_at, seq LIMIT $2`;
  return (await c.query<TriggerRow>(sql, [isoTimestamp(now), limit])).map(toTrigger);
}

export async function nextTriggerFireAt(c: PgConnection): Promise<string | null> {
  const sql = 'SELECT MIN(next_fire_at) AS at FROM triggers WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL';
  const [row] = await c.query<{ at: Date | null }>(sql);
  return iso(row?.at ?? null);
}

export async function claimTriggerFire(c: PgConnection, id: string, expected: string, firedAt: string, next: string | null): Promise<boolean> {
  const sql = `UPDATE triggers SET last_fired_at = $1, next_fire_at = $2
    WHERE id = $3 AND next_fire_at = $4 AND disabled_at IS NULL RETURNING id`;
  return (await c.query(sql, [isoTimestamp(firedAt), isoOrNull(next), id, isoTimestamp(expected)])).length > 0;
}

export async function markTriggerFired(c: PgConnection, id: string, firedAt: string): Promise<boolean> {
  // greatest() ignores NULLs, so the first fire sets it and later ones never move it back.
  const sql = 'UPDATE triggers SET last_fired_at = greatest(last_fired_at, $1::timestamptz) WHERE id = $2 RETURNING id';
  return (await c.query(sql, [isoTimestamp(firedAt), id])).length > 0;
}

export async function disableTrigger(c: PgConnection, id: string, at: string, reason: string): Promise<TriggerRecord | null> {
  const sql = `UPDATE triggers SET next_fire_at = NULL,
      disabled_reason = CASE WHEN disabled_at IS NULL THEN $1 ELSE disabled_reason END,
      updated_at = CASE WHEN disabled_at IS NULL THEN $2 ELSE updated_at END,
      disabled_at = COALESCE(disabled_at, $2)
    WHERE id = $3 RETURNING *`;
  const [row] = await c.query<TriggerRow>(sql, [reason, isoTimestamp(at), id]);
  return row ? toTrigger(row) : null;
}

export async function deleteTrigger(c: PgConnection, workspaceId: string, id: string): Promise<boolean> {
  const sql = 'DELETE FROM triggers WHERE workspace_id = $1 AND id = $2 RETURNING id';
  return (await c.query(sql, [workspaceId, id])).length > 0;
}

export async function recordWebhookDelivery(c: PgConnection, triggerId: string, signature: string, expiresAt: string): Promise<boolean> {
  const sql = `INSERT INTO webhook_deliveries (trigger_id, signature, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING RETURNING trigger_id`;
  return (await c.query(sql, [triggerId, signature, isoTimestamp(expiresAt)])).length > 0;
}

export async function pruneWebhookDeliveries(c: PgConnection, now: string): Promise<number> {
  const rows = await c.query('DELETE FROM webhook_deliveries WHERE expires_at < $1 RETURNING trigger_id', [isoTimestamp(now)]);
  return rows.length;
}
