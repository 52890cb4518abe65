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

/**
 * Rows as node-postgres returns them: BIGINT as string, TIMESTAMPTZ as Date,
 * json already parsed.
 */

export interface WorkspaceRow {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  workspace_id: string;
  hash: string;
  prefix: string;
  scope: ApiKeyScope;
  created_at: Date;
  revoked_at: Date | null;
}

interface ListedRow {
  seq: string;
  id: string;
  workspace_id: string;
  body: JsonObject;
  created_at: Date;
  updated_at: Date;
  archived_at: Date | null;
}

export interface AgentRow extends ListedRow {
  version: number;
}

export interface AgentVersionRow {
  agent_id: string;
  version: number;
  body: JsonObject;
  created_at: Date;
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
  seq: string;
  type: string;
  body: JsonObject;
  created_at: Date;
}

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);

export const toWorkspace = (r: WorkspaceRow): WorkspaceRecord => ({ id: r.id, name: r.name, createdAt: iso(r.created_at) });

export const toApiKey = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  hash: r.hash,
  prefix: r.prefix,
  scope: r.scope,
  createdAt: iso(r.created_at),
  revokedAt: isoOrNull(r.revoked_at),
});

export const toEnvironment = (r: EnvironmentRow): EnvironmentRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  seq: Number(r.seq),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  archivedAt: isoOrNull(r.archived_at),
  body: r.body,
});

export const toAgent = (r: AgentRow): AgentRecord => ({ ...toEnvironment(r), version: r.version });

export const toAgentVersion = (r: AgentVersionRow): AgentVersionRecord => ({
  agentId: r.agent_id,
  version: r.version,
  body: r.body,
  createdAt: iso(r.created_at),
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
  seq: Number(r.seq),
  type: r.type,
  body: r.body,
  createdAt: iso(r.created_at),
});
