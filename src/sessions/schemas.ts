import { z } from 'zod';
import { sessionResourceParams } from '../files/session-resources.js';
import { singleLine, singleLineKeys } from '../text-rules.js';

/**
 * Request bodies for sessions and events, mirroring the client's
 * SessionCreateParams / SessionUpdateParams / EventSendParams. Objects are
 * strict: an unknown field is a 400 naming it, not silently dropped.
 */

const text = z.object({ type: z.literal('text'), text: z.string().min(1).max(1_000_000) }).strict();

const base64Image = z
  .object({
    type: z.literal('image'),
    source: z
      .object({
        type: z.literal('base64'),
        media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
        data: z.string().min(1),
      })
      .strict(),
  })
  .strict();

export const contentBlock = z.discriminatedUnion('type', [text, base64Image]);

export const userMessageParams = z
  .object({
    type: z.literal('user.message'),
    content: z.array(contentBlock).min(1, 'a message needs at least one content block').max(100),
  })
  .strict();

export const userInterruptParams = z
  .object({ type: z.literal('user.interrupt'), session_thread_id: singleLine(z.string()).nullable().optional() })
  .strict();

export const userToolConfirmationParams = z
  .object({
    type: z.literal('user.tool_confirmation'),
    tool_use_id: singleLine(z.string().min(1)),
    result: z.enum(['allow', 'deny']),
    deny_message: z.string().max(10_000).nullable().optional(),
    session_thread_id: singleLine(z.string()).nullable().optional(),
  })
  .strict();

const UNSUPPORTED_EVENTS = ['user.custom_tool_result', 'user.define_outcome', 'user.tool_result', 'system.message'] as const;

/** One event param. Types the client knows but agenthost does not run get a clear 400. */
export const eventParams = z.unknown().transform((value, ctx) => {
  const type = (value as { type?: unknown } | null)?.type;
  if ((UNSUPPORTED_EVENTS as readonly unknown[]).includes(type)) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `${String(type)} events are not supported by agenthost` });
    return z.NEVER;
  }
  const schema =
    type === 'user.message'
      ? userMessageParams
      : type === 'user.interrupt'
        ? userInterruptParams
        : type === 'user.tool_confirmation'
          ? userToolConfirmationParams
          : null;
  if (!schema) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'expected user.message, user.interrupt or user.tool_confirmation' });
    return z.NEVER;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message });
    return z.NEVER;
  }
  return parsed.data;
});

export type EventParams = z.infer<typeof userMessageParams> | z.infer<typeof userInterruptParams> | z.infer<typeof userToolConfirmationParams>;

export const sendEventsBody = z
  .object({ events: z.array(eventParams).min(1, 'send at least one event').max(100) })
  .strict();

const metadataKey = z.string().max(64);
const metadataValue = singleLine(z.string().max(512));
const metadata = singleLineKeys(z.record(metadataKey, metadataValue)).refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata keys');
const metadataPatch = singleLineKeys(z.record(metadataKey, metadataValue.nullable()))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata keys');

export const budgetParams = z
  .object({
    type: z.literal('limit'),
    max_list_cost: z
      .object({
        amount: z.string().regex(/^(0|[1-9][0-9]{0,12})$/, 'amount is an integer number of cents as a string, e.g. "2500" for $25.00'),
        currency: z.literal('USD').default('USD'),
      })
      .strict(),
  })
  .strict();

const agentRef = z.union([
  singleLine(z.string().min(1)),
  z.object({ type: z.literal('agent'), id: singleLine(z.string().min(1)), version: z.number().int().positive().optional() }).strict(),
]);

export const createSessionBody = z
  .object({
    agent: agentRef,
    environment_id: singleLine(z.string().min(1)),
    title: singleLine(z.string().max(500)).nullable().optional(),
    metadata: metadata.optional(),
    budget: budgetParams.optional(),
    initial_events: z.array(userMessageParams).max(100).optional(),
    resources: z.array(sessionResourceParams).max(100).optional(),
    vault_ids: z.array(z.string()).max(0, 'vaults are not supported by agenthost').optional(),
  })
  .strict();

export const updateSessionBody = z
  .object({
    title: singleLine(z.string().max(500)).nullable().optional(),
    metadata: metadataPatch.nullable().optional(),
    budget: budgetParams.nullable().optional(),
    vault_ids: z.array(z.string()).max(0, 'vaults are not supported by agenthost').optional(),
  })
  .strict();

export const sessionListQuery = z.object({
  agent_id: z.string().optional(),
  agent_version: z.coerce.number().int().positive().optional(),
});

export const SESSION_STATUSES = ['idle', 'running', 'rescheduling', 'terminated'] as const;
