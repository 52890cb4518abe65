/** Inserts shared by several PostgresStore methods; each runs on the caller's transaction. */
import { isoTimestamp } from '../query.js';
import type { EventRecord, NewEvent } from '../store.js';
import type { Queryable } from './connection.js';
import * as rows from './rows.js';

/**
 * Inserts events as seqs `lastSeq + 1, lastSeq + 2, ...` in one statement.
 * The caller holds the transaction (and for appends, the session row lock).
 */
export async function insertEvents(
  client: Queryable,
  sessionId: string,
  lastSeq: number,
  events: NewEvent[],
): Promise<EventRecord[]> {
  if (events.length === 0) return [];
  const { rows: inserted } = await client.query<rows.EventRow>(
    `INSERT INTO events (id, session_id, seq, type, body, created_at)
     SELECT e.id, $1, e.seq, e.type, e.body::json, e.created_at::timestamptz
     FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS e (id, seq, type, body, created_at)
     RETURNING *`,
    [
      sessionId,
      events.map((e) => e.id),
      events.map((_, i) => lastSeq + i + 1),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.body)),
      events.map((e) => isoTimestamp(e.createdAt)),
    ],
  );
  return inserted.map(rows.toEvent).sort((a, b) => a.seq - b.seq);
}

/** The last seq in a session's log, 0 when it is empty. */
export async function lastSeq(client: Queryable, sessionId: string): Promise<number> {
  const { rows: found } = await client.query<{ last: string }>(
    'SELECT COALESCE(MAX(seq), 0) AS last FROM events WHERE session_id = $1',
    [sessionId],
  );
  return Number(found[0]?.last ?? 0);
}

export async function insertAgentVersion(
  client: Queryable,
  agentId: string,
  version: number,
  body: string,
  at: string,
): Promise<void> {
  await client.query('INSERT INTO agent_versions (agent_id, version, body, created_at) VALUES ($1, $2, $3, $4)', [
    agentId,
    version,
    body,
    isoTimestamp(at),
  ]);
}
