import { sessionCost } from '../ops/cost.js';
import { shownRuntime, usageOf } from './session-body.js';
import type { EventRecord, JsonObject, SessionRecord } from '../store/store.js';

/** A session as the API shows it (BetaManagedAgentsSession plus the `runtime` extension). */
export function renderSession(s: SessionRecord, now: Date = new Date()): JsonObject {
  const usage = usageOf(s.body);
  const started = Date.parse(s.createdAt);
  const ended = s.archivedAt ? Date.parse(s.archivedAt) : now.getTime();
  return {
    id: s.id,
    type: 'session',
    agent: s.body.agent ?? null,
    archived_at: s.archivedAt,
    budget: s.body.budget ?? null,
    created_at: s.createdAt,
    environment_id: s.environmentId,
    metadata: s.body.metadata ?? {},
    outcome_evaluations: [],
    resources: Array.isArray(s.body.resources) ? s.body.resources : [],
    stats: { duration_seconds: Math.max(0, Math.round((ended - started) / 1000)) },
    status: s.status,
    title: s.body.title ?? null,
    updated_at: s.updatedAt,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      cache_creation: { ephemeral_5m_input_tokens: usage.cache_creation_input_tokens },
    },
    vault_ids: [],
    runtime: shownRuntime(s.body, sessionCost(s.body, now)),
  };
}

export function renderEvent(e: EventRecord): JsonObject {
  return e.body;
}
