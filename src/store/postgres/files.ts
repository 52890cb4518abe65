/** The PostgreSQL side of the file members of the Store (see store.ts). */
import { fileConditions } from '../files-query.js';
import { finishPage, isoOrNull, isoTimestamp, pageTail, Params, whereClause } from '../query.js';
import type { FileQuery, FileRecord, Page } from '../store.js';
import type { PgConnection } from './connection.js';

/** BIGINT arrives as a string, TIMESTAMPTZ as a Date. */
interface FileRow {
  seq: string;
  id: string;
  workspace_id: string;
  filename: string;
  mime_type: string;
  size_bytes: string;
  scope_id: string | null;
  created_at: Date;
  expires_at: Date | null;
}

const toFile = (r: FileRow): FileRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  seq: Number(r.seq),
  filename: r.filename,
  mimeType: r.mime_type,
  sizeBytes: Number(r.size_bytes),
  scopeId: r.scope_id,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at ? r.expires_at.toISOString() : null,
});

export async function createFile(c: PgConnection, f: Omit<FileRecord, 'seq'>): Promise<FileRecord> {
  const [row] = await c.query<FileRow>(
    `INSERT INTO files (id, workspace_id, filename, mime_type, size_bytes, scope_id, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [f.id, f.workspaceId, f.filename, f.mimeType, f.sizeBytes, f.scopeId, isoTimestamp(f.createdAt), isoOrNull(f.expiresAt)],
  );
  return toFile(row!);
}

export async function getFile(c: PgConnection, workspaceId: string, id: string): Promise<FileRecord | null> {
  const [row] = await c.query<FileRow>('SELECT * FROM files WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return row ? toFile(row) : null;
}

export async function listFiles(c: PgConnection, workspaceId: string, query: FileQuery): Promise<Page<FileRecord>> {
  const params = new Params('postgres');
  const sql = `SELECT * FROM files ${whereClause(fileConditions(workspaceId, query, params))} ${pageTail(query, params)}`;
  return finishPage(await c.query<FileRow>(sql, params.values), query.limit, toFile);
}

export async function deleteFile(c: PgConnection, workspaceId: string, id: string): Promise<boolean> {
  return (await c.query('DELETE FROM files WHERE workspace_id = $1 AND id = $2 RETURNING id', [workspaceId, id])).length > 0;
}
