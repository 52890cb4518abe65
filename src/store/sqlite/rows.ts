import type {
  AgentRecord,
  AgentVersionRecord,
  ApiKeyRecord,
  ApiKeyScope,
  EnvironmentRecord,
  EventRecord,
  JsonObject,
  SessionRecord,
  SessionStatus,
  WorkspaceRecord,
} from '../store.js';

/** Rows as better-sqlite3 returns them: snake_case, bodies as JSON text. */

export interface WorkspaceRow {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeyRow {
  id: string;
  workspace_id: string;
  hash: string;
  prefix: string;
  scope: ApiKeyScope;
  created_at: string;
  revoked_at: string | null;
}

interface ListedRow {
  seq: number;
  id: string;
  workspace_id: string;
  body: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

export interface AgentRow extends ListedRow {
  version: number;
}

export interface AgentVersionRow {
  agent_id: string;
  version: number;
  body: string;
  created_at: string;
}

export type EnvironmentRow = ListedRow;

export interface SessionRow extends ListedRow {
  agent_id: string;
  agent_version: number;
  environment_id: string;
  status: SessionStatus;
}

export interface EventRow {
  id: string;
  session_id: string;
  seq: number;
  type: string;
  body: string;
  created_at: string;
}

const object = (text: string): JsonObject => JSON.parse(text) as JsonObject;

export const toWorkspace = (r: WorkspaceRow): WorkspaceRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });

export const toApiKey = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  hash: r.hash,
  prefix: r.prefix,
  scope: r.scope,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export const toEnvironment = (r: EnvironmentRow): EnvironmentRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  seq: r.seq,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  archivedAt: r.archived_at,
  body: object(r.body),
});

export const toAgent = (r: AgentRow): AgentRecord => ({ ...toEnvironment(r), version: r.version });

export const toAgentVersion = (r: AgentVersionRow): AgentVersionRecord => ({
  agentId: r.agent_id,
  version: r.version,
  body: object(r.body),
  createdAt: r.created_at,
});

export const toSession = (r: SessionRow): SessionRecord => ({
  ...toEnvironment(r),
  agentId: r.agent_id,
  agentVersion: r.agent_version,
  environmentId: r.environment_id,
  status: r.status,
});

export const toEvent = (r: EventRow): EventRecord => ({
  id: r.id,
  sessionId: r.session_id,
  seq: r.seq,
  type: r.type,
  body: object(r.body),
  createdAt: r.created_at,
});
