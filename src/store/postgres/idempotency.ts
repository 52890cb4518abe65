/** The PostgreSQL side of the idempotency-key members of the Store (see store.ts). */
import { isoTimestamp } from '../query.js';
import type { IdempotencyRecord, JsonObject } from '../store.js';
import type { PgConnection, Queryable } from './connection.js';

interface IdempotencyRow {
  workspace_id: string;
  key: string;
  request_hash: string;
  response: JsonObject;
  created_at: Date;
  expires_at: Date;
}

const toRecord = (r: IdempotencyRow): IdempotencyRecord => ({
  workspaceId: r.workspace_id,
  key: r.key,
  requestHash: r.request_hash,
  response: r.response,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at.toISOString(),
});

/**
 * Inserts the record, or replaces one that has expired by its `createdAt`.
 * Returns the record that holds the key instead, or null when this one was
 * saved. Runs on the caller's transaction when given `client`.
 */
export async function saveIdempotency(
  c: PgConnection,
  record: IdempotencyRecord,
  client?: Queryable,
): Promise<IdempotencyRecord | null> {
  // A concurrent insert of the same key makes this statement wait for that
  // transaction; once it commits, the conflict (and its row) is visible here.
  const saved = await c.query(
    `INSERT INTO idempotency_keys AS k (workspace_id, key, request_hash, response, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, key) DO UPDATE
       SET request_hash = excluded.request_hash, response = excluded.response,
           created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE k.expires_at <= excluded.created_at
     RETURNING 1`,
    [
      record.workspaceId,
      record.key,
      record.requestHash,
      JSON.stringify(record.response),
      isoTimestamp(record.createdAt),
      isoTimestamp(record.expiresAt),
    ],
    client,
  );
  if (saved.length > 0) return null;
  const sql = 'SELECT * FROM idempotency_keys WHERE workspace_id = $1 AND key = $2';
  const [row] = await c.query<IdempotencyRow>(sql, [record.workspaceId, record.key], client);
  return toRecord(row!);
}

export async function getIdempotency(c: PgConnection, workspaceId: string, key: string, at: string): Promise<IdempotencyRecord | null> {
  const sql = 'SELECT * FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND expires_at > $3';
  const [row] = await c.query<IdempotencyRow>(sql, [workspaceId, key, isoTimestamp(at)]);
  return row ? toRecord(row) : null;
}

export async function pruneIdempotency(c: PgConnection, at: string): Promise<number> {
  const rows = await c.query('DELETE FROM idempotency_keys WHERE expires_at <= $1 RETURNING 1', [isoTimestamp(at)]);
  return rows.length;
}
