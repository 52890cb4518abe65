import type { Logger } from '../logger.js';
import type { SessionRef } from '../sessions/event-log.js';
import { internalOf, runtimeOf, withInternal, withRuntime, type SandboxClock } from '../sessions/session-body.js';
import type { JsonObject, Store } from '../store/store.js';
import type { Metrics, TokenUsage } from './metrics.js';
import type { PriceTable } from './pricing.js';

export type { SandboxClock };

/**
 * Prices what sessions consume and records it per workspace (the usage
 * records budgets and `agenthost usage` read). The engine keeps each
 * session's running total in its body; see `sessionCost` for how it shows.
 */
export class CostMeter {
  constructor(private readonly o: { store: Store; prices: PriceTable; metrics: Metrics; log: Logger; now?: () => Date }) {}

  /** Records one model request's tokens; returns their cost, USD. */
  async tokens(ref: SessionRef, model: string | undefined, u: TokenUsage): Promise<number> {
    const name = model ?? 'unknown';
    const usd = this.o.prices.tokensUsd(name, u);
    await this.o.store.recordUsage({
      workspaceId: ref.workspaceId,
      sessionId: ref.id,
      kind: 'tokens',
      name,
      inputTokens: u.input_tokens,
      outputTokens: u.output_tokens,
      cacheCreationInputTokens: u.cache_creation_input_tokens,
      cacheReadInputTokens: u.cache_read_input_tokens,
      sandboxSeconds: 0,
      usd,
      at: this.now(),
    });
    this.o.metrics.cost({ kind: 'tokens', usd });
    return usd;
  }

  /** Records a stretch of sandbox time; returns its cost, USD. */
  async sandbox(ref: SessionRef, provider: string, seconds: number): Promise<number> {
    const usd = this.o.prices.sandboxUsd(provider, seconds);
    await this.o.store.recordUsage({
      workspaceId: ref.workspaceId,
      sessionId: ref.id,
      kind: 'sandbox',
      name: provider,
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
      sandboxSeconds: seconds,
      usd,
      at: this.now(),
    });
    this.o.metrics.cost({ kind: 'sandbox', usd });
    return usd;
  }

  sandboxUsdPerHour(provider: string): number {
    return this.o.prices.sandboxUsdPerHour(provider);
  }

  private now(): string {
    return (this.o.now?.() ?? new Date()).toISOString();
  }
}

const round = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/**
 * Adds recorded cost to a session body (`runtime.cost`); `clock`, when given,
 * is the live sandbox's time not yet recorded (`internal.sandbox_clock`), so
 * a session read mid-life shows its sandbox time up to now.
 */
export function addCost(body: JsonObject, add: { tokens_usd?: number; sandbox_usd?: number }, clock?: SandboxClock | null): JsonObject {
  const cost = runtimeOf(body).cost;
  const next = withRuntime(body, {
    cost: { tokens_usd: (cost?.tokens_usd ?? 0) + (add.tokens_usd ?? 0), sandbox_usd: (cost?.sandbox_usd ?? 0) + (add.sandbox_usd ?? 0) },
  });
  return clock === undefined ? next : withInternal(next, { sandbox_clock: clock });
}

/** `runtime.cost` as the API shows it, including a live sandbox's time up to `now`. */
export function sessionCost(body: JsonObject, now: Date): { tokens_usd: number; sandbox_usd: number; total_usd: number } {
  const cost = runtimeOf(body).cost;
  const tokens = cost?.tokens_usd ?? 0;
  let sandbox = cost?.sandbox_usd ?? 0;
  const clock = internalOf(body).sandbox_clock;
  if (clock) sandbox += (Math.max(0, now.getTime() - Date.parse(clock.since)) / 3_600_000) * clock.usd_per_hour;
  return { tokens_usd: round(tokens), sandbox_usd: round(sandbox), total_usd: round(tokens + sandbox) };
}
