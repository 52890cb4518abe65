import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { renderWebhookDelivery, renderWebhookEndpoint, type WebhookService } from '../../webhooks/webhooks.js';

type Params = { id: string };
const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/** Outbound webhook endpoints of the caller's workspace, and their deliveries (agenthost extensions). */
export function registerWebhookRoutes(app: FastifyInstance, webhooks: WebhookService): void {
  app.post('/v1/webhooks', async (request) => {
    const { endpoint } = await webhooks.create(request.auth.workspaceId, request.body);
    return renderWebhookEndpoint(endpoint, true);
  });

  app.get('/v1/webhooks', async (request) => {
    const endpoints = await webhooks.list(request.auth.workspaceId);
    return { data: endpoints.map((e) => renderWebhookEndpoint(e)), has_more: false };
  });

  app.get<{ Params: Params }>('/v1/webhooks/:id', async (request) => renderWebhookEndpoint(await webhooks.get(request.auth.workspaceId, request.params.id)));

  app.delete<{ Params: Params }>('/v1/webhooks/:id', async (request) => {
    await webhooks.delete(request.auth.workspaceId, request.params.id);
    return { id: request.params.id, type: 'webhook_endpoint_deleted' };
  });

  app.get<{ Params: Params }>('/v1/webhooks/:id/deliveries', async (request) => {
    const { limit } = deliveriesQuery.parse(request.query);
    const deliveries = await webhooks.deliveries(request.auth.workspaceId, request.params.id, limit);
    return { data: deliveries.map(renderWebhookDelivery) };
  });
}
