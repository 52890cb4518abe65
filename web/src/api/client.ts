/**
 * The console's only way to the server: ordinary `/v1` API calls with the
 * workspace key in `x-api-key`, exactly as any other client makes them.
 */
import type {
  Agent,
  AgentCreateParams,
  AgentUpdateParams,
  Environment,
  EnvironmentCreateParams,
  EnvironmentUpdateParams,
  ErrorBody,
  EventParams,
  ListPage,
  ModelRequestEndEvent,
  Session,
  SessionCreateParams,
  SessionStatus,
} from './types';
import type { AnyEvent } from '../lib/transcript';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) params.append(`${k}[]`, item);
    else params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  /** Called when the server refuses the key (401), e.g. after it is revoked. */
  onUnauthorized: (() => void) | undefined;

  constructor(
    readonly key: string,
    readonly baseUrl = '',
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      'x-api-key': this.key,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'managed-agents-2026-04-01',
      ...extra,
    };
  }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, options: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}${queryString(options.query)}`, {
        method,
        headers: this.headers(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, 'network_error', `The server could not be reached (${(error as Error).message}).`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const err = (body as ErrorBody | undefined)?.error;
      if (res.status === 401) this.onUnauthorized?.();
      throw new ApiError(res.status, err?.type ?? 'api_error', err?.message ?? `${res.status} ${res.statusText}`);
    }
    return body as T;
  }

  /** Every page of a list, following `next_page` (up to `max` items). */
  async listAll<T>(path: string, query: Query = {}, max = 1000, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let page: string | undefined;
    do {
      const res = await this.request<ListPage<T>>('GET', path, { query: { ...query, ...(page ? { page } : {}) }, ...(signal ? { signal } : {}) });
      out.push(...res.data);
      page = res.next_page ?? undefined;
    } while (page && out.length < max);
    return out.slice(0, max);
  }

  // Sessions
  listSessions(query: { statuses?: SessionStatus[]; limit?: number; include_archived?: boolean; page?: string } = {}): Promise<ListPage<Session>> {
    return this.request('GET', '/v1/sessions', { query });
  }
  getSession(id: string): Promise<Session> {
    return this.request('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }
  createSession(body: SessionCreateParams): Promise<Session> {
    return this.request('POST', '/v1/sessions', { body });
  }
  archiveSession(id: string): Promise<Session> {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(id)}/archive`);
  }
  sendEvents(id: string, events: EventParams[]): Promise<{ data: AnyEvent[] }> {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(id)}/events`, { body: { events } });
  }
  listEvents(id: string, query: { types?: string[]; order?: 'asc' | 'desc'; limit?: number } = {}, max = 10_000, signal?: AbortSignal): Promise<AnyEvent[]> {
    return this.listAll<AnyEvent>(`/v1/sessions/${encodeURIComponent(id)}/events`, { limit: 500, ...query }, max, signal);
  }
  modelRequestEnds(id: string, signal?: AbortSignal): Promise<ModelRequestEndEvent[]> {
    return this.listAll<ModelRequestEndEvent>(`/v1/sessions/${encodeURIComponent(id)}/events`, { types: ['span.model_request_end'], limit: 1000 }, 100_000, signal);
  }

  // Agents
  listAgents(): Promise<Agent[]> {
    return this.listAll<Agent>('/v1/agents', { limit: 100 });
  }
  getAgent(id: string): Promise<Agent> {
    return this.request('GET', `/v1/agents/${encodeURIComponent(id)}`);
  }
  createAgent(body: AgentCreateParams): Promise<Agent> {
    return this.request('POST', '/v1/agents', { body });
  }
  updateAgent(id: string, body: AgentUpdateParams): Promise<Agent> {
    return this.request('POST', `/v1/agents/${encodeURIComponent(id)}`, { body });
  }

  // Environments
  listEnvironments(): Promise<Environment[]> {
    return this.listAll<Environment>('/v1/environments', { limit: 100 });
  }
  getEnvironment(id: string): Promise<Environment> {
    return this.request('GET', `/v1/environments/${encodeURIComponent(id)}`);
  }
  createEnvironment(body: EnvironmentCreateParams): Promise<Environment> {
    return this.request('POST', '/v1/environments', { body });
  }
  updateEnvironment(id: string, body: EnvironmentUpdateParams): Promise<Environment> {
    return this.request('POST', `/v1/environments/${encodeURIComponent(id)}`, { body });
  }
}
