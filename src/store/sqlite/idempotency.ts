/** The SQLite side of the idempotency-key members of the Store (see store.ts). */
import { isoTimestamp } from '../query.js';
import type { IdempotencyRecord, JsonObject } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface IdempotencyRow {
  workspace_id: string;
  key: string;
  request_hash: string;
  response: string;
  created_at: string;
  expires_at: string;
}

const toRecord = (r: IdempotencyRow): IdempotencyRecord => ({
  workspaceId: r.workspace_id,
  key: r.key,
  requestHash: r.request_hash,
  response: JSON.parse(r.response) as JsonObject,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/**
 * Inserts the record, or replaces one that has expired by its `createdAt`.
 * Returns the record that holds the key instead, or null when this one was
 * saved. The caller holds the write transaction.
 */
export function saveIdempotency(c: SqliteConnection, record: IdempotencyRecord): IdempotencyRecord | null {
  const createdAt = isoTimestamp(record.createdAt);
  const saved = c.get(
    `INSERT INTO idempotency_keys (workspace_id, key, request_hash, response, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (workspace_id, key) DO UPDATE
       SET request_hash = excluded.request_hash, response = excluded.response,
           created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE idempotency_keys.expires_at <= excluded.created_at
     RETURNING 1`,
    record.workspaceId, record.key, record.requestHash, JSON.stringify(record.response), createdAt, isoTimestamp(record.expiresAt),
  );
  if (saved) return null;
  const sql = 'SELECT * FROM idempotency_keys WHERE workspace_id = ? AND key = ?';
  return toRecord(c.get<IdempotencyRow>(sql, record.workspaceId, record.key)!);
}

export function getIdempotency(c: SqliteConnection, workspaceId: string, key: string, at: string): IdempotencyRecord | null {
  const sql = 'SELECT * FROM idempotency_keys WHERE workspace_id = ? AND key = ? AND expires_at > ?';
  const row = c.get<IdempotencyRow>(sql, workspaceId, key, isoTimestamp(at));
  return row ? toRecord(row) : null;
}

export function pruneIdempotency(c: SqliteConnection, at: string): number {
  return c.write(() => c.run('DELETE FROM idempotency_keys WHERE expires_at <= ?', isoTimestamp(at)));
}
