/** Usage records (priced consumption) and workspace budgets (agenthost extensions). */
import type { Generated, Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import { isoTimestamp } from '../query.js';
import type { Store, UsageRecord, WorkspaceBudget } from '../store.js';

export interface UsageTables {
  /** session_id is deliberately not a foreign key: spending outlives a deleted session. */
  usage_records: {
    seq: Generated<number>;
    workspace_id: string;
    session_id: string;
    kind: UsageRecord['kind'];
    name: string;
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
    sandbox_seconds: number;
    usd: number;
    at: string;
  };
  workspace_budgets: { workspace_id: string; daily_usd: number | null; total_usd: number | null; updated_at: string };
}

const toBudget = (r: Selectable<UsageTables['workspace_budgets']>): WorkspaceBudget => ({
  workspaceId: r.workspace_id,
  dailyUsd: r.daily_usd,
  totalUsd: r.total_usd,
  updatedAt: r.updated_at,
});

export function usage({ db, dialect }: StoreContext): Pick<Store, 'recordUsage' | 'usageTotal' | 'usageReport' | 'getWorkspaceBudget' | 'setWorkspaceBudget'> {
  return {
    async recordUsage(u) {
      await db
        .insertInto('usage_records')
        .values({
          workspace_id: u.workspaceId,
          session_id: u.sessionId,
          kind: u.kind,
          name: u.name,
          input_tokens: u.inputTokens,
          output_tokens: u.outputTokens,
          cache_creation_input_tokens: u.cacheCreationInputTokens,
          cache_read_input_tokens: u.cacheReadInputTokens,
          sandbox_seconds: u.sandboxSeconds,
          usd: u.usd,
          at: isoTimestamp(u.at),
        })
        .execute();
    },

    async usageTotal(workspaceId, since) {
      const row = await db
        .selectFrom('usage_records')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('usd'), eb.lit(0)).as('usd'))
        .where('workspace_id', '=', workspaceId)
        .$if(since !== undefined, (q) => q.where('at', '>=', isoTimestamp(since!)))
        .executeTakeFirst();
      return Number(row?.usd ?? 0);
    },

    async usageReport(query) {
      const rows = await db
        .selectFrom('usage_records as u')
        .innerJoin('workspaces as w', 'w.id', 'u.workspace_id')
        .select(({ fn }) => [
          'u.workspace_id',
          'w.name as workspace_name',
          'u.kind',
          'u.name',
          fn.countAll<number>().as('records'),
          fn.sum<number>('u.input_tokens').as('input_tokens'),
          fn.sum<number>('u.output_tokens').as('output_tokens'),
          fn.sum<number>('u.cache_creation_input_tokens').as('cache_creation_input_tokens'),
          fn.sum<number>('u.cache_read_input_tokens').as('cache_read_input_tokens'),
          fn.sum<number>('u.sandbox_seconds').as('sandbox_seconds'),
          fn.sum<number>('u.usd').as('usd'),
        ])
        .$if(query.workspaceId !== undefined, (q) => q.where('u.workspace_id', '=', query.workspaceId!))
        .$if(query.since !== undefined, (q) => q.where('u.at', '>=', isoTimestamp(query.since!)))
        .groupBy(['u.workspace_id', 'w.name', 'u.kind', 'u.name'])
        .orderBy(dialect.byteOrder('w.name'))
        .orderBy('u.kind')
        .orderBy('u.name')
        .execute();
      return rows.map((r) => ({
        workspaceId: r.workspace_id,
        workspaceName: r.workspace_name,
        kind: r.kind,
        name: r.name,
        records: r.records,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        cacheCreationInputTokens: r.cache_creation_input_tokens,
        cacheReadInputTokens: r.cache_read_input_tokens,
        sandboxSeconds: r.sandbox_seconds,
        usd: r.usd,
      }));
    },

    async getWorkspaceBudget(workspaceId) {
      const row = await db.selectFrom('workspace_budgets').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
      return row ? toBudget(row) : null;
    },

    async setWorkspaceBudget(b) {
      const row = await db
        .insertInto('workspace_budgets')
        .values({ workspace_id: b.workspaceId, daily_usd: b.dailyUsd, total_usd: b.totalUsd, updated_at: isoTimestamp(b.updatedAt) })
        .onConflict((oc) =>
          oc.column('workspace_id').doUpdateSet((eb) => ({
            daily_usd: eb.ref('excluded.daily_usd'),
            total_usd: eb.ref('excluded.total_usd'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return toBudget(row);
    },
  };
}
