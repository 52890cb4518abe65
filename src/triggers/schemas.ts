import { z } from 'zod';
import { userMessageParams } from '../sessions/schemas.js';
import { singleLine } from '../text-rules.js';

/**
 * Request bodies of the trigger API (an agenthost extension). Objects are
 * strict, as elsewhere: an unknown field is a 400 naming it.
 */

/** A user.message's content: text, or the content blocks a user.message takes. */
const message = z.union([z.string().min(1).max(100_000), userMessageParams.shape.content], {
  error: (issue) => (issue.input === undefined ? 'required: text, or an array of content blocks' : 'expected text, or an array of content blocks'),
});

export const createCronTriggerBody = z
  .object({
    type: z.literal('cron'),
    schedule: singleLine(z.string().min(1).max(200)),
    timezone: singleLine(z.string().min(1).max(100)).optional(),
    message,
  })
  .strict();

export const createWebhookTriggerBody = z
  .object({
    type: z.literal('webhook'),
    message_template: z.string().min(1).max(100_000).optional(),
  })
  .strict();

export const createTriggerBody = z.discriminatedUnion('type', [createCronTriggerBody, createWebhookTriggerBody]);

export type CreateTriggerBody = z.infer<typeof createTriggerBody>;
