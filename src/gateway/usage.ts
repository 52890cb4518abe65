/**
 * Reading token usage out of Messages API responses as they stream past.
 * Pure (no I/O): the proxy feeds bytes in, and reads the result once the
 * response has ended.
 */
import { StringDecoder } from 'node:string_decoder';

export interface ModelUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface UpstreamError {
  /** The Anthropic error type (`rate_limit_error`, `overloaded_error`, ...), or `api_error`. */
  type: string;
  message: string;
}

export interface ObservedResponse {
  usage: ModelUsage;
  /** The model the response names, when it names one. */
  model: string | undefined;
  /** An error the body carried: an error response, or an `error` event mid-stream. */
  error: UpstreamError | undefined;
  /** message_stop was seen (streams) or a message body parsed (JSON). */
  complete: boolean;
}

export function emptyUsage(): ModelUsage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

const USAGE_KEYS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

/** Copies the numeric usage fields present in `from` onto `into`. */
function mergeUsage(into: ModelUsage, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const key of USAGE_KEYS) {
    const value = (from as Record<string, unknown>)[key];
    if (typeof value === 'number' && Number.isFinite(value)) into[key] = value;
  }
}

function readError(body: unknown): UpstreamError | undefined {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  if (typeof error !== 'object' || error === null) return undefined;
  return {
    type: typeof error.type === 'string' ? error.type : 'api_error',
    message: typeof error.message === 'string' ? error.message : 'upstream error',
  };
}

/** Events whose data carries usage, the model, or an error; others are skipped unparsed. */
const INTERESTING = new Set(['message_start', 'message_delta', 'message_stop', 'error']);

/**
 * Incremental SSE reader. Usage comes from `message_start` (input side and
 * cache counts) and `message_delta` (output tokens; newer API versions repeat
 * the other fields there, and the later value wins). Chunk boundaries may
 * fall anywhere, including inside a UTF-8 sequence or a CRLF.
 */
export class SseUsageReader {
  readonly #decoder = new StringDecoder('utf8');
  #buffer = '';
  #event = '';
  #data: string[] = [];
  readonly #observed: ObservedResponse = { usage: emptyUsage(), model: undefined, error: undefined, complete: false };

  push(chunk: Buffer | string): void {
    this.#buffer += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    let newline: number;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) !== -1) {
      // A lone CR at the end may be the first half of a CRLF still in flight.
      if (this.#buffer[newline] === '\r' && newline === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.#buffer = this.#buffer.slice(newline + width);
      this.#line(line);
    }
  }

  /** What the stream said so far; call once it has ended. */
  result(): ObservedResponse {
    this.#buffer += this.#decoder.end();
    if (this.#buffer.length > 0) {
      this.#line(this.#buffer);
      this.#buffer = '';
    }
    this.#dispatch();
    return this.#observed;
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data' && (this.#event === '' || INTERESTING.has(this.#event))) this.#data.push(value);
  }

  #dispatch(): void {
    const event = this.#event;
    const data = this.#data.join('\n');
    this.#event = '';
    this.#data = [];
    if (data === '') return;
    let parsed: { type?: unknown; message?: { model?: unknown; usage?: unknown }; usage?: unknown };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      return;
    }
    const type = event || (typeof parsed.type === 'string' ? parsed.type : '');
    const observed = this.#observed;
    if (type === 'message_start') {
      if (typeof parsed.message?.model === 'string') observed.model = parsed.message.model;
      mergeUsage(observed.usage, parsed.message?.usage);
    } else if (type === 'message_delta') {
      mergeUsage(observed.usage, parsed.usage);
    } else if (type === 'message_stop') {
      observed.complete = true;
    } else if (type === 'error') {
      observed.error = readError(parsed) ?? { type: 'api_error', message: 'error event without details' };
    }
  }
}

/**
 * Reads a whole JSON response body (a message or an error). Bodies larger
 * than the proxy's copy limit arrive here truncated and read as unparseable.
 */
export function observeJsonBody(body: string, status: number): ObservedResponse {
  const observed: ObservedResponse = { usage: emptyUsage(), model: undefined, error: undefined, complete: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    if (status >= 400) observed.error = { type: 'api_error', message: `upstream answered ${status}` };
    return observed;
  }
  const message = parsed as { type?: unknown; model?: unknown; usage?: unknown };
  if (status >= 400 || message.type === 'error') {
    observed.error = readError(parsed) ?? { type: 'api_error', message: `upstream answered ${status}` };
    return observed;
  }
  if (typeof message.model === 'string') observed.model = message.model;
  mergeUsage(observed.usage, message.usage);
  observed.complete = message.type === 'message';
  return observed;
}
