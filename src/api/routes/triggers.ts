import type { FastifyInstance, FastifyRequest } from 'fastify';
import { renderTrigger } from '../../triggers/render.js';
import type { TriggerService } from '../../triggers/service.js';
import { listQuerySchema, toListResponse, toPageQuery } from '../paging.js';

type SessionParams = { id: string };
type TriggerParams = { id: string; trigger_id: string };

/** The base URL the caller reached this server at, for webhook URLs. */
const baseUrlOf = (request: FastifyRequest): string => `${request.protocol}://${request.host}`;

/**
 * Triggers of a session (an agenthost extension; the official client reaches
 * them with its generic `client.post/get/delete`).
 */
export function registerTriggerRoutes(app: FastifyInstance, triggers: TriggerService): void {
  app.post<{ Params: SessionParams }>('/v1/sessions/:id/triggers', async (request) => {
    const { trigger, secret } = await triggers.create(request.auth.workspaceId, request.params.id, request.body);
    return renderTrigger(trigger, { baseUrl: baseUrlOf(request), ...(secret !== undefined ? { secret } : {}) });
  });

  app.get<{ Params: SessionParams }>('/v1/sessions/:id/triggers', async (request) => {
    const q = listQuerySchema.parse(request.query);
    const { query, reversed } = toPageQuery(q, { limit: 20, order: 'asc' });
    const page = await triggers.list(request.auth.workspaceId, request.params.id, query);
    const baseUrl = baseUrlOf(request);
    return toListResponse(page, reversed, Boolean(q.page), (t) => renderTrigger(t, { baseUrl }));
  });

  app.get<{ Params: TriggerParams }>('/v1/sessions/:id/triggers/:trigger_id', async (request) => {
    const trigger = await triggers.get(request.auth.workspaceId, request.params.id, request.params.trigger_id);
    return renderTrigger(trigger, { baseUrl: baseUrlOf(request) });
  });

  app.delete<{ Params: TriggerParams }>('/v1/sessions/:id/triggers/:trigger_id', async (request) => {
    return triggers.delete(request.auth.workspaceId, request.params.id, request.params.trigger_id);
  });
}
