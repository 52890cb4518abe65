/** Metadata of the Files API; the bytes live in a blob directory the store does not own. */
import type { Generated, Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import { finishPage, isoOrNull, isoTimestamp, page } from '../query.js';
import type { FileRecord, Store } from '../store.js';

export interface FileTables {
  files: {
    seq: Generated<number>;
    id: string;
    workspace_id: string;
    filename: string;
    mime_type: string;
    size_bytes: number;
    /** The session that produced the file; not a foreign key: outputs outlive their session. */
    scope_id: string | null;
    created_at: string;
    expires_at: string | null;
  };
}

const toFile = (r: Selectable<FileTables['files']>): FileRecord => ({
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

export function files({ db }: StoreContext): Pick<Store, 'createFile' | 'getFile' | 'listFiles' | 'deleteFile'> {
  return {
    async createFile(f) {
      const row = await db
        .insertInto('files')
        .values({
          id: f.id,
          workspace_id: f.workspaceId,
          filename: f.filename,
          mime_type: f.mimeType,
          size_bytes: f.sizeBytes,
          scope_id: f.scopeId,
          created_at: isoTimestamp(f.createdAt),
          expires_at: isoOrNull(f.expiresAt),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toFile(row);
    },

    async getFile(workspaceId, id) {
      const row = await db.selectFrom('files').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return row ? toFile(row) : null;
    },

    async listFiles(workspaceId, query) {
      // An empty id list finds nothing (and would be `IN ()`, which is not SQL).
      if (query.ids?.length === 0) return finishPage([], query.limit, toFile);
      const qb = db
        .selectFrom('files')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .$if(query.scopeId !== undefined, (q) => q.where('scope_id', '=', query.scopeId!))
        .$if(query.ids !== undefined, (q) => q.where('id', 'in', query.ids!));
      return page(qb, query, toFile);
    },

    async deleteFile(workspaceId, id) {
      const { numDeletedRows } = await db.deleteFrom('files').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return numDeletedRows > 0n;
    },
  };
}
