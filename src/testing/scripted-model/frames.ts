/**
 * Pure builders for what the scripted model sends: the Messages API response
 * body, the SSE event sequence of a streamed response, and error bodies.
 * No I/O here, so the wire format is unit-tested without a server.
 */
import type { MessagesRequestBody, ScriptBlock, StepUsage } from './script.js';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type ReplyBlock =
  | { type: 'text'; chunks: string[] }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

/** One response, resolved: ids chosen, usage computed. */
export interface Reply {
  id: string;
  model: string;
  blocks: ReplyBlock[];
  stop_reason: string;
  usage: Usage;
}

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Rough token count (4 characters a token); deterministic for a given input. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

export function estimateInputTokens(body: MessagesRequestBody): number {
  return estimateTokens({ system: body.system ?? null, messages: body.messages ?? [], tools: body.tools ?? [] });
}

/**
 * Resolves a reply's blocks into a Reply. `newId` is injected so callers and
 * tests control ids.
 */
export function buildReply(
  blocks: ScriptBlock[],
  request: MessagesRequestBody,
  newId: (prefix: 'msg' | 'toolu') => string,
  options: { usage?: StepUsage | undefined; stop_reason?: string | undefined } = {},
): Reply {
  const resolved = blocks.map((b): ReplyBlock => {
    if (b.type === 'text') return { type: 'text', chunks: typeof b.text === 'string' ? [b.text] : b.text };
    if (b.type === 'thinking') {
      return { type: 'thinking', thinking: b.thinking, signature: b.signature ?? signatureFor(b.thinking) };
    }
    return { type: 'tool_use', id: b.id ?? newId('toolu'), name: b.name, input: b.input };
  });
  const scripted = options.usage ?? {};
  const outputText = resolved.map((b) =>
    b.type === 'text' ? b.chunks.join('') : b.type === 'thinking' ? b.thinking : JSON.stringify(b.input),
  );
  const hasToolUse = resolved.some((b) => b.type === 'tool_use');
  return {
    id: newId('msg'),
    model: typeof request.model === 'string' ? request.model : 'claude-scripted',
    blocks: resolved,
    stop_reason: options.stop_reason ?? (hasToolUse ? 'tool_use' : 'end_turn'),
    usage: {
      input_tokens: scripted.input_tokens ?? estimateInputTokens(request),
      output_tokens: scripted.output_tokens ?? estimateTokens(outputText.join('')),
      cache_creation_input_tokens: scripted.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: scripted.cache_read_input_tokens ?? 0,
    },
  };
}

/** A stand-in thinking signature; clients pass it back verbatim and never verify it. */
function signatureFor(thinking: string): string {
  return Buffer.from(`scripted:${thinking.length}`).toString('base64');
}

function blockJson(block: ReplyBlock): Record<string, unknown> {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.chunks.join('') };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
  }
}

/** The non-streaming response body. */
export function replyMessage(reply: Reply): Record<string, unknown> {
  return {
    id: reply.id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content: reply.blocks.map(blockJson),
    stop_reason: reply.stop_reason,
    stop_sequence: null,
    usage: reply.usage,
  };
}

/** Splits a string into pieces of at most `size` characters (at least one piece). */
export function splitEvery(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

/**
 * The SSE events of a streamed response, in the order the Messages API sends
 * them: message_start (input usage), ping, per block start/deltas/stop,
 * message_delta (stop_reason, output usage), message_stop.
 */
export function replyEvents(reply: Reply): SseEvent[] {
  const events: SseEvent[] = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: reply.id,
          type: 'message',
          role: 'assistant',
          model: reply.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...reply.usage, output_tokens: Math.min(1, reply.usage.output_tokens) },
        },
      },
    },
    { event: 'ping', data: { type: 'ping' } },
  ];
  reply.blocks.forEach((block, index) => {
    const start = (content_block: Record<string, unknown>): void => {
      events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block } });
    };
    const delta = (d: Record<string, unknown>): void => {
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: d } });
    };
    switch (block.type) {
      case 'text':
        start({ type: 'text', text: '' });
        for (const text of block.chunks) delta({ type: 'text_delta', text });
        break;
      case 'thinking':
        start({ type: 'thinking', thinking: '', signature: '' });
        delta({ type: 'thinking_delta', thinking: block.thinking });
        delta({ type: 'signature_delta', signature: block.signature });
        break;
      case 'tool_use':
        start({ type: 'tool_use', id: block.id, name: block.name, input: {} });
        for (const partial_json of splitEvery(JSON.stringify(block.input), 32)) {
          delta({ type: 'input_json_delta', partial_json });
        }
        break;
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push(
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: reply.stop_reason, stop_sequence: null },
        usage: { output_tokens: reply.usage.output_tokens },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  );
  return events;
}

/** One SSE frame on the wire. */
export function encodeSse(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The Anthropic error type for an HTTP status (api_error for unknown 5xx, invalid_request_error for 4xx). */
export function errorTypeForStatus(status: number): string {
  return ERROR_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** An error body in the Anthropic API's shape. */
export function errorBody(type: string, message: string, requestId?: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, ...(requestId ? { request_id: requestId } : {}) };
}
