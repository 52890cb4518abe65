import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestTrace, Tracing } from '../../ops/tracing.js';

/**
 * A server span per API request. Registered on the root app before any
 * route, so the `preHandler` here runs first and every later hook and the
 * handler run inside the request's trace context.
 */
export function registerRequestTracing(app: FastifyInstance, tracing: Tracing): void {
  const traces = new WeakMap<FastifyRequest, RequestTrace>();
  const end = (request: FastifyRequest, status: number) => traces.get(request)?.end(request.routeOptions.url ?? 'unmatched', status);

  app.addHook('onRequest', async (request) => {
    const traceparent = request.headers.traceparent;
    traces.set(request, tracing.request(request.method, typeof traceparent === 'string' ? traceparent : undefined));
    // Streams are hijacked and never reach onResponse: they end when the connection does.
    request.raw.once('close', () => end(request, request.raw.destroyed && !request.raw.complete ? 499 : 200));
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const trace = traces.get(request);
    if (trace) trace.run(done);
    else done();
  });
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
}
