/**
 * Workspace usage per day, from what the public API gives every client: each
 * session's `span.model_request_end` events (tokens, with the time of the
 * request) and its cost when the server reports one (`runtime.cost`). A
 * session's cost is spread over the days of its tokens in proportion to them;
 * a session with cost but no tokens counts on the day it was created.
 */

export interface SpanUsage {
  processed_at: string;
  model_usage?: {
    input_tokens?: number | null;
    output_tokens?: number | null;
    cache_creation_input_tokens?: number | null;
    cache_read_input_tokens?: number | null;
  } | null;
}

export interface SessionUsageInput {
  id: string;
  created_at: string;
  /** `runtime.cost.total_usd`, when the server prices sessions. */
  costUsd: number | undefined;
  spans: readonly SpanUsage[];
}

export interface DayUsage {
  /** YYYY-MM-DD (UTC). */
  day: string;
  input: number;
  output: number;
  /** Dollars, or undefined when no session of the day has a cost. */
  usd: number | undefined;
}

export const dayOf = (iso: string): string => new Date(iso).toISOString().slice(0, 10);

function spanTokens(s: SpanUsage): { input: number; output: number } {
  const u = s.model_usage ?? {};
  return {
    input: (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0),
    output: u.output_tokens ?? 0,
  };
}

/** The last `days` UTC days up to `today`, oldest first, every day present (zeros included). */
export function usagePerDay(sessions: readonly SessionUsageInput[], days: number, today: Date = new Date()): DayUsage[] {
  const out = new Map<string, DayUsage>();
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(end - i * 86_400_000).toISOString().slice(0, 10);
    out.set(day, { day, input: 0, output: 0, usd: undefined });
  }
  for (const s of sessions) {
    const perDay = new Map<string, number>();
    let total = 0;
    for (const span of s.spans) {
      const { input, output } = spanTokens(span);
      const day = out.get(dayOf(span.processed_at));
      if (day) {
        day.input += input;
        day.output += output;
      }
      perDay.set(dayOf(span.processed_at), (perDay.get(dayOf(span.processed_at)) ?? 0) + input + output);
      total += input + output;
    }
    if (s.costUsd === undefined) continue;
    if (total === 0) perDay.set(dayOf(s.created_at), 1);
    const weight = total === 0 ? 1 : total;
    for (const [dayKey, n] of perDay) {
      const day = out.get(dayKey);
      if (day) day.usd = (day.usd ?? 0) + (s.costUsd * n) / weight;
    }
  }
  return [...out.values()];
}

/** "Nice" upper bound and tick step for a chart axis that must reach `max`. */
export function niceScale(max: number, ticks = 4): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 / ticks };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: step * Math.ceil(max / step), step };
}
