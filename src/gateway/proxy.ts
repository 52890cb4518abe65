/**
 * Forwarding one authenticated request upstream and streaming the answer
 * back, observing usage on the way. POST /v1/messages is metered (onRequest
 * before forwarding, onResponse once the response has ended); every other
 * allowed path is proxied as is.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { Transform, pipeline } from 'node:stream';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { clientResponseHeaders, upstreamRequestHeaders, type UpstreamCredential } from './headers.js';
import { emptyUsage, observeJsonBody, SseUsageReader, type ModelUsage, type ObservedResponse, type UpstreamError } from './usage.js';

export interface ModelRequestInfo {
  sessionId: string;
  /** The gateway's id for this request (`req_...`), shared by the two callbacks. */
  requestId: string;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** `model` from the request body, when it has one. */
  model: string | undefined;
  startedAt: Date;
}

export interface ModelResponseInfo {
  sessionId: string;
  requestId: string;
  /** Upstream status; 502 when the upstream could not be reached. */
  status: number;
  /** Zeros for whatever the response did not report. */
  usage: ModelUsage;
  /** The model the response named, else the one requested. */
  model: string | undefined;
  durationMs: number;
  /**
   * Set when the request did not produce a complete message: an error status,
   * an `error` event mid-stream, a stream cut short, the upstream unreachable
   * (`api_error`), or the sandbox hanging up (`client_closed`).
   */
  error?: UpstreamError;
}

export interface ProxyContext {
  upstream: URL;
  credential: UpstreamCredential;
  /** Values that must never appear in a response header. */
  secrets: readonly string[];
  agent: HttpAgent | HttpsAgent;
  log: Logger;
  pathAllowed: (method: string, path: string) => boolean;
  onRequest?: ((info: ModelRequestInfo) => void) | undefined;
  onResponse?: ((info: ModelResponseInfo) => void) | undefined;
}

/** The Messages API's own limit on request size. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** JSON response bodies are copied up to this size to read usage; the bytes still stream through. */
const MAX_OBSERVED_JSON_BYTES = 8 * 1024 * 1024;

/** Requests the default policy lets through: what the Claude Code CLI needs to talk to a model. */
export function defaultPathAllowed(method: string, path: string): boolean {
  if (method === 'POST') return path === '/v1/messages' || path === '/v1/messages/count_tokens';
  if (method === 'GET') return path === '/v1/models' || path.startsWith('/v1/models/');
  return false;
}

