import type { SessionKey } from '@anthropic-ai/claude-agent-sdk';
import type { LifecyclePattern } from '../resources/environment-schema.js';
import type { JsonObject } from '../store/store.js';

/**
 * The parts of a session body (`SessionRecord.body`) the server writes as
 * the session runs, typed. The rest is the API's (agent snapshot, title,
 * metadata, budget, resources). Every read and write of these parts goes
 * through this file: it is the one place that trusts the stored JSON.
 */

/** `standby`: a warm sandbox is the session's, and its first message has not arrived yet. */
export type SandboxState = 'standby' | 'starting' | 'live' | 'hibernated' | 'destroyed';

/** `runtime`, an agenthost extension the API shows on the session. */
export interface SessionRuntime {
  sandbox_state: SandboxState;
  provider: string;
  pattern: LifecyclePattern;
  /** The Claude Code version the session's process announced. */
  cli_version: string | null;
  /** Whether the sandbox the session runs in came from a warm pool. */
  warm_start: boolean;
  hibernated_at: string;
  /** Cost recorded so far; a live sandbox's time since `internal.sandbox_clock` is added when shown. */
  cost: RecordedCost;
}

export interface RecordedCost {
  tokens_usd: number;
  sandbox_usd: number;
}

/** A live sandbox's time not yet recorded as cost: since when, at what price. */
export interface SandboxClock {
  since: string;
  usd_per_hour: number;
}

/** `internal`: what the server keeps about a session and never shows. */
export interface SessionInternal {
  /** The Claude Code conversation the session resumes. */
  claude_session_id: string;
  /** Claude Code's own count of the session's cost (USD), which its budget is checked against. */
  cost_usd: number;
  /** A message or confirmation was committed since recovery last looked (see redeliver.ts). */
  input_committed: boolean;
  /** The last seq a restart may have kept from Claude Code; the next turn redelivers up to it. */
  redeliver_through: number;
  /** Transcripts whose copy in the store misses lines the local file has. */
  transcript_gaps: SessionKey[];
  /** When the session's file resources were placed in its workspace (its first start). */
  resources_mounted_at: string;
  sandbox_clock: SandboxClock | null;
}

/** Token counts as the session body keeps them (`usage`). */
export interface SessionUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** The session's `runtime`; fields it has not had yet are absent. */
export function runtimeOf(body: JsonObject): Partial<SessionRuntime> {
  return (body.runtime ?? {}) as unknown as Partial<SessionRuntime>;
}

/**
 * `runtime` as the API shows it, with `cost` as given (`sessionCost`, which
 * counts a live sandbox's time up to now); null for a session without one.
 */
export function shownRuntime(body: JsonObject, cost: JsonObject): JsonObject | null {
  const runtime = body.runtime;
  return runtime && typeof runtime === 'object' && !Array.isArray(runtime) ? { ...runtime, cost } : null;
}

export function internalOf(body: JsonObject): Partial<SessionInternal> {
  return (body.internal ?? {}) as unknown as Partial<SessionInternal>;
}

/** The body with `patch` over its runtime fields; an undefined value removes the field. */
export function withRuntime(body: JsonObject, patch: Patch<SessionRuntime>): JsonObject {
  return { ...body, runtime: patched(runtimeOf(body), patch) };
}

/** The body with `patch` over its internal fields; an undefined value removes the field. */
export function withInternal(body: JsonObject, patch: Patch<SessionInternal>): JsonObject {
  return { ...body, internal: patched(internalOf(body), patch) };
}

/** The session's token counts; zero for those it has none of. */
export function usageOf(body: JsonObject): SessionUsage {
  const usage = (body.usage ?? {}) as Partial<Record<keyof SessionUsage, unknown>>;
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return {
    input_tokens: n(usage.input_tokens),
    output_tokens: n(usage.output_tokens),
    cache_read_input_tokens: n(usage.cache_read_input_tokens),
    cache_creation_input_tokens: n(usage.cache_creation_input_tokens),
  };
}

/** The body with `add` counted into its usage. */
export function withUsageAdded(body: JsonObject, add: SessionUsage): JsonObject {
  const u = usageOf(body);
  const usage: SessionUsage = {
    input_tokens: u.input_tokens + add.input_tokens,
    output_tokens: u.output_tokens + add.output_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens + add.cache_read_input_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens + add.cache_creation_input_tokens,
  };
  return { ...body, usage: { ...(body.usage as JsonObject | undefined), ...usage } };
}

/** The agent snapshot a session runs (`BetaManagedAgentsSessionAgent`), the parts the server reads. */
export interface SessionAgent {
  id: string;
  version: number;
  /** A model id, or a model config (`{ id, speed? }`). */
  model: string | { id?: unknown } | null;
  system: string | null;
  tools: unknown;
  mcp_servers: Array<{ url?: unknown }> | null;
}

export function agentOf(body: JsonObject): SessionAgent {
  return body.agent as unknown as SessionAgent;
}

/** The model id the session's agent names, if it names one. */
export function agentModelId(agent: SessionAgent): string | undefined {
  const model = agent.model;
  if (typeof model === 'string') return model;
  if (model && typeof model === 'object' && typeof model.id === 'string') return model.id;
  return undefined;
}

/** The session's budget: a cap on its list cost, in cents as a decimal string. */
export function budgetCentsOf(body: JsonObject): string | undefined {
  const amount = (body.budget as { max_list_cost?: { amount?: unknown } } | null | undefined)?.max_list_cost?.amount;
  return typeof amount === 'string' ? amount : undefined;
}

type Patch<T> = { [K in keyof T]?: T[K] | undefined };

function patched<T>(current: Partial<T>, patch: Patch<T>): JsonObject {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as JsonObject;
}
