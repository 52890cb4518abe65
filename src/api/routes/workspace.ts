import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BudgetService } from '../../budgets/budget.js';

const usageQuery = z.object({ since: z.iso.datetime({ offset: true }).or(z.iso.date()).optional() });

/** Whether a request would start or join a turn: a user.message sent, or a session created with initial events. */
export function startsTurn(method: string, route: string | undefined, body: unknown): boolean {
  if (method !== 'POST' || typeof body !== 'object' || body === null) return false;
  if (route === '/v1/sessions/:id/events') {
    const events = (body as { events?: unknown }).events;
    return Array.isArray(events) && events.some((e) => (e as { type?: unknown } | null)?.type === 'user.message');
  }
  if (route === '/v1/sessions') {
    const initial = (body as { initial_events?: unknown }).initial_events;
    return Array.isArray(initial) && initial.length > 0;
  }
  return false;
}

/**
 * The workspace's own budget and usage (agenthost extensions), and the guard
 * that refuses new turns once its budget is spent. Register on the `/v1`
 * scope: the guard applies to every route there.
 */
export function registerWorkspaceRoutes(app: FastifyInstance, budgets: BudgetService): void {
  app.addHook('preHandler', async (request) => {
    if (startsTurn(request.method, request.routeOptions.url, request.body)) await budgets.check(request.auth.workspaceId);
  });

  app.get('/v1/workspace/budget', async (request) => budgets.get(request.auth.workspaceId));

  app.post('/v1/workspace/budget', async (request) => budgets.set(request.auth.workspaceId, request.body));

  app.get('/v1/workspace/usage', async (request) => {
    const { since } = usageQuery.parse(request.query);
    return budgets.usage(request.auth.workspaceId, since ? new Date(since).toISOString() : undefined);
  });
}