export function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ type: 'error', error: { type, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Proxies one request for an authenticated session. `track` registers an
 * abort function (used when the session is closed) and returns its
 * unregister function. Resolves when the request is over: the response
 * closed and, for POST /v1/messages, onResponse called.
 */
export async function proxyRequest(
  ctx: ProxyContext,
  sessionId: string,
  req: IncomingMessage,
  res: ServerResponse,
  track: (abort: () => void) => () => void,
): Promise<void> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const path = url.split('?')[0] ?? '/';
  if (!ctx.pathAllowed(method, path)) {
    sendError(res, 404, 'not_found_error', `${method} ${path} is not available through the model gateway`);
    return;
  }
  const metered = method === 'POST' && path === '/v1/messages';
  const requestId = newId('req');
  const log = ctx.log.child({ sessionId, requestId });

  // Metered request bodies are read whole: the model name is needed before
  // forwarding, and upstream cannot answer before the body is complete anyway.
  let body: Buffer | undefined;
  let requestModel: string | undefined;
  if (metered) {
    body = await readLimited(req, MAX_REQUEST_BYTES);
    if (!body) {
      sendError(res, 413, 'request_too_large', `request body exceeds ${MAX_REQUEST_BYTES} bytes`);
      return;
    }
    requestModel = modelOf(body);
  }

  const startedAt = new Date();
  if (metered) callSafely(log, 'onRequest', () => ctx.onRequest?.({ sessionId, requestId, path, model: requestModel, startedAt }));

  // Settles once the response to the sandbox has closed and, for metered
  // requests, onResponse has been called, so closeSession can wait for both.
  let reported = !metered;
  let responseClosed = false;
  let settle!: () => void;
  const finished = new Promise<void>((resolve) => {
    settle = () => {
      if (reported && responseClosed) resolve();
    };
  });
  const report = (status: number, observed: ObservedResponse | undefined, error: UpstreamError | undefined): void => {
    if (reported) return;
    reported = true;
    queueMicrotask(settle);
    const info: ModelResponseInfo = {
      sessionId,
      requestId,
      status,
      usage: observed?.usage ?? emptyUsage(),
      model: observed?.model ?? requestModel,
      durationMs: Date.now() - startedAt.getTime(),
      ...(error ? { error } : {}),
    };
    log.debug({ status, usage: info.usage, durationMs: info.durationMs, error }, 'model request ended');
    callSafely(log, 'onResponse', () => ctx.onResponse?.(info));
  };

  const basePath = ctx.upstream.pathname.replace(/\/+$/, '');
  const upstreamReq = (ctx.upstream.protocol === 'https:' ? httpsRequest : httpRequest)({
    protocol: ctx.upstream.protocol,
    hostname: ctx.upstream.hostname,
    port: ctx.upstream.port || undefined,
    method,
    path: basePath + url,
    agent: ctx.agent,
    headers: upstreamRequestHeaders(req.headers, {
      credential: ctx.credential,
      host: ctx.upstream.host,
      ...(body ? { contentLength: body.length } : {}),
      // Metered bodies are read as they pass, and error bodies are scrubbed: both need them uncompressed.
      identityEncoding: true,
    }),
  });

  let clientClosed = false;
  let closedMessage = 'the sandbox closed the connection';
  const untrack = track(() => {
    clientClosed = true;
    closedMessage = 'the gateway session was closed';
    upstreamReq.destroy();
    res.destroy();
  });
  res.once('close', () => {
    untrack();
    responseClosed = true;
    settle();
    if (!res.writableFinished) {
      clientClosed = true;
      upstreamReq.destroy();
    }
  });

  upstreamReq.on('error', (error: NodeJS.ErrnoException) => {
    // Reported by the close handler or by the response pipeline.
    if (clientClosed || res.headersSent) return;
    log.warn({ err: { code: error.code, message: error.message } }, 'model upstream unreachable');
    const message = `model upstream unreachable (${error.code ?? error.message})`;
    sendError(res, 502, 'api_error', message);
    report(502, undefined, { type: 'api_error', message });
  });

  let responded = false;
  upstreamReq.once('close', () => {
    if (clientClosed && !responded) {
      report(499, undefined, { type: 'client_closed', message: closedMessage });
    }
  });

  upstreamReq.once('response', (upstreamRes) => {
    responded = true;
    const status = upstreamRes.statusCode ?? 502;
    if (status >= 400 && !String(upstreamRes.headers['content-type'] ?? '').includes('text/event-stream')) {
      void relayError(upstreamRes, status);
      return;
    }
    res.writeHead(status, clientResponseHeaders(upstreamRes.headers, ctx.secrets));
    res.flushHeaders();
    const isSse = String(upstreamRes.headers['content-type'] ?? '').includes('text/event-stream');
    const sse = metered && isSse ? new SseUsageReader() : undefined;
    const json: Buffer[] = [];
    let jsonBytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (sse) sse.push(chunk);
        else if (metered && jsonBytes < MAX_OBSERVED_JSON_BYTES) {
          json.push(chunk);
          jsonBytes += chunk.length;
        }
        done(null, chunk);
      },
    });
    pipeline(upstreamRes, tap, res, (error) => {
      if (!metered) return;
      const observed = sse ? sse.result() : observeJsonBody(Buffer.concat(json).toString('utf8'), status);
      let failure = observed.error;
      if (error) {
        failure = clientClosed
          ? { type: 'client_closed', message: closedMessage }
          : { type: 'api_error', message: `model upstream response failed: ${error.message}` };
      } else if (!failure && status >= 400) {
        failure = { type: 'api_error', message: `upstream answered ${status}` };
      } else if (!failure && sse && !observed.complete) {
        failure = { type: 'api_error', message: 'stream ended before message_stop' };
      }
      report(status, observed, failure);
    });
  });

  /**
   * An upstream error goes to the sandbox whole, but with the upstream
   * credential cut out of it: an upstream (or a proxy before it) that echoes
   * the request's key in an error would otherwise hand it to the agent.
   */
  async function relayError(upstreamRes: IncomingMessage, status: number): Promise<void> {
    let raw: Buffer | undefined;
    try {
      raw = await readLimited(upstreamRes, MAX_ERROR_BODY_BYTES);
    } catch (error) {
      if (!clientClosed) res.destroy();
      report(status, undefined, { type: 'api_error', message: `model upstream response failed: ${(error as Error).message}` });
      return;
    }
    const text = raw === undefined ? JSON.stringify({ type: 'error', error: { type: 'api_error', message: `upstream answered ${status} with an error body over ${MAX_ERROR_BODY_BYTES} bytes` } }) : redactSecrets(raw.toString('utf8'), ctx.secrets);
    const out = Buffer.from(text, 'utf8');
    const headers = clientResponseHeaders(upstreamRes.headers, ctx.secrets);
    delete headers['content-encoding'];
    delete headers['transfer-encoding'];
    headers['content-length'] = String(out.length);
    if (!clientClosed) res.writeHead(status, headers).end(out);
    if (metered) {
      const observed = observeJsonBody(text, status);
      report(status, observed, observed.error ?? { type: 'api_error', message: `upstream answered ${status}` });
    }
  }

  if (body) upstreamReq.end(body);
  else pipeline(req, upstreamReq, () => {}); // failures surface on upstreamReq's 'error'
  return finished;
}

/** The most of an upstream error body relayed (Anthropic's are well under a KiB). */
const MAX_ERROR_BODY_BYTES = 1024 * 1024;

/** `text` with every non-empty secret replaced. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}

/** The whole body, or undefined when it is larger than `limit`. */
async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A body that opens with `{"model":"<plain string>"`: how the Claude Code CLI writes them. */
const LEADING_MODEL = /^\{\s*"model"\s*:\s*"([A-Za-z0-9._:@\/-]{1,200})"/;

/**
 * The request's `model`. Parsing a whole request (hundreds of KiB once a
 * conversation grows) costs a millisecond or more of the event loop per
 * model call, so a body whose first key is a plain `model` and which has no
 * other `"model":` anywhere (JSON.parse would take the last) is read from its
 * first bytes; anything else is parsed.
 */
export function modelOf(body: Buffer): string | undefined {
  const head = LEADING_MODEL.exec(body.subarray(0, 256).toString('latin1'));
  if (head && body.indexOf('"model"', head[0].length) === -1) return head[1];
  try {
    const model = (JSON.parse(body.toString('utf8')) as { model?: unknown }).model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

/** Callbacks belong to the session engine; a throw there must not break the proxy. */
function callSafely(log: Logger, name: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    log.error({ err: error }, `${name} callback threw`);
  }
}
