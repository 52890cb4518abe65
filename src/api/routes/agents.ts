import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AgentService } from '../../resources/agents.js';
import { listQuerySchema } from '../paging.js';

const agentParams = z.object({ agent_id: z.string().min(1) });
const retrieveQuery = z.object({ version: z.coerce.number().int().min(1).optional() });
const versionsQuery = listQuerySchema.pick({ limit: true, page: true, order: true });

/**
 * `/v1/agents` as `client.beta.agents` calls it: create, retrieve (optionally
 * `?version=`), update (POST to the agent), list, archive, and
 * `GET /v1/agents/{id}/versions`. Must be registered inside the authenticated
 * `/v1` scope: handlers read `request.auth.workspaceId`.
 */
export function registerAgentRoutes(app: FastifyInstance, agents: AgentService): void {
  app.post('/v1/agents', async (request) => agents.create(request.auth.workspaceId, request.body));

  app.get('/v1/agents', async (request) => agents.list(request.auth.workspaceId, listQuerySchema.parse(request.query)));

  app.get('/v1/agents/:agent_id', async (request) => {
    const { agent_id } = agentParams.parse(request.params);
    const { version } = retrieveQuery.parse(request.query);
    return agents.retrieve(request.auth.workspaceId, agent_id, version);
  });

  app.post('/v1/agents/:agent_id', async (request) => {
    const { agent_id } = agentParams.parse(request.params);
    return agents.update(request.auth.workspaceId, agent_id, request.body);
  });

  app.post('/v1/agents/:agent_id/archive', async (request) => {
    const { agent_id } = agentParams.parse(request.params);
    return agents.archive(request.auth.workspaceId, agent_id);
  });

  app.get('/v1/agents/:agent_id/versions', async (request) => {
    const { agent_id } = agentParams.parse(request.params);
    return agents.listVersions(request.auth.workspaceId, agent_id, versionsQuery.parse(request.query));
  });
}
