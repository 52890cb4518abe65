import type { JsonObject, TriggerRecord } from '../store/store.js';

/** The path of a webhook trigger's public URL, below the server's base URL. */
export const hookPath = (triggerId: string): string => `/hooks/${triggerId}`;

/**
 * A trigger as the API shows it. `secret` is passed only when rendering the
 * create response: it is never shown again.
 */
export function renderTrigger(t: TriggerRecord, options: { baseUrl: string; secret?: string }): JsonObject {
  const common: JsonObject = {
    id: t.id,
    type: 'trigger',
    kind: t.kind,
    session_id: t.sessionId,
    enabled: t.disabledAt === null,
    disabled_reason: t.disabledReason,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    last_fired_at: t.lastFiredAt,
  };
  if (t.kind === 'cron') {
    return { ...common, schedule: t.body.schedule ?? null, timezone: t.body.timezone ?? null, message: t.body.message ?? null, next_fire_at: t.nextFireAt };
  }
  return {
    ...common,
    message_template: t.body.message_template ?? null,
    url: `${options.baseUrl}${hookPath(t.id)}`,
    ...(options.secret !== undefined ? { secret: options.secret } : {}),
    next_fire_at: null,
  };
}
