import { pageConditions, type Params } from './query.js';
import type { FileQuery } from './store.js';

/** Conditions for a workspace's files: cursor, dates, scope and ids. An empty `ids` matches nothing. */
export function fileConditions(workspaceId: string, query: FileQuery, params: Params): string[] {
  const where = [`workspace_id = ${params.add(workspaceId)}`, ...pageConditions(query, params)];
  if (query.scopeId !== undefined) where.push(`scope_id = ${params.add(query.scopeId)}`);
  if (query.ids !== undefined) where.push(query.ids.length === 0 ? '1 = 0' : `id IN (${params.list(query.ids)})`);
  return where;
}
