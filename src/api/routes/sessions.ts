import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalid } from '../../errors.js';
import type { EventLog } from '../../sessions/event-log.js';
import { renderEvent, renderSession } from '../../sessions/render.js';
import { SESSION_STATUSES, sessionListQuery } from '../../sessions/schemas.js';
import type { SessionService } from '../../sessions/service.js';
import type { SessionStatus } from '../../store/store.js';
import { listQuerySchema, queryArray, toListResponse, toPageQuery } from '../paging.js';
import { streamSessionEvents } from './session-stream.js';

type Params = { id: string };

const idempotencyKey = z
  .string()
  .min(1, 'Idempotency-Key must not be empty')
  .max(255, 'Idempotency-Key is at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'Idempotency-Key must be printable ASCII without spaces')
  .optional();

export interface SessionRouteDeps {
  sessions: SessionService;
  events: EventLog;
}

export function registerSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const { sessions } = deps;

  app.post('/v1/sessions', async (request) => {
    return renderSession(await sessions.create(request.auth.workspaceId, request.body));
  });

  app.get<{ Params: Params }>('/v1/sessions/:id', async (request) => {
    return renderSession(await sessions.get(request.auth.workspaceId, request.params.id));
  });

  app.post<{ Params: Params }>('/v1/sessions/:id', async (request) => {
    return renderSession(await sessions.update(request.auth.workspaceId, request.params.id, request.body));
  });

  app.post<{ Params: Params }>('/v1/sessions/:id/archive', async (request) => {
    return renderSession(await sessions.archive(request.auth.workspaceId, request.params.id));
  });

  app.delete<{ Params: Params }>('/v1/sessions/:id', async (request) => {
    return sessions.delete(request.auth.workspaceId, request.params.id);
  });

  app.get('/v1/sessions', async (request) => {
    const raw = request.query as Record<string, unknown>;
    const q = listQuerySchema.parse(raw);
    const filters = sessionListQuery.parse(raw);
    const statuses = queryArray(raw, 'statuses');
    for (const s of statuses ?? []) {
      if (!(SESSION_STATUSES as readonly string[]).includes(s)) throw invalid(`statuses: unknown status ${JSON.stringify(s)}`);
    }
    const { query, reversed } = toPageQuery(q, { limit: 20, order: 'desc' });
    const page = await sessions.list(request.auth.workspaceId, {
      ...query,
      ...(filters.agent_id ? { agentId: filters.agent_id } : {}),
      ...(filters.agent_version ? { agentVersion: filters.agent_version } : {}),
      ...(statuses ? { statuses: statuses as SessionStatus[] } : {}),
    });
    return toListResponse(page, reversed, Boolean(q.page), (s) => renderSession(s));
  });

  app.get<{ Params: Params }>('/v1/sessions/:id/events', async (request) => {
    const raw = request.query as Record<string, unknown>;
    const q = listQuerySchema.parse(raw);
    const types = queryArray(raw, 'types');
    const { query, reversed } = toPageQuery(q, { limit: 100, order: 'asc' });
    const page = await sessions.listEvents(request.auth.workspaceId, request.params.id, {
      limit: query.limit,
      order: query.order,
      ...(query.afterSeq !== undefined ? { afterSeq: query.afterSeq } : {}),
      ...(query.beforeSeq !== undefined ? { beforeSeq: query.beforeSeq } : {}),
      ...(types ? { types } : {}),
      ...(query.createdGte ? { createdGte: query.createdGte } : {}),
      ...(query.createdLte ? { createdLte: query.createdLte } : {}),
      ...(query.createdGt ? { createdGt: query.createdGt } : {}),
      ...(query.createdLt ? { createdLt: query.createdLt } : {}),
    });
    return toListResponse(page, reversed, Boolean(q.page), renderEvent);
  });

  app.post<{ Params: Params }>('/v1/sessions/:id/events', async (request) => {
    const key = idempotencyKey.parse(request.headers['idempotency-key'] ?? undefined);
    return sessions.send(request.auth.workspaceId, request.params.id, request.body, key ? { idempotencyKey: key } : {});
  });

  app.get<{ Params: Params }>('/v1/sessions/:id/events/stream', async (request, reply) => {
    const session = await sessions.get(request.auth.workspaceId, request.params.id);
    const lastEventId = z.string().min(1).max(200).optional().parse(request.headers['last-event-id'] ?? undefined);
    await streamSessionEvents({ request, reply, session, lastEventId, sessions, events: deps.events });
  });
}
