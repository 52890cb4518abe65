/** Workspaces and their API keys. */
import type { Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import { prepared } from '../prepared.js';
import { isoOrNull, isoTimestamp } from '../query.js';
import { StoreNotFoundError, type ApiKeyRecord, type ApiKeyScope, type Store, type WorkspaceRecord } from '../store.js';

export interface WorkspaceTables {
  workspaces: { id: string; name: string; created_at: string };
  api_keys: {
    id: string;
    workspace_id: string;
    /** SHA-256 of the key, hex. */
    hash: string;
    prefix: string;
    scope: ApiKeyScope;
    created_at: string;
    revoked_at: string | null;
  };
}

type WorkspaceRow = Selectable<WorkspaceTables['workspaces']>;
type ApiKeyRow = Selectable<WorkspaceTables['api_keys']>;

const toWorkspace = (r: WorkspaceRow): WorkspaceRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });

const toApiKey = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  hash: r.hash,
  prefix: r.prefix,
  scope: r.scope,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export function workspaces({ db, dialect }: StoreContext): Pick<
  Store,
  'ensureWorkspace' | 'getWorkspace' | 'listWorkspaces' | 'createApiKey' | 'findApiKeyByHash' | 'listApiKeys' | 'revokeApiKey'
> {
  // Every request's key is looked up again within half a second (api/auth.ts).
  const keyByHash = prepared((hash: string) => db.selectFrom('api_keys').selectAll().where('hash', '=', hash).where('revoked_at', 'is', null));

  return {
    async ensureWorkspace(name, id, createdAt) {
      // Two statements, not one: after waiting out a concurrent insert of the
      // same name, only a new statement's snapshot can see that row.
      await db
        .insertInto('workspaces')
        .values({ id, name, created_at: isoTimestamp(createdAt) })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst();
      if (!row) throw new StoreNotFoundError(`workspace ${name} vanished while being ensured`);
      return toWorkspace(row);
    },

    async getWorkspace(id) {
      const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toWorkspace(row) : null;
    },

    async listWorkspaces() {
      return (await db.selectFrom('workspaces').selectAll().orderBy(dialect.byteOrder('name')).execute()).map(toWorkspace);
    },

    async createApiKey(key) {
      await db
        .insertInto('api_keys')
        .values({
          id: key.id,
          workspace_id: key.workspaceId,
          hash: key.hash,
          prefix: key.prefix,
          scope: key.scope,
          created_at: isoTimestamp(key.createdAt),
          revoked_at: isoOrNull(key.revokedAt),
        })
        .execute();
    },

    async findApiKeyByHash(hash) {
      const [row] = await keyByHash(db, hash);
      return row ? toApiKey(row) : null;
    },

    async listApiKeys(workspaceId) {
      const rows = await db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toApiKey);
    },

    async revokeApiKey(workspaceId, id, at) {
      const { numUpdatedRows } = await db
        .updateTable('api_keys')
        .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(isoTimestamp(at))) }))
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .executeTakeFirst();
      return numUpdatedRows > 0n;
    },
  };
}
