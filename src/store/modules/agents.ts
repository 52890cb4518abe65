/** Agents: every update writes a new version row; old versions stay readable. */
import type { Kysely, Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import type { DB } from '../kysely-store.js';
import { archiveSet, isoTimestamp, listedPage, listedValues, object, toListed, type ListedTable } from '../query.js';
import { prepared } from '../prepared.js';
import { StoreConflictError, type AgentRecord, type AgentVersionRecord, type Store } from '../store.js';

export interface AgentTables {
  agents: ListedTable & { version: number };
  agent_versions: { agent_id: string; version: number; body: string; created_at: string };
}

const toAgent = (r: Selectable<AgentTables['agents']>): AgentRecord => ({ ...toListed(r), version: r.version });

const toAgentVersion = (r: Selectable<AgentTables['agent_versions']>): AgentVersionRecord => ({
  agentId: r.agent_id,
  version: r.version,
  body: object(r.body),
  createdAt: r.created_at,
});

export function agents({ db, dialect }: StoreContext): Pick<
  Store,
  'createAgent' | 'getAgent' | 'getAgentVersion' | 'updateAgent' | 'listAgents' | 'archiveAgent'
> {
  const agentById = prepared((workspaceId: string, id: string) =>
    db.selectFrom('agents').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id),
  );
  const versionById = prepared((workspaceId: string, id: string, version: number) =>
    db
      .selectFrom('agent_versions as v')
      .innerJoin('agents as a', 'a.id', 'v.agent_id')
      .selectAll('v')
      .where('a.workspace_id', '=', workspaceId)
      .where('a.id', '=', id)
      .where('v.version', '=', version),
  );

  return {
    async createAgent(agent) {
      const values = { ...listedValues(agent), version: 1 };
      return db.transaction().execute(async (trx) => {
        const row = await trx.insertInto('agents').values(values).returningAll().executeTakeFirstOrThrow();
        await insertVersion(trx, agent.id, 1, values.body, agent.createdAt);
        return toAgent(row);
      });
    },

    async getAgent(workspaceId, id) {
      const [row] = await agentById(db, workspaceId, id);
      return row ? toAgent(row) : null;
    },

    async getAgentVersion(workspaceId, id, version) {
      const [row] = await versionById(db, workspaceId, id, version);
      return row ? toAgentVersion(row) : null;
    },

    async updateAgent(workspaceId, id, expectedVersion, body, at) {
      return db.transaction().execute(async (trx) => {
        const current = await trx
          .selectFrom('agents')
          .select('version')
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .$if(dialect.rowLocks, (q) => q.forUpdate())
          .executeTakeFirst();
        if (!current) return null;
        if (current.version !== expectedVersion) {
          throw new StoreConflictError(`agent ${id} is at version ${current.version}, not ${expectedVersion}`);
        }
        const text = JSON.stringify(body);
        const version = expectedVersion + 1;
        await insertVersion(trx, id, version, text, at);
        const set = { version, body: text, updated_at: isoTimestamp(at) };
        return toAgent(await trx.updateTable('agents').set(set).where('id', '=', id).returningAll().executeTakeFirstOrThrow());
      });
    },

    async listAgents(workspaceId, query) {
      return listedPage(db.selectFrom('agents').selectAll().where('workspace_id', '=', workspaceId), query, toAgent);
    },

    async archiveAgent(workspaceId, id, at) {
      const archive = db.updateTable('agents').set(archiveSet(at)).where('workspace_id', '=', workspaceId).where('id', '=', id);
      const row = await archive.returningAll().executeTakeFirst();
      return row ? toAgent(row) : null;
    },
  };
}

async function insertVersion(trx: Kysely<DB>, agentId: string, version: number, body: string, at: string): Promise<void> {
  await trx.insertInto('agent_versions').values({ agent_id: agentId, version, body, created_at: isoTimestamp(at) }).execute();
}
