/** The SQLite side of the transcript members of the Store (see store.ts). */
import { entryUuid, transcriptSubpath } from '../query.js';
import type { TranscriptEntry, TranscriptKey } from '../store.js';
import type { SqliteConnection } from './connection.js';

export function appendTranscript(c: SqliteConnection, key: TranscriptKey, entries: TranscriptEntry[]): void {
  const subpath = transcriptSubpath(key);
  c.write(() => {
    // Creates the transcript or moves its mtime on (never back, even if the
    // wall clock does) and reserves seqs for the whole batch in one step.
    const reserved = c.get<{ last_seq: number }>(
      `INSERT INTO transcripts (project_key, session_id, subpath, last_seq, mtime) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (project_key, session_id, subpath) DO UPDATE
         SET last_seq = last_seq + excluded.last_seq, mtime = max(excluded.mtime, mtime + 1)
       RETURNING last_seq`,
      key.projectKey, key.sessionId, subpath, entries.length, Date.now(),
    );
    insertEntries(c, key, subpath, reserved!.last_seq - entries.length + 1, entries);
  });
}

export function replaceTranscript(c: SqliteConnection, key: TranscriptKey, entries: TranscriptEntry[]): void {
  const subpath = transcriptSubpath(key);
  c.write(() => {
    c.run(
      `INSERT INTO transcripts (project_key, session_id, subpath, last_seq, mtime) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (project_key, session_id, subpath) DO UPDATE
         SET last_seq = excluded.last_seq, mtime = max(excluded.mtime, mtime + 1)`,
      key.projectKey, key.sessionId, subpath, entries.length, Date.now(),
    );
    c.run('DELETE FROM transcript_entries WHERE project_key = ? AND session_id = ? AND subpath = ?', key.projectKey, key.sessionId, subpath);
    insertEntries(c, key, subpath, 1, entries);
  });
}

/** Inserts `entries` with seqs from `first` on, skipping a uuid the transcript already holds; inside a write. */
function insertEntries(c: SqliteConnection, key: TranscriptKey, subpath: string, first: number, entries: TranscriptEntry[]): void {
  const insert = `INSERT INTO transcript_entries (project_key, session_id, subpath, seq, uuid, body)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
  entries.forEach((entry, i) => {
    c.run(insert, key.projectKey, key.sessionId, subpath, first + i, entryUuid(entry), JSON.stringify(entry));
  });
}

export function loadTranscript(c: SqliteConnection, key: TranscriptKey): TranscriptEntry[] | null {
  // One statement, so one snapshot: no rows means never written; a single
  // row with a null body means written but empty.
  const rows = c.all<{ body: string | null }>(
    `SELECT e.body FROM transcripts t
     LEFT JOIN transcript_entries e USING (project_key, session_id, subpath)
     WHERE t.project_key = ? AND t.session_id = ? AND t.subpath = ?
     ORDER BY e.seq`,
    key.projectKey, key.sessionId, transcriptSubpath(key),
  );
  if (rows.length === 0) return null;
  return rows.flatMap((r) => (r.body === null ? [] : [JSON.parse(r.body) as TranscriptEntry]));
}

export function listTranscriptSessions(c: SqliteConnection, projectKey: string): { sessionId: string; mtime: number }[] {
  const sql = "SELECT session_id, mtime FROM transcripts WHERE project_key = ? AND subpath = ''";
  return c.all<{ session_id: string; mtime: number }>(sql, projectKey).map((r) => ({ sessionId: r.session_id, mtime: r.mtime }));
}

export function listTranscriptSubkeys(c: SqliteConnection, key: { projectKey: string; sessionId: string }): string[] {
  const sql = "SELECT subpath FROM transcripts WHERE project_key = ? AND session_id = ? AND subpath <> '' ORDER BY subpath";
  return c.all<{ subpath: string }>(sql, key.projectKey, key.sessionId).map((r) => r.subpath);
}

export function deleteTranscript(c: SqliteConnection, key: TranscriptKey): void {
  const subpath = transcriptSubpath(key);
  const where = subpath === '' ? '' : ' AND subpath = ?';
  const params = subpath === '' ? [key.projectKey, key.sessionId] : [key.projectKey, key.sessionId, subpath];
  c.write(() => c.run(`DELETE FROM transcripts WHERE project_key = ? AND session_id = ?${where}`, ...params));
}
