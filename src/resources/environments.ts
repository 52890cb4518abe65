import { AppError, ErrorCode, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { type ListQuery, type ListResponse, toListResponse, toPageQuery } from '../api/paging.js';
import { type EnvironmentRecord, type Store, StoreConflictError } from '../store/store.js';
import { parseBody, sameBody, toJson } from './common-schema.js';
import {
  type EnvironmentBody,
  type ProviderChoice,
  environmentBodyFromCreate,
  environmentBodyFromUpdate,
  environmentBodyOf,
} from './environment-body.js';
import { environmentCreateSchema, environmentUpdateSchema } from './environment-schema.js';

/** A warm pool's state now (agenthost extension, on `GET /v1/environments/{id}` only). */
export interface WarmPoolStatusView {
  ready: number;
  starting: number;
  target: number;
}

/** The environment as the API shows it (`BetaEnvironment`). */
export type EnvironmentView = { id: string; type: 'environment' } & EnvironmentBody & {
  created_at: string;
  updated_at: string;
  archived_at: string | null;
};

export interface EnvironmentDeleted {
  id: string;
  type: 'environment_deleted';
}

/** The part of the Store environments need; a full Store satisfies it. */
export type EnvironmentStore = Pick<
  Store,
  'createEnvironment' | 'getEnvironment' | 'updateEnvironment' | 'listEnvironments' | 'archiveEnvironment' | 'deleteEnvironment'
>;

const LIST_DEFAULTS = { limit: 20, order: 'desc' } as const;

export function renderEnvironment(record: EnvironmentRecord): EnvironmentView {
  return {
    id: record.id,
    type: 'environment',
    ...environmentBodyOf(record.body),
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    archived_at: record.archivedAt,
  };
}

/**
 * Environments: where sessions run. Archived environments stay readable but
 * cannot be updated, and the session service refuses them for new sessions
 * (it checks `archived_at`). Deleting one that sessions still reference is a
 * 409.
 */
export class EnvironmentService {
  private readonly store: EnvironmentStore;
  private readonly now: () => Date;
  private readonly choice: ProviderChoice;

  private readonly warmPoolStatus: ((workspaceId: string, id: string) => WarmPoolStatusView) | undefined;

  constructor(deps: {
    store: EnvironmentStore;
    providers: string[];
    defaultProvider: string;
    now?: () => Date;
    /** The environment's warm sandboxes now, shown as `warm_pool_status` when retrieved. */
    warmPoolStatus?: (workspaceId: string, id: string) => WarmPoolStatusView;
  }) {
    if (!deps.providers.includes(deps.defaultProvider)) {
      throw new Error(`default sandbox provider ${JSON.stringify(deps.defaultProvider)} is not among the providers (${deps.providers.join(', ')})`);
    }
    this.store = deps.store;
    this.warmPoolStatus = deps.warmPoolStatus;
    this.now = deps.now ?? (() => new Date());
    this.choice = { providers: [...deps.providers], defaultProvider: deps.defaultProvider };
  }

  async create(workspaceId: string, params: unknown): Promise<EnvironmentView> {
    const body = environmentBodyFromCreate(parseBody(environmentCreateSchema, params), this.choice);
    const at = this.now().toISOString();
    const record = await this.store.createEnvironment({
      id: newId('env'),
      workspaceId,
      body: toJson(body),
      createdAt: at,
      updatedAt: at,
      archivedAt: null,
    });
    return renderEnvironment(record);
  }

  async retrieve(workspaceId: string, id: string): Promise<EnvironmentView & { warm_pool_status?: WarmPoolStatusView }> {
    const view = renderEnvironment(await this.get(workspaceId, id));
    return this.warmPoolStatus ? { ...view, warm_pool_status: this.warmPoolStatus(workspaceId, id) } : view;
  }

  /** Applies EnvironmentUpdateParams; an update that changes nothing writes nothing. */
  async update(workspaceId: string, id: string, params: unknown): Promise<EnvironmentView> {
    const input = parseBody(environmentUpdateSchema, params);
    const current = await this.get(workspaceId, id);
    if (current.archivedAt) {
      // details.error_code lets the client raise BetaEnvironmentArchivedError.
      throw new AppError(ErrorCode.invalidRequest, `environment ${JSON.stringify(id)} is archived; archived environments cannot be updated`, {
        error_code: 'environment_archived',
      });
    }
    const next = toJson(environmentBodyFromUpdate(environmentBodyOf(current.body), input, this.choice));
    if (sameBody(next, current.body)) return renderEnvironment(current);
    const updated = await this.store.updateEnvironment(workspaceId, id, next, this.now().toISOString());
    if (!updated) throw notFound('environment', id);
    return renderEnvironment(updated);
  }

  async list(workspaceId: string, q: ListQuery): Promise<ListResponse<EnvironmentView>> {
    const { query, reversed } = toPageQuery(q, LIST_DEFAULTS);
    const page = await this.store.listEnvironments(workspaceId, query);
    return toListResponse(page, reversed, Boolean(q.page), renderEnvironment);
  }

  /** Sets `archived_at`; archiving an archived environment returns it unchanged. */
  async archive(workspaceId: string, id: string): Promise<EnvironmentView> {
    const record = await this.store.archiveEnvironment(workspaceId, id, this.now().toISOString());
    if (!record) throw notFound('environment', id);
    return renderEnvironment(record);
  }

  async delete(workspaceId: string, id: string): Promise<EnvironmentDeleted> {
    let deleted: boolean;
    try {
      deleted = await this.store.deleteEnvironment(workspaceId, id);
    } catch (error) {
      if (error instanceof StoreConflictError) {
        throw conflict(`environment ${JSON.stringify(id)} is still used by sessions; delete those sessions first, or archive the environment instead`);
      }
      throw error;
    }
    if (!deleted) throw notFound('environment', id);
    return { id, type: 'environment_deleted' };
  }

  private async get(workspaceId: string, id: string): Promise<EnvironmentRecord> {
    const record = await this.store.getEnvironment(workspaceId, id);
    if (!record) throw notFound('environment', id);
    return record;
  }
}
