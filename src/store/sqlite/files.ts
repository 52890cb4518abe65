/** The SQLite side of the file members of the Store (see store.ts). */
import { fileConditions } from '../files-query.js';
import { finishPage, isoOrNull, isoTimestamp, pageTail, Params, whereClause } from '../query.js';
import type { FileQuery, FileRecord, Page } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface FileRow {
  seq: number;
  id: string;
  workspace_id: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  scope_id: string | null;
  created_at: string;
  expires_at: string | null;
}

const toFile = (r: FileRow): FileRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  seq: r.seq,
  filename: r.filename,
  mimeType: r.mime_type,
  sizeBytes: r.size_bytes,
  scopeId: r.scope_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export function createFile(c: SqliteConnection, f: Omit<FileRecord, 'seq'>): FileRecord {
  const row = c.write(() =>
    c.get<FileRow>(
      `INSERT INTO files (id, workspace_id, filename, mime_type, size_bytes, scope_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      f.id, f.workspaceId, f.filename, f.mimeType, f.sizeBytes, f.scopeId, isoTimestamp(f.createdAt), isoOrNull(f.expiresAt),
    ),
  );
  return toFile(row!);
}

export function getFile(c: SqliteConnection, workspaceId: string, id: string): FileRecord | null {
  const row = c.get<FileRow>('SELECT * FROM files WHERE workspace_id = ? AND id = ?', workspaceId, id);
  return row ? toFile(row) : null;
}

export function listFiles(c: SqliteConnection, workspaceId: string, query: FileQuery): Page<FileRecord> {
  const params = new Params('sqlite');
  const sql = `SELECT * FROM files ${whereClause(fileConditions(workspaceId, query, params))} ${pageTail(query, params)}`;
  return finishPage(c.all<FileRow>(sql, ...params.values), query.limit, toFile);
}

export function deleteFile(c: SqliteConnection, workspaceId: string, id: string): boolean {
  return c.write(() => c.run('DELETE FROM files WHERE workspace_id = ? AND id = ?', workspaceId, id) > 0);
}
