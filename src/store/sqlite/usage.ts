/** The SQLite side of the usage and budget members of the Store (see store.ts). */
import { isoTimestamp } from '../query.js';
import type { UsageRecord, UsageSummary, WorkspaceBudget } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface SummaryRow {
  workspace_id: string;
  workspace_name: string;
  kind: 'tokens' | 'sandbox';
  name: string;
  records: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  sandbox_seconds: number;
  usd: number;
}

interface BudgetRow {
  workspace_id: string;
  daily_usd: number | null;
  total_usd: number | null;
  updated_at: string;
}

const toBudget = (r: BudgetRow): WorkspaceBudget => ({ workspaceId: r.workspace_id, dailyUsd: r.daily_usd, totalUsd: r.total_usd, updatedAt: r.updated_at });

export function recordUsage(c: SqliteConnection, u: UsageRecord): void {
  c.write(() =>
    c.run(
      `INSERT INTO usage_records (workspace_id, session_id, kind, name, input_tokens, output_tokens, cache_creation_input_tokens,
         cache_read_input_tokens, sandbox_seconds, usd, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      u.workspaceId, u.sessionId, u.kind, u.name, u.inputTokens, u.outputTokens, u.cacheCreationInputTokens,
      u.cacheReadInputTokens, u.sandboxSeconds, u.usd, isoTimestamp(u.at),
    ),
  );
}

export function usageTotal(c: SqliteConnection, workspaceId: string, since?: string): number {
  const row = since === undefined
    ? c.get<{ usd: number }>('SELECT COALESCE(SUM(usd), 0) AS usd FROM usage_records WHERE workspace_id = ?', workspaceId)
    : c.get<{ usd: number }>('SELECT COALESCE(SUM(usd), 0) AS usd FROM usage_records WHERE workspace_id = ? AND at >= ?', workspaceId, isoTimestamp(since));
  return row?.usd ?? 0;
}

export function usageReport(c: SqliteConnection, query: { workspaceId?: string; since?: string }): UsageSummary[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.workspaceId !== undefined) {
    where.push('u.workspace_id = ?');
    params.push(query.workspaceId);
  }
  if (query.since !== undefined) {
    where.push('u.at >= ?');
    params.push(isoTimestamp(query.since));
  }
  const rows = c.all<SummaryRow>(
    `SELECT u.workspace_id, w.name AS workspace_name, u.kind, u.name, COUNT(*) AS records,
       SUM(u.input_tokens) AS input_tokens, SUM(u.output_tokens) AS output_tokens,
       SUM(u.cache_creation_input_tokens) AS cache_creation_input_tokens, SUM(u.cache_read_input_tokens) AS cache_read_input_tokens,
       SUM(u.sandbox_seconds) AS sandbox_seconds, SUM(u.usd) AS usd
     FROM usage_records u JOIN workspaces w ON w.id = u.workspace_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     GROUP BY u.workspace_id, w.name, u.kind, u.name
     ORDER BY w.name, u.kind, u.name`,
    ...params,
  );
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
}

export function getWorkspaceBudget(c: SqliteConnection, workspaceId: string): WorkspaceBudget | null {
  const row = c.get<BudgetRow>('SELECT * FROM workspace_budgets WHERE workspace_id = ?', workspaceId);
  return row ? toBudget(row) : null;
}

export function setWorkspaceBudget(c: SqliteConnection, b: WorkspaceBudget): WorkspaceBudget {
  const row = c.write(() =>
    c.get<BudgetRow>(
      `INSERT INTO workspace_budgets (workspace_id, daily_usd, total_usd, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (workspace_id) DO UPDATE SET daily_usd = excluded.daily_usd, total_usd = excluded.total_usd, updated_at = excluded.updated_at
       RETURNING *`,
      b.workspaceId, b.dailyUsd, b.totalUsd, isoTimestamp(b.updatedAt),
    ),
  );
  return toBudget(row!);
}
