/** The PostgreSQL side of the transcript members of the Store (see store.ts). */
import type pg from 'pg';
import { entryUuid, transcriptSubpath } from '../query.js';
import type { TranscriptEntry, TranscriptKey } from '../store.js';
import type { PgConnection } from './connection.js';

/** Epoch milliseconds by the database clock, so every agenthost process stamps mtimes alike. */
const NOW_MS = 'floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

export async function appendTranscript(c: PgConnection, key: TranscriptKey, entries: TranscriptEntry[]): Promise<void> {
  const subpath = transcriptSubpath(key);
  await c.tx(async (client) => {
    // Creates the transcript or locks its row until commit, moves mtime on
    // (never back) and reserves seqs for the whole batch in one statement.
    const [reserved] = await c.query<{ last_seq: string }>(
      `INSERT INTO transcripts AS t (project_key, session_id, subpath, last_seq, mtime)
       VALUES ($1, $2, $3, $4, ${NOW_MS})
       ON CONFLICT (project_key, session_id, subpath) DO UPDATE
         SET last_seq = t.last_seq + excluded.last_seq, mtime = greatest(excluded.mtime, t.mtime + 1)
       RETURNING last_seq`,
      [key.projectKey, key.sessionId, subpath, entries.length],
      client,
    );
    await insertEntries(c, client, key, subpath, Number(reserved!.last_seq) - entries.length + 1, entries);
  });
}

export async function replaceTranscript(c: PgConnection, key: TranscriptKey, entries: TranscriptEntry[]): Promise<void> {
  const subpath = transcriptSubpath(key);
  await c.tx(async (client) => {
    // Locks the transcript's row first, as an append does.
    await c.query(
      `INSERT INTO transcripts AS t (project_key, session_id, subpath, last_seq, mtime)
       VALUES ($1, $2, $3, $4, ${NOW_MS})
       ON CONFLICT (project_key, session_id, subpath) DO UPDATE
         SET last_seq = excluded.last_seq, mtime = greatest(excluded.mtime, t.mtime + 1)`,
      [key.projectKey, key.sessionId, subpath, entries.length],
      client,
    );
    await c.query('DELETE FROM transcript_entries WHERE project_key = $1 AND session_id = $2 AND subpath = $3', [key.projectKey, key.sessionId, subpath], client);
    await insertEntries(c, client, key, subpath, 1, entries);
  });
}

/** Inserts `entries` with seqs from `first` on; DO NOTHING also skips a uuid repeated within this one statement. */
async function insertEntries(
  c: PgConnection,
  client: pg.PoolClient,
  key: TranscriptKey,
  subpath: string,
  first: number,
  entries: TranscriptEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await c.query(
    `INSERT INTO transcript_entries (project_key, session_id, subpath, seq, uuid, body)
     SELECT $1, $2, $3, e.seq, e.uuid, e.body::json
     FROM unnest($4::bigint[], $5::text[], $6::text[]) AS e (seq, uuid, body)
     ORDER BY e.seq
     ON CONFLICT DO NOTHING`,
    [
      key.projectKey,
      key.sessionId,
      subpath,
      entries.map((_, i) => first + i),
      entries.map(entryUuid),
      entries.map((e) => JSON.stringify(e)),
    ],
    client,
  );
}

export async function loadTranscript(c: PgConnection, key: TranscriptKey): Promise<TranscriptEntry[] | null> {
  // One statement, so one snapshot: no rows means never written; a single
  // row with a null body means written but empty.
  const rows = await c.query<{ body: TranscriptEntry | null }>(
    `SELECT e.body FROM transcripts t
     LEFT JOIN transcript_entries e USING (project_key, session_id, subpath)
     WHERE t.project_key = $1 AND t.session_id = $2 AND t.subpath = $3
     ORDER BY e.seq`,
    [key.projectKey, key.sessionId, transcriptSubpath(key)],
  );
  if (rows.length === 0) return null;
  return rows.flatMap((r) => (r.body === null ? [] : [r.body]));
}

export async function listTranscriptSessions(c: PgConnection, projectKey: string): Promise<{ sessionId: string; mtime: number }[]> {
  const sql = "SELECT session_id, mtime FROM transcripts WHERE project_key = $1 AND subpath = ''";
  const rows = await c.query<{ session_id: string; mtime: string }>(sql, [projectKey]);
  return rows.map((r) => ({ sessionId: r.session_id, mtime: Number(r.mtime) }));
}

export async function listTranscriptSubkeys(c: PgConnection, key: { projectKey: string; sessionId: string }): Promise<string[]> {
  // COLLATE "C" sorts bytewise, as SQLite does.
  const sql = `SELECT subpath FROM transcripts WHERE project_key = $1 AND session_id = $2 AND subpath <> ''
    ORDER BY subpath COLLATE "C"`;
  return (await c.query<{ subpath: string }>(sql, [key.projectKey, key.sessionId])).map((r) => r.subpath);
}

export async function deleteTranscript(c: PgConnection, key: TranscriptKey): Promise<void> {
  const subpath = transcriptSubpath(key);
  if (subpath === '') {
    await c.query('DELETE FROM transcripts WHERE project_key = $1 AND session_id = $2', [key.projectKey, key.sessionId]);
  } else {
    const sql = 'DELETE FROM transcripts WHERE project_key = $1 AND session_id = $2 AND subpath = $3';
    await c.query(sql, [key.projectKey, key.sessionId, subpath]);
  }
}
