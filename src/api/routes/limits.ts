import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../../errors.js';
import type { ConnectionLimiter, RateLimiter } from '../../ops/limits.js';
import type { Metrics } from '../../ops/metrics.js';
import { startsTurn } from './workspace.js';

export interface LimitOptions {
  /** Requests per API key; absent is no limit. */
  rate?: { limiter: RateLimiter; ratePerS: number; burst: number } | undefined;
  /** Open event streams per API key; absent is no limit. */
  streams?: { limiter: ConnectionLimiter; max: number } | undefined;
  /** Sessions of a workspace that may hold a sandbox at once; absent is no limit. */
  liveSessions?: { max: number; engine: { isLive(sessionId: string): boolean; liveCount(workspaceId: string): number; warmCount(workspaceId: string): number } } | undefined;
  metrics: Metrics;
}

const STREAM_ROUTE = '/v1/sessions/:id/events/stream';

function limited(o: LimitOptions, limit: string, message: string, retryAfterS: number): AppError {
  o.metrics.limited({ limit });
  return new AppError(ErrorCode.rateLimit, message, { retryAfterS });
}

/**
 * Per-key and per-workspace limits on the `/v1` scope, checked after
 * authentication and before any work: a refused request costs a hash and a
 * map lookup. Refusals are 429 with `retry-after` in the API's error shape.
 */
export function registerLimits(app: FastifyInstance, o: LimitOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    const { rate, streams } = o;
    if (rate) {
      const wait = rate.limiter.take(request.auth.keyId);
      if (wait > 0) {
        throw limited(o, 'rate', `rate limit: an API key may make ${rate.ratePerS} requests a second, in bursts of up to ${rate.burst}; slow down`, Math.max(1, Math.ceil(wait)));
      }
    }
    if (streams && request.method === 'GET' && request.routeOptions.url === STREAM_ROUTE) {
      const release = streams.limiter.acquire(request.auth.keyId);
      if (!release) throw limited(o, 'sse', `this API key already has ${streams.max} open event streams, its limit; close one first`, 1);
      reply.raw.once('close', release);
      request.raw.once('close', release);
    }
  });

  app.addHook('preHandler', async (request) => {
    const quota = o.liveSessions;
    if (!quota || !startsTurn(request.method, request.routeOptions.url, request.body)) return;
    const sessionId = (request.params as { id?: string } | undefined)?.id;
    if (sessionId !== undefined && quota.engine.isLive(sessionId)) return;
    // Warm sandboxes count as live but give way to a session that needs the room.
    const ws = request.auth.workspaceId;
    if (quota.engine.liveCount(ws) - quota.engine.warmCount(ws) >= quota.max) {
      throw limited(o, 'live_sessions', `this workspace already has ${quota.max} live sessions, its quota; archive one or wait for an idle one to hibernate`, 10);
    }
  });
}
