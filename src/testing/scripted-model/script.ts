/**
 * The script a scripted model plays, and the rule that picks a step for a request.
 *
 * Script file (JSON): either an array of steps or `{ "steps": [...] }`. A step:
 *
 *   {
 *     "match": "substring",          // optional: last user message text must contain it
 *     "when": "tools" | "no_tools",  // optional: request has (or has no) `tools`
 *     "repeat": true,                // optional: never consumed; answers every matching request
 *     "delayMs": 200,                // optional: wait before answering
 *     "chunkDelayMs": 20,            // optional: wait between SSE events when streaming
 *     "usage": { "input_tokens": 10, "output_tokens": 5,
 *                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 },
 *     "stop_reason": "end_turn",     // optional: defaults to tool_use when a tool_use block is present
 *
 *     // the reply: shorthands (emitted in this order: thinking, text, tool_use) ...
 *     "thinking": "I should ...",
 *     "text": "Hello" | ["Hel", "lo"],            // an array streams one text_delta per element
 *     "tool_use": { "name": "Bash", "input": { "command": "ls" }, "id": "toolu_optional" },
 *     // ... or explicit blocks
 *     "content": [ { "type": "thinking", "thinking": "...", "signature": "sig" },
 *                  { "type": "text", "text": ["a", "b"] },
 *                  { "type": "tool_use", "name": "Read", "input": {} } ],
 *     // ... or an error response instead of a message
 *     "error": { "status": 429, "type": "rate_limit_error", "message": "slow down", "retryAfterMs": 10 }
 *   }
 *
 * Matching rule: only the step at the cursor (the first unconsumed one) is a
 * candidate. A POST /v1/messages request that satisfies its `match` and `when`
 * takes it, and the cursor advances unless the step has `repeat`. Any other
 * request (a side request such as title generation, or anything after the
 * script ran out) gets a short default text reply and consumes nothing. A
 * step with neither `match` nor `when` takes whatever request comes next, so
 * scripts for the Claude Code CLI should say `"when": "tools"` on each step:
 * the CLI's main-loop requests carry tools, its side requests do not.
 */
import { z } from 'zod';

const usageSchema = z
  .object({
    input_tokens: z.number().int().nonnegative(),
    output_tokens: z.number().int().nonnegative(),
    cache_creation_input_tokens: z.number().int().nonnegative(),
    cache_read_input_tokens: z.number().int().nonnegative(),
  })
  .partial()
  .strict();

const textSchema = z.union([z.string(), z.array(z.string()).min(1)]);

const toolUseSchema = z
  .object({
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()).default({}),
    id: z.string().min(1).optional(),
  })
  .strict();

const blockSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: textSchema }).strict(),
  z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().optional() }).strict(),
  toolUseSchema.extend({ type: z.literal('tool_use') }).strict(),
]);

const errorSchema = z
  .object({
    status: z.number().int().min(400).max(599),
    type: z.string().min(1).optional(),
    message: z.string().optional(),
    /** Sets `retry-after-ms` (and `retry-after`), which the official client and the CLI honour. */
    retryAfterMs: z.number().int().nonnegative().optional(),
  })
  .strict();

export const stepSchema = z
  .object({
    match: z.string().optional(),
    when: z.enum(['tools', 'no_tools']).optional(),
    repeat: z.boolean().optional(),
    delayMs: z.number().int().nonnegative().optional(),
    chunkDelayMs: z.number().int().nonnegative().optional(),
    usage: usageSchema.optional(),
    stop_reason: z.enum(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'pause_turn', 'refusal']).optional(),
    thinking: z.string().optional(),
    text: textSchema.optional(),
    tool_use: toolUseSchema.optional(),
    content: z.array(blockSchema).min(1).optional(),
    error: errorSchema.optional(),
  })
  .strict()
  .superRefine((step, ctx) => {
    const shorthand = step.thinking !== undefined || step.text !== undefined || step.tool_use !== undefined;
    const kinds = [shorthand, step.content !== undefined, step.error !== undefined].filter(Boolean).length;
    if (kinds !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'a step needs exactly one reply: `text`/`thinking`/`tool_use`, or `content`, or `error`',
      });
    }
  });

const stepsSchema = z.array(stepSchema);
const scriptFileSchema = z.object({ steps: stepsSchema }).strict();

/** A step as written (in a script file or in a test). */
export type Step = z.input<typeof stepSchema>;
/** A step after validation and defaults. */
export type ParsedStep = z.output<typeof stepSchema>;
export type StepUsage = z.infer<typeof usageSchema>;
export type ScriptBlock = z.infer<typeof blockSchema>;

/** Parses a script file's JSON value; throws a readable error naming each problem. */
export function parseScript(value: unknown): ParsedStep[] {
  // Chosen by shape rather than z.union so errors name the failing step, not "Invalid input".
  const result = Array.isArray(value) ? stepsSchema.safeParse(value) : scriptFileSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid script (an array of steps or { "steps": [...] }):\n${problems.join('\n')}`);
  }
  return Array.isArray(result.data) ? result.data : result.data.steps;
}

/** A step's reply as content blocks, shorthands expanded in their fixed order. */
export function stepBlocks(step: ParsedStep): ScriptBlock[] {
  if (step.content) return step.content;
  const blocks: ScriptBlock[] = [];
  if (step.thinking !== undefined) blocks.push({ type: 'thinking', thinking: step.thinking });
  if (step.text !== undefined) blocks.push({ type: 'text', text: step.text });
  if (step.tool_use) blocks.push({ type: 'tool_use', ...step.tool_use });
  return blocks;
}

/** The parts of a Messages request body the matcher looks at. */
export interface MessagesRequestBody {
  model?: unknown;
  messages?: unknown;
  tools?: unknown;
  stream?: unknown;
  [key: string]: unknown;
}

/**
 * Text of the last `user` message: its text blocks and the text of its
 * tool_result blocks (so a step can match on a tool's output), joined by newlines.
 */
export function lastUserText(body: MessagesRequestBody): string {
  if (!Array.isArray(body.messages)) return '';
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const message = body.messages[i] as { role?: unknown; content?: unknown } | undefined;
    if (message?.role === 'user') return contentText(message.content);
  }
  return '';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const block of content as Array<{ type?: unknown; text?: unknown; content?: unknown }>) {
    if (block?.type === 'text' && typeof block.text === 'string') parts.push(block.text);
    else if (block?.type === 'tool_result') parts.push(contentText(block.content));
  }
  return parts.join('\n');
}

export function hasTools(body: MessagesRequestBody): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

export function stepMatches(step: ParsedStep, body: MessagesRequestBody): boolean {
  if (step.when === 'tools' && !hasTools(body)) return false;
  if (step.when === 'no_tools' && hasTools(body)) return false;
  if (step.match !== undefined && !lastUserText(body).includes(step.match)) return false;
  return true;
}

/**
 * Where the script stands. `take` applies the matching rule above and
 * returns the index of the step that answers, or null for the default reply.
 */
export class ScriptCursor {
  #steps: ParsedStep[];
  #next = 0;

  constructor(steps: ParsedStep[]) {
    this.#steps = steps;
  }

  take(body: MessagesRequestBody): { step: ParsedStep; index: number } | null {
    const step = this.#steps[this.#next];
    if (!step || !stepMatches(step, body)) return null;
    const index = this.#next;
    if (!step.repeat) this.#next++;
    return { step, index };
  }

  /** Steps not yet consumed (a repeating step counts as pending forever). */
  get pending(): number {
    return this.#steps.length - this.#next;
  }
}
