import type { Json, JsonObject, TriggerRecord } from '../store/store.js';

/**
 * What a fire sends. Every trigger message starts with one line that says it
 * came from a trigger, so the agent (and anyone reading the log) can tell it
 * from a person's message:
 *
 *   [trigger trg_…: cron "0 9 * * 1-5" (Europe/Berlin) fired at 2025-01-06T08:00:00.000Z]
 *   [trigger trg_…: webhook delivery received at 2025-01-01T00:05:00.000Z]
 *
 * A text message follows on the next line of the same text block; a message
 * given as content blocks follows as those blocks.
 */

export const BODY_PLACEHOLDER = '{{body}}';
export const DEFAULT_TEMPLATE = `Webhook received:\n${BODY_PLACEHOLDER}`;

export function triggerHeader(trigger: TriggerRecord, at: Date): string {
  if (trigger.kind === 'cron') {
    const { schedule, timezone } = trigger.body as { schedule: string; timezone: string };
    return `[trigger ${trigger.id}: cron ${JSON.stringify(schedule)} (${timezone}) fired at ${at.toISOString()}]`;
  }
  return `[trigger ${trigger.id}: webhook delivery received at ${at.toISOString()}]`;
}

/** The content of the user.message a cron trigger sends. */
export function cronContent(trigger: TriggerRecord, at: Date): Json[] {
  const header = triggerHeader(trigger, at);
  const message = trigger.body.message as string | JsonObject[];
  if (typeof message === 'string') return [{ type: 'text', text: `${header}\n${message}` }];
  return [{ type: 'text', text: header }, ...message];
}

/** The content of the user.message a webhook delivery sends: the template with `{{body}}` replaced. */
export function webhookContent(trigger: TriggerRecord, at: Date, body: string): Json[] {
  const template = (trigger.body.message_template as string | undefined) ?? DEFAULT_TEMPLATE;
  return [{ type: 'text', text: `${triggerHeader(trigger, at)}\n${template.split(BODY_PLACEHOLDER).join(body)}` }];
}
