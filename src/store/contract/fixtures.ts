import { newId } from '../../ids.js';
import type {
  AgentRecord,
  EnvironmentRecord,
  EventRecord,
  JsonObject,
  NewEvent,
  SessionRecord,
  SessionStatus,
  Store,
} from '../store.js';

/** The store of the running test; each test gets a fresh, migrated one. */
export type GetStore = () => Store;

/** A canonical timestamp `seconds` after a fixed epoch, so ordering is explicit. */
export const at = (seconds: number): string => new Date(Date.UTC(2025, 0, 1) + seconds * 1000).toISOString();

let workspaces = 0;

export async function workspace(store: Store, name = `workspace-${++workspaces}-${newId('req')}`): Promise<string> {
  return (await store.ensureWorkspace(name, newId('wrkspc'), at(0))).id;
}

export function agent(
  store: Store,
  workspaceId: string,
  options: { createdAt?: string; body?: JsonObject } = {},
): Promise<AgentRecord> {
  const createdAt = options.createdAt ?? at(0);
  return store.createAgent({
    id: newId('agent'),
    workspaceId,
    version: 1,
    body: options.body ?? { name: 'helper', model: 'claude-sonnet-4-5', system: 'Be brief.' },
    createdAt,
    updatedAt: createdAt,
    archivedAt: null,
  });
}

export function environment(
  store: Store,
  workspaceId: string,
  options: { createdAt?: string; body?: JsonObject } = {},
): Promise<EnvironmentRecord> {
  const createdAt = options.createdAt ?? at(0);
  return store.createEnvironment({
    id: newId('env'),
    workspaceId,
    body: options.body ?? { name: 'default', config: { type: 'cloud', networking: { type: 'unrestricted' } } },
    createdAt,
    updatedAt: createdAt,
    archivedAt: null,
  });
}

export interface SessionOptions {
  agent?: AgentRecord;
  agentVersion?: number;
  environmentId?: string;
  status?: SessionStatus;
  createdAt?: string;
  body?: JsonObject;
  events?: NewEvent[];
  id?: string;
}

/** Creates a session, and the agent and environment it needs unless given. */
export async function session(
  store: Store,
  workspaceId: string,
  options: SessionOptions = {},
): Promise<{ session: SessionRecord; events: EventRecord[] }> {
  const a = options.agent ?? (await agent(store, workspaceId));
  const environmentId = options.environmentId ?? (await environment(store, workspaceId)).id;
  const createdAt = options.createdAt ?? at(0);
  return store.createSession(
    {
      id: options.id ?? newId('sesn'),
      workspaceId,
      agentId: a.id,
      agentVersion: options.agentVersion ?? a.version,
      environmentId,
      status: options.status ?? 'idle',
      body: options.body ?? { title: null, metadata: {}, usage: { input_tokens: 0, output_tokens: 0 } },
      createdAt,
      updatedAt: createdAt,
      archivedAt: null,
    },
    options.events ?? [],
  );
}

export function event(type = 'user.message', createdAt = at(0), extra: JsonObject = {}): NewEvent {
  const id = newId('sevt');
  return { id, type, createdAt, body: { id, type, processed_at: createdAt, ...extra } };
}

export const ids = (records: { id: string }[]): string[] => records.map((r) => r.id);
export const seqs = (records: { seq: number }[]): number[] => records.map((r) => r.seq);
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A new workspace with one session in it, as the session's `{ id, workspaceId }`. */
export async function sessionRef(store: Store): Promise<{ id: string; workspaceId: string }> {
  const ws = await workspace(store);
  const { session: s } = await session(store, ws);
  return { id: s.id, workspaceId: ws };
}
