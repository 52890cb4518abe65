import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../../errors.js';
import type { MetricsExporter } from '../../ops/metrics.js';

export interface MetricsRouteOptions {
  exporter: MetricsExporter;
  /**
   * When set, a scrape must send `Authorization: Bearer <token>`. When unset
   * the endpoint is open, like most exporters: it carries no tenant data
   * (no workspace, session or key appears in a label).
   */
  token?: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** `GET /metrics` in Prometheus text format, outside the workspace-keyed `/v1` scope. */
export function registerMetricsRoute(app: FastifyInstance, options: MetricsRouteOptions): void {
  const expected = options.token ? digest(options.token) : undefined;
  app.get('/metrics', async (request, reply) => {
    if (expected) {
      const authz = request.headers.authorization;
      const presented = typeof authz === 'string' && authz.startsWith('Bearer ') ? authz.slice('Bearer '.length) : '';
      if (!timingSafeEqual(digest(presented), expected)) {
        throw new AppError(ErrorCode.authentication, 'GET /metrics needs the metrics token: Authorization: Bearer <AGENTHOST_METRICS_TOKEN>');
      }
    }
    const body = await options.exporter.render();
    return reply.type(options.exporter.contentType).send(body);
  });
}
