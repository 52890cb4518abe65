import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { AppError, ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { ReadinessCheck } from '../ops/readiness.js';
import type { Store } from '../store/store.js';
import { checkStorableJson } from '../text-rules.js';
import { createAuthenticator } from './auth.js';
import type { ConnectionGuard } from './connection-guard.js';
import { answeredBeforeBody, clientError, frameworkError, MAX_PARAM_LENGTH } from './http-errors.js';

export interface AppOptions {
  log: Logger;
  store: Store;
  bodyLimit: number;
  /** Registers the authenticated /v1 routes. */
  routes: (app: FastifyInstance) => void | Promise<void>;
  /** Extra readiness checks for GET /readyz beyond the store. */
  ready?: () => Promise<void>;
  /** Named checks GET /readyz runs and reports (sandbox providers); required ones must pass. */
  checks?: ReadinessCheck[];
  /** Receives every answered request's duration. */
  metrics?: Metrics;
  /** Registers app-wide hooks (request tracing) before any route. */
  hooks?: (app: FastifyInstance) => void;
  /** Caps connections and bounds slow clients on the listener (shared with the preview listener); none when unset. */
  connections?: ConnectionGuard;
}

/** Renders a zod failure as one readable sentence: `events.0.type: Invalid option ...`. */
export function zodMessage(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Maps anything thrown in a handler to an AppError in the API's shape. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) return new AppError(ErrorCode.invalidRequest, zodMessage(error));
  const fe = error as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(ErrorCode.requestTooLarge, 'request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(ErrorCode.invalidRequest, 'request body must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(ErrorCode.invalidRequest, 'request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError(ErrorCode.invalidRequest, `request body is not valid JSON: ${fe.message ?? ''}`);
  }
  if (error instanceof SyntaxError || (typeof fe.statusCode === 'number' && fe.statusCode === 400)) {
    return new AppError(ErrorCode.invalidRequest, `invalid request: ${fe.message ?? 'malformed'}`);
  }
  if (fe.statusCode === 413) return new AppError(ErrorCode.requestTooLarge, 'request body too large');
  return new AppError(ErrorCode.api, 'internal server error', undefined, error);
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    genReqId: () => newId('req'),
    logController: new LogController({ disableRequestLogging: true }),
    // Clients retry on 5xx; a closed keep-alive socket is cheaper than a hung one.
    forceCloseConnections: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
  });
  options.connections?.attach(app.server);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', request.id);
  });
  options.hooks?.(app);
  // POSTs without a body (archive) may still say application/json, as curl does.
  // Only JSON bodies: a text/plain body gets the clear media-type error, not a schema error.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (error) {
      done(new AppError(ErrorCode.invalidRequest, `request body is not valid JSON: ${(error as Error).message}`), undefined);
    }
  });
  // Fastify closes the connection after a body it refused (413, a broken
  // upload) since the client may still be sending; closing with unread bytes
  // resets the connection, and the client can lose the answer with it. Kept
  // open instead, node reads the rest of the body and drops it (the
  // connection guard bounds how slowly), as HTTP asks of early answers.
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.raw.complete && reply.getHeader('connection') === 'close') reply.removeHeader('connection');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // Answered before the whole body arrived, it is read and dropped. node's
    // own drain only runs for bodies nobody began to read, and a parser that
    // gave up part way (over the limit) leaves the rest unread.
    const raw = request.raw;
    if (!raw.complete && !raw.destroyed) {
      answeredBeforeBody(raw);
      raw.unpipe();
      raw.removeAllListeners('data');
      raw.resume();
    }
    options.metrics?.httpRequest({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    // Conflicts and validation failures are deterministic: a retry cannot help.
    if (appError.status === 409 || appError.status === 400 || appError.status === 413) reply.header('x-should-retry', 'false');
    if (appError.code === ErrorCode.rateLimit && appError.details?.retryAfterS !== undefined) {
      reply.header('retry-after', String(appError.details.retryAfterS));
    }
    void reply.status(appError.status).send(appError.toBody(request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(new AppError(ErrorCode.notFound, `no route for ${request.method} ${request.url.split('?')[0]}`).toBody(request.id));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    let failure: string | undefined;
    const run = async (name: string, required: boolean, check: () => Promise<void>) => {
      try {
        await check();
        checks[name] = 'ok';
      } catch (error) {
        checks[name] = `failed: ${(error as Error).message}`;
        if (required) failure ??= `${name}: ${(error as Error).message}`;
      }
    };
    await Promise.all([
      run('store', true, () => options.store.ping()),
      ...(options.ready ? [run('ready', true, options.ready)] : []),
      ...(options.checks ?? []).map((c) => run(c.name, c.required, () => c.run())),
    ]);
    if (failure) return reply.status(503).send({ status: 'unavailable', reason: failure, checks });
    return { status: 'ready', checks };
  });

  const authenticate = createAuthenticator(options.store);
  await app.register(async (v1) => {
    v1.decorateRequest('auth', null as never);
    v1.addHook('onRequest', authenticate);
    // Every later log line of the request names its workspace and key.
    v1.addHook('onRequest', async (request) => {
      request.log = request.log.child({ workspaceId: request.auth.workspaceId, keyId: request.auth.keyId });
    });
    // No NUL or unpaired surrogate anywhere in a JSON body: neither is stored alike on both databases.
    v1.addHook('preValidation', async (request) => checkStorableJson(request.body));
    await options.routes(v1);
  });

  return app;
}
