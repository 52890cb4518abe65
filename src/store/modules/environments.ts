/** Environments: where sessions run. */
import type { StoreContext } from '../dialect.js';
import { archiveSet, isoTimestamp, listedPage, listedValues, toListed, type ListedTable } from '../query.js';
import { prepared } from '../prepared.js';
import { StoreConflictError, StoreNotFoundError, type EnvironmentRecord, type Store } from '../store.js';

export interface EnvironmentTables {
  environments: ListedTable;
}

const toEnvironment: (r: Parameters<typeof toListed>[0]) => EnvironmentRecord = toListed;

export function environments({ db, dialect }: StoreContext): Pick<
  Store,
  'createEnvironment' | 'getEnvironment' | 'updateEnvironment' | 'listEnvironments' | 'archiveEnvironment' | 'deleteEnvironment'
> {
  const environmentById = prepared((workspaceId: string, id: string) =>
    db.selectFrom('environments').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id),
  );

  return {
    async createEnvironment(env) {
      return toEnvironment(await db.insertInto('environments').values(listedValues(env)).returningAll().executeTakeFirstOrThrow());
    },

    async getEnvironment(workspaceId, id) {
      const [row] = await environmentById(db, workspaceId, id);
      return row ? toEnvironment(row) : null;
    },

    async updateEnvironment(workspaceId, id, body, at) {
      const set = { body: JSON.stringify(body), updated_at: isoTimestamp(at) };
      const update = db.updateTable('environments').set(set).where('workspace_id', '=', workspaceId).where('id', '=', id);
      const row = await update.returningAll().executeTakeFirst();
      return row ? toEnvironment(row) : null;
    },

    async listEnvironments(workspaceId, query) {
      return listedPage(db.selectFrom('environments').selectAll().where('workspace_id', '=', workspaceId), query, toEnvironment);
    },

    async archiveEnvironment(workspaceId, id, at) {
      const archive = db.updateTable('environments').set(archiveSet(at)).where('workspace_id', '=', workspaceId).where('id', '=', id);
      const row = await archive.returningAll().executeTakeFirst();
      return row ? toEnvironment(row) : null;
    },

    async deleteEnvironment(workspaceId, id) {
      const inUse = (cause?: unknown): StoreConflictError =>
        new StoreConflictError(`environment ${id} is used by sessions`, cause === undefined ? undefined : { cause });
      try {
        return await db.transaction().execute(async (trx) => {
          // On PostgreSQL the row lock waits out any session insert whose
          // foreign key check holds this environment, so the look for a
          // session below sees that session.
          const env = await trx
            .selectFrom('environments')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('id', '=', id)
            .$if(dialect.rowLocks, (q) => q.forUpdate())
            .executeTakeFirst();
          if (!env) return false;
          const using = await trx
            .selectFrom('sessions')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('environment_id', '=', id)
            .limit(1)
            .executeTakeFirst();
          if (using) throw inUse();
          await trx.deleteFrom('environments').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
          return true;
        });
      } catch (error) {
        // A foreign key violation on delete means a session still points here.
        if (error instanceof StoreNotFoundError) throw inUse(error);
        throw error;
      }
    },
  };
}
