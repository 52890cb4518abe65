import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EnvironmentService } from '../../resources/environments.js';
import { listQuerySchema } from '../paging.js';

const environmentParams = z.object({ environment_id: z.string().min(1) });

/**
 * `/v1/environments` as `client.beta.environments` calls it: create,
 * retrieve, update (POST to the environment), list, archive, delete. Must be
 * registered inside the authenticated `/v1` scope.
 */
export function registerEnvironmentRoutes(app: FastifyInstance, environments: EnvironmentService): void {
  app.post('/v1/environments', async (request) => environments.create(request.auth.workspaceId, request.body));

  app.get('/v1/environments', async (request) =>
    environments.list(request.auth.workspaceId, listQuerySchema.parse(request.query)),
  );

  app.get('/v1/environments/:environment_id', async (request) => {
    const { environment_id } = environmentParams.parse(request.params);
    return environments.retrieve(request.auth.workspaceId, environment_id);
  });

  app.post('/v1/environments/:environment_id', async (request) => {
    const { environment_id } = environmentParams.parse(request.params);
    return environments.update(request.auth.workspaceId, environment_id, request.body);
  });

  app.post('/v1/environments/:environment_id/archive', async (request) => {
    const { environment_id } = environmentParams.parse(request.params);
    return environments.archive(request.auth.workspaceId, environment_id);
  });

  app.delete('/v1/environments/:environment_id', async (request) => {
    const { environment_id } = environmentParams.parse(request.params);
    return environments.delete(request.auth.workspaceId, environment_id);
  });
}
