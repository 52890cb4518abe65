/**
 * An HTTP server that speaks the Anthropic Messages API and answers from a
 * script (see script.ts for the format and the matching rule). It stands in
 * for the model in tests: the real Claude Code CLI and the official client
 * talk to it unchanged.
 *
 * Routes: POST /v1/messages (JSON or SSE), POST /v1/messages/count_tokens;
 * anything else is a 404 in the API's error shape. Every request is recorded
 * with its headers and body so tests can assert what the upstream saw.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildReply,
  encodeSse,
  errorBody,
  errorTypeForStatus,
  estimateInputTokens,
  replyEvents,
  replyMessage,
} from './frames.js';
import { parseScript, ScriptCursor, stepBlocks, type MessagesRequestBody, type ParsedStep, type Step } from './script.js';

export interface RecordedRequest {
  method: string;
  /** Path with query string, as received. */
  path: string;
  /** Lower-cased header names, as node parses them. */
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON, or the raw text when it is not JSON, or null when empty. */
  body: unknown;
  receivedAt: Date;
  /** Index of the script step that answered; null for the default reply and non-messages routes. */
  step: number | null;
}

export interface ScriptedModelOptions {
  script?: Step[];
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Text of the reply to requests no step matches. */
  defaultReply?: string;
}

export interface ScriptedModel {
  /** Base URL, e.g. `http://127.0.0.1:41234`; use as ANTHROPIC_BASE_URL or the client's baseURL. */
  readonly url: string;
  /** Every request received, oldest first. A live array: tests may read or clear it. */
  readonly requests: RecordedRequest[];
  /** Requests to POST /v1/messages only. */
  messageRequests(): RecordedRequest[];
  /** Replaces the script and rewinds to its first step. Validates like a script file. */
  setScript(steps: Step[]): void;
  /** Steps not yet consumed. */
  readonly pending: number;
  /** Stops listening and drops open connections (including streams in progress). */
  close(): Promise<void>;
}

export const DEFAULT_REPLY = 'OK';

export async function startScriptedModel(options: ScriptedModelOptions = {}): Promise<ScriptedModel> {
  const requests: RecordedRequest[] = [];
  const defaultReply = options.defaultReply ?? DEFAULT_REPLY;
  let cursor = new ScriptCursor(parseScript(options.script ?? []));
  const closing = new AbortController();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (closing.signal.aborted) return;
      if (!res.headersSent) sendError(res, 500, 'api_error', `scripted model failed: ${String(error)}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      receivedAt: new Date(),
      step: null,
    };
    requests.push(record);

    const path = (req.url ?? '').split('?')[0];
    const isJsonObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    if (req.method === 'POST' && (path === '/v1/messages' || path === '/v1/messages/count_tokens')) {
      if (!isJsonObject) {
        sendError(res, 400, 'invalid_request_error', 'request body must be a JSON object');
        return;
      }
      if (path === '/v1/messages/count_tokens') {
        sendJson(res, 200, { input_tokens: estimateInputTokens(body as MessagesRequestBody) });
        return;
      }
      await answerMessages(body as MessagesRequestBody, record, res);
      return;
    }
    sendError(res, 404, 'not_found_error', `${req.method ?? ''} ${path} is not served by the scripted model`);
  }

  async function answerMessages(body: MessagesRequestBody, record: RecordedRequest, res: ServerResponse): Promise<void> {
    const taken = cursor.take(body);
    record.step = taken?.index ?? null;
    const step: ParsedStep | null = taken?.step ?? null;

    if (step?.delayMs) await sleep(step.delayMs, undefined, { signal: closing.signal });
    if (step?.error) {
      const { status, type, message, retryAfterMs } = step.error;
      const headers: Record<string, string> = {};
      if (retryAfterMs !== undefined) {
        headers['retry-after-ms'] = String(retryAfterMs);
        headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
      }
      sendError(res, status, type ?? errorTypeForStatus(status), message ?? `scripted ${status}`, headers);
      return;
    }

    const blocks = step ? stepBlocks(step) : [{ type: 'text' as const, text: defaultReply }];
    const reply = buildReply(blocks, body, newWireId, { usage: step?.usage, stop_reason: step?.stop_reason });
    if (body.stream !== true) {
      sendJson(res, 200, replyMessage(reply));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': newWireId('req'),
    });
    res.flushHeaders();
    for (const event of replyEvents(reply)) {
      if (step?.chunkDelayMs) await sleep(step.chunkDelayMs, undefined, { signal: closing.signal });
      if (res.destroyed) return;
      res.write(encodeSse(event));
    }
    res.end();
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    requests,
    messageRequests: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages'),
    setScript(steps) {
      cursor = new ScriptCursor(parseScript(steps));
    },
    get pending() {
      return cursor.pending;
    },
    async close() {
      closing.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function newWireId(prefix: 'msg' | 'toolu' | 'req'): string {
  return `${prefix}_scripted_${randomBytes(12).toString('hex')}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': newWireId('req'),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, errorBody(type, message), headers);
}
