import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.js';
import type { JsonObject, Store, UsageSummary } from '../store/store.js';
import type { Metrics } from '../ops/metrics.js';

const limit = z.number().finite().min(0).nullable();

/** `POST /v1/workspace/budget`: a field left out keeps its value; null removes that limit. */
export const budgetBody = z.object({ daily_usd: limit.optional(), total_usd: limit.optional() }).strict();

/** Midnight UTC of `now`'s day: daily budgets count from here. */
export function dayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

const dollars = (usd: number) => `$${usd.toFixed(usd < 1 ? 4 : 2)}`;

/**
 * Workspace budgets (an agenthost extension): a daily limit (the UTC day)
 * and a total limit on what a workspace spends, in USD of tokens and sandbox
 * time. Once either is spent, new turns are refused; a running turn finishes.
 */
export class BudgetService {
  private readonly now: () => Date;

  constructor(private readonly o: { store: Store; metrics: Metrics; now?: () => Date; onRefused?: (workspaceId: string, reason: string) => void }) {
    this.now = o.now ?? (() => new Date());
  }

  async get(workspaceId: string): Promise<JsonObject> {
    const now = this.now();
    const [budget, today, total] = await Promise.all([
      this.o.store.getWorkspaceBudget(workspaceId),
      this.o.store.usageTotal(workspaceId, dayStart(now).toISOString()),
      this.o.store.usageTotal(workspaceId),
    ]);
    return {
      type: 'workspace_budget',
      daily_usd: budget?.dailyUsd ?? null,
      total_usd: budget?.totalUsd ?? null,
      spent: { today_usd: round(today), total_usd: round(total) },
      day_started_at: dayStart(now).toISOString(),
      updated_at: budget?.updatedAt ?? null,
    };
  }

  async set(workspaceId: string, input: unknown): Promise<JsonObject> {
    const patch = budgetBody.parse(input ?? {});
    const current = await this.o.store.getWorkspaceBudget(workspaceId);
    await this.o.store.setWorkspaceBudget({
      workspaceId,
      dailyUsd: patch.daily_usd !== undefined ? patch.daily_usd : (current?.dailyUsd ?? null),
      totalUsd: patch.total_usd !== undefined ? patch.total_usd : (current?.totalUsd ?? null),
      updatedAt: this.now().toISOString(),
    });
    return this.get(workspaceId);
  }

  /** Why the workspace may not start a turn now, or null. */
  async refusal(workspaceId: string): Promise<string | null> {
    const budget = await this.o.store.getWorkspaceBudget(workspaceId);
    if (!budget || (budget.dailyUsd === null && budget.totalUsd === null)) return null;
    if (budget.totalUsd !== null) {
      const total = await this.o.store.usageTotal(workspaceId);
      if (total >= budget.totalUsd) {
        return `this workspace has spent ${dollars(total)} of its total budget of ${dollars(budget.totalUsd)}; new turns are refused until POST /v1/workspace/budget raises total_usd`;
      }
    }
    if (budget.dailyUsd !== null) {
      const today = await this.o.store.usageTotal(workspaceId, dayStart(this.now()).toISOString());
      if (today >= budget.dailyUsd) {
        return `this workspace has spent ${dollars(today)} today (UTC) of its daily budget of ${dollars(budget.dailyUsd)}; new turns are refused until 00:00 UTC or until POST /v1/workspace/budget raises daily_usd`;
      }
    }
    return null;
  }

  /** Throws the API's error when the workspace's budget is spent. */
  async check(workspaceId: string): Promise<void> {
    const reason = await this.refusal(workspaceId);
    if (!reason) return;
    this.o.metrics.limited({ limit: 'budget' });
    this.o.onRefused?.(workspaceId, reason);
    throw new AppError(ErrorCode.invalidRequest, `workspace budget reached: ${reason}`, { error_code: 'workspace_budget_exceeded' });
  }

  /** The workspace's usage by kind and name since `since` (ever, without it). */
  async usage(workspaceId: string, since?: string): Promise<JsonObject> {
    const rows = await this.o.store.usageReport({ workspaceId, ...(since ? { since } : {}) });
    return { type: 'workspace_usage', since: since ?? null, total_usd: round(rows.reduce((sum, r) => sum + r.usd, 0)), data: rows.map(renderSummary) };
  }
}

function renderSummary(r: UsageSummary): JsonObject {
  return {
    kind: r.kind,
    name: r.name,
    records: r.records,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_creation_input_tokens: r.cacheCreationInputTokens,
    cache_read_input_tokens: r.cacheReadInputTokens,
    sandbox_seconds: Math.round(r.sandboxSeconds * 1000) / 1000,
    usd: round(r.usd),
  };
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
