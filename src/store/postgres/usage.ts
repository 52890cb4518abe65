/** The PostgreSQL side of the usage and budget members of the Store (see store.ts). */
import { isoTimestamp } from '../query.js';
import type { UsageRecord, UsageSummary, WorkspaceBudget } from '../store.js';
import type { PgConnection } from './connection.js';

/** BIGINT sums arrive as strings, DOUBLE PRECISION as numbers, TIMESTAMPTZ as a Date. */
interface SummaryRow {
  workspace_id: string;
  workspace_name: string;
  kind: 'tokens' | 'sandbox';
  name: string;
  records: string;
  input_tokens: string;
  output_tokens: string;
  cache_creation_input_tokens: string;
  cache_read_input_tokens: string;
  sandbox_seconds: number;
  usd: number;
}

interface BudgetRow {
  workspace_id: string;
  daily_usd: number | null;
  total_usd: number | null;
  updated_at: Date;
}

const toBudget = (r: BudgetRow): WorkspaceBudget => ({
  workspaceId: r.workspace_id,
  dailyUsd: r.daily_usd,
  totalUsd: r.total_usd,
  updatedAt: r.updated_at.toISOString(),
});

export async function recordUsage(c: PgConnection, u: UsageRecord): Promise<void> {
  await c.query(
    `INSERT INTO usage_records (workspace_id, session_id, kind, name, input_tokens, output_tokens, cache_creation_input_tokens,
       cache_read_input_tokens, sandbox_seconds, usd, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [u.workspaceId, u.sessionId, u.kind, u.name, u.inputTokens, u.outputTokens, u.cacheCreationInputTokens, u.cacheReadInputTokens, u.sandboxSeconds, u.usd, isoTimestamp(u.at)],
  );
}

export async function usageTotal(c: PgConnection, workspaceId: string, since?: string): Promise<number> {
  const [row] = since === undefined
    ? await c.query<{ usd: number }>('SELECT COALESCE(SUM(usd), 0)::float8 AS usd FROM usage_records WHERE workspace_id = $1', [workspaceId])
    : await c.query<{ usd: number }>('SELECT COALESCE(SUM(usd), 0)::float8 AS usd FROM usage_records WHERE workspace_id = $1 AND at >= $2', [workspaceId, isoTimestamp(since)]);
  return row?.usd ?? 0;
}

export async function usageReport(c: PgConnection, query: { workspaceId?: string; since?: string }): Promise<UsageSummary[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.workspaceId !== undefined) {
    params.push(query.workspaceId);
    where.push(`u.workspace_id = $${params.length}`);
  }
  if (query.since !== undefined) {
    params.push(isoTimestamp(query.since));
    where.push(`u.at >= $${params.length}`);
  }
  const rows = await c.query<SummaryRow>(
    `SELECT u.workspace_id, w.name AS workspace_name, u.kind, u.name, COUNT(*) AS records,
       SUM(u.input_tokens) AS input_tokens, SUM(u.output_tokens) AS output_tokens,
       SUM(u.cache_creation_input_tokens) AS cache_creation_input_tokens, SUM(u.cache_read_input_tokens) AS cache_read_input_tokens,
       SUM(u.sandbox_seconds)::float8 AS sandbox_seconds, SUM(u.usd)::float8 AS usd
     FROM usage_records u JOIN workspaces w ON w.id = u.workspace_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     GROUP BY u.workspace_id, w.name, u.kind, u.name
     ORDER BY w.name, u.kind, u.name`,
    params,
  );
  return rows.map((r) => ({
    workspaceId: r.workspace_id,
    workspaceName: r.workspace_name,
    kind: r.kind,
    name: r.name,
    records: Number(r.records),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cacheCreationInputTokens: Number(r.cache_creation_input_tokens),
    cacheReadInputTokens: Number(r.cache_read_input_tokens),
    sandboxSeconds: r.sandbox_seconds,
    usd: r.usd,
  }));
}

export async function getWorkspaceBudget(c: PgConnection, workspaceId: string): Promise<WorkspaceBudget | null> {
  const [row] = await c.query<BudgetRow>('SELECT * FROM workspace_budgets WHERE workspace_id = $1', [workspaceId]);
  return row ? toBudget(row) : null;
}

export async function setWorkspaceBudget(c: PgConnection, b: WorkspaceBudget): Promise<WorkspaceBudget> {
  const [row] = await c.query<BudgetRow>(
    `INSERT INTO workspace_budgets (workspace_id, daily_usd, total_usd, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workspace_id) DO UPDATE SET daily_usd = EXCLUDED.daily_usd, total_usd = EXCLUDED.total_usd, updated_at = EXCLUDED.updated_at
     RETURNING *`,
    [b.workspaceId, b.dailyUsd, b.totalUsd, isoTimestamp(b.updatedAt)],
  );
  return toBudget(row!);
}
