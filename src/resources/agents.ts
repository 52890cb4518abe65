import { conflict, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { type ListQuery, type ListResponse, toListResponse, toPageQuery } from '../api/paging.js';
import { type AgentRecord, type AgentVersionRecord, type Store, StoreConflictError } from '../store/store.js';
import { type AgentBody, agentBodyFromCreate, agentBodyFromUpdate, agentBodyOf } from './agent-body.js';
import { agentCreateSchema, agentUpdateSchema } from './agent-schema.js';
import { parseBody, sameBody, toJson } from './common-schema.js';

/** The agent as the API shows it (`BetaManagedAgentsAgent`). */
export type AgentView = { id: string; type: 'agent' } & AgentBody & {
  version: number;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
};

/** The part of the Store agents need; a full Store satisfies it. */
export type AgentStore = Pick<Store, 'createAgent' | 'getAgent' | 'getAgentVersion' | 'updateAgent' | 'listAgents' | 'archiveAgent'>;

export const LIST_DEFAULTS = { limit: 20, order: 'desc' } as const;

// Updates without a `version` apply unconditionally; a concurrent writer only
// makes them re-read and re-apply, a bounded number of times.
const UNCONDITIONAL_UPDATE_ATTEMPTS = 5;

export function renderAgent(record: AgentRecord, version?: AgentVersionRecord): AgentView {
  const body = agentBodyOf(version?.body ?? record.body);
  return {
    id: record.id,
    type: 'agent',
    ...body,
    version: version?.version ?? record.version,
    created_at: record.createdAt,
    updated_at: version?.createdAt ?? record.updatedAt,
    archived_at: record.archivedAt,
  };
}

/**
 * Agents: create, read (any version), update with a version bump, list,
 * archive. Every method is scoped to a workspace; an agent of another
 * workspace is indistinguishable from one that does not exist.
 */
export class AgentService {
  private readonly store: AgentStore;
  private readonly now: () => Date;

  constructor(deps: { store: AgentStore; now?: () => Date }) {
    this.store = deps.store;
    this.now = deps.now ?? (() => new Date());
  }

  /** Validates `params` (AgentCreateParams) and stores version 1. */
  async create(workspaceId: string, params: unknown): Promise<AgentView> {
    const body = agentBodyFromCreate(parseBody(agentCreateSchema, params));
    const at = this.now().toISOString();
    const record = await this.store.createAgent({
      id: newId('agent'),
      workspaceId,
      version: 1,
      body: toJson(body),
      createdAt: at,
      updatedAt: at,
      archivedAt: null,
    });
    return renderAgent(record);
  }

  /** The current version, or `version` when given. */
  async retrieve(workspaceId: string, id: string, version?: number): Promise<AgentView> {
    const record = await this.get(workspaceId, id);
    if (version === undefined || version === record.version) return renderAgent(record);
    const old = version < record.version ? await this.store.getAgentVersion(workspaceId, id, version) : null;
    if (!old) throw notFound(`agent ${JSON.stringify(id)} version`, String(version));
    return renderAgent(record, old);
  }

  /**
   * Applies AgentUpdateParams. `params.version`, when given, must equal the
   * current version (409 otherwise). An update that changes nothing returns
   * the agent as it is, without a new version.
   */
  async update(workspaceId: string, id: string, params: unknown): Promise<AgentView> {
    const input = parseBody(agentUpdateSchema, params);
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(workspaceId, id);
      if (current.archivedAt) throw invalid(`agent ${JSON.stringify(id)} is archived; archived agents cannot be updated`);
      if (input.version !== undefined && input.version !== current.version) {
        throw conflict(`agent ${JSON.stringify(id)} is at version ${current.version}, not ${input.version}; retrieve it and apply your change again`);
      }
      const next = toJson(agentBodyFromUpdate(agentBodyOf(current.body), input));
      if (sameBody(next, current.body)) return renderAgent(current);
      try {
        const updated = await this.store.updateAgent(workspaceId, id, current.version, next, this.now().toISOString());
        if (!updated) throw notFound('agent', id);
        return renderAgent(updated);
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        if (input.version !== undefined || attempt >= UNCONDITIONAL_UPDATE_ATTEMPTS) {
          throw conflict(`agent ${JSON.stringify(id)} was updated concurrently; retrieve it and apply your change again`);
        }
      }
    }
  }

  async list(workspaceId: string, q: ListQuery): Promise<ListResponse<AgentView>> {
    const { query, reversed } = toPageQuery(q, LIST_DEFAULTS);
    const page = await this.store.listAgents(workspaceId, query);
    return toListResponse(page, reversed, Boolean(q.page), (r) => renderAgent(r));
  }

  /**
   * Every version of an agent, newest first by default. Versions are numbered
   * 1..current without gaps, so the cursor is simply a version number.
   */
  async listVersions(workspaceId: string, id: string, q: Pick<ListQuery, 'limit' | 'page' | 'order'>): Promise<ListResponse<AgentView>> {
    const record = await this.get(workspaceId, id);
    const { query, reversed } = toPageQuery(q, LIST_DEFAULTS);
    const lo = Math.max(1, (query.afterSeq ?? 0) + 1);
    const hi = Math.min(record.version, (query.beforeSeq ?? record.version + 1) - 1);
    const count = Math.max(0, hi - lo + 1);
    const take = Math.min(query.limit, count);
    const numbers = Array.from({ length: take }, (_, i) => (query.order === 'asc' ? lo + i : hi - i));
    const versions = await Promise.all(
      numbers.map(async (v) => {
        const found = v === record.version ? null : await this.store.getAgentVersion(workspaceId, id, v);
        if (v !== record.version && !found) throw new Error(`agent ${id} has no stored version ${v}`);
        return { seq: v, id: `${id}@${v}`, view: renderAgent(record, found ?? undefined) };
      }),
    );
    const response = toListResponse({ items: versions, hasMore: count > take }, reversed, Boolean(q.page), (v) => v.view);
    // first_id/last_id would name the synthetic per-version ids above; the agent id is what a client can use.
    return { ...response, first_id: response.data.length ? id : null, last_id: response.data.length ? id : null };
  }

  /** Sets `archived_at`; archiving an archived agent returns it unchanged. */
  async archive(workspaceId: string, id: string): Promise<AgentView> {
    const record = await this.store.archiveAgent(workspaceId, id, this.now().toISOString());
    if (!record) throw notFound('agent', id);
    return renderAgent(record);
  }

  private async get(workspaceId: string, id: string): Promise<AgentRecord> {
    const record = await this.store.getAgent(workspaceId, id);
    if (!record) throw notFound('agent', id);
    return record;
  }
}
