import type { FastifyInstance } from 'fastify';
import type { PreviewService } from '../../previews/previews.js';

type Params = { id: string; previewId: string };

/**
 * `POST`, `GET /v1/sessions/{id}/ports` and `DELETE /v1/sessions/{id}/ports/{previewId}`.
 * A preview's URL is a capability that writes (it can POST into the sandbox
 * and wake a hibernated session): a read-only key lists previews with
 * `url: null`.
 */
export function registerPreviewRoutes(app: FastifyInstance, previews: PreviewService): void {
  app.post<{ Params: Params }>('/v1/sessions/:id/ports', async (request) =>
    previews.render(await previews.create(request.auth.workspaceId, request.params.id, request.body), { withUrl: true }),
  );
  app.get<{ Params: Params }>('/v1/sessions/:id/ports', async (request) => {
    const list = await previews.list(request.auth.workspaceId, request.params.id);
    const withUrl = request.auth.scope !== 'read_only';
    return { data: list.map((p) => previews.render(p, { withUrl })) };
  });
  app.delete<{ Params: Params }>('/v1/sessions/:id/ports/:previewId', async (request) => {
    await previews.revoke(request.auth.workspaceId, request.params.id, request.params.previewId);
    return { id: request.params.previewId, type: 'port_preview_deleted' };
  });
}
