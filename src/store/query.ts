import type { EventQuery, Page, PageQuery, SessionPatch, SessionQuery } from './store.js';

/**
 * SQL pieces both backends share. Table columns are named the same in SQLite
 * and PostgreSQL (`seq`, `created_at`, `archived_at`), so only the placeholder
 * syntax differs.
 */

/** Collects bound values and hands out the placeholder for each. */
export class Params {
  readonly values: unknown[] = [];

  constructor(private readonly style: 'sqlite' | 'postgres') {}

  add(value: unknown): string {
    this.values.push(value);
    return this.style === 'postgres' ? `$${this.values.length}` : '?';
  }

  /** Placeholders for `IN (...)`; the caller ensures `values` is not empty. */
  list(values: readonly unknown[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/**
 * Timestamps are stored in one canonical form (UTC, milliseconds, `Z`) so that
 * SQLite can compare them as text and both backends return the same string.
 */
export function isoTimestamp(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid timestamp ${JSON.stringify(value)}`);
  return date.toISOString();
}

/** Conditions for the seq cursor and the created_at filters of a page query. */
export function pageConditions(query: PageQuery | EventQuery, params: Params): string[] {
  const where: string[] = [];
  if (query.afterSeq !== undefined) where.push(`seq > ${params.add(query.afterSeq)}`);
  if (query.beforeSeq !== undefined) where.push(`seq < ${params.add(query.beforeSeq)}`);
  if (query.createdGte !== undefined) where.push(`created_at >= ${params.add(isoTimestamp(query.createdGte))}`);
  if (query.createdGt !== undefined) where.push(`created_at > ${params.add(isoTimestamp(query.createdGt))}`);
  if (query.createdLte !== undefined) where.push(`created_at <= ${params.add(isoTimestamp(query.createdLte))}`);
  if (query.createdLt !== undefined) where.push(`created_at < ${params.add(isoTimestamp(query.createdLt))}`);
  return where;
}

/** Conditions for a listable resource: workspace, cursor, dates, archived. */
export function listedConditions(workspaceId: string, query: PageQuery, params: Params): string[] {
  const where = [`workspace_id = ${params.add(workspaceId)}`, ...pageConditions(query, params)];
  if (!query.includeArchived) where.push('archived_at IS NULL');
  return where;
}

/** `listedConditions` plus the session filters. Empty filter lists filter nothing. */
export function sessionConditions(workspaceId: string, query: SessionQuery, params: Params): string[] {
  const where = listedConditions(workspaceId, query, params);
  if (query.agentId !== undefined) where.push(`agent_id = ${params.add(query.agentId)}`);
  if (query.agentVersion !== undefined) where.push(`agent_version = ${params.add(query.agentVersion)}`);
  if (query.statuses?.length) where.push(`status IN (${params.list(query.statuses)})`);
  return where;
}

/** Conditions for one session's event log. Empty `types` filters nothing. */
export function eventConditions(sessionId: string, query: EventQuery, params: Params): string[] {
  const where = [`session_id = ${params.add(sessionId)}`, ...pageConditions(query, params)];
  if (query.types?.length) where.push(`type IN (${params.list(query.types)})`);
  return where;
}

/** The `SET` list for a session patch; fields left undefined keep their value. */
export function sessionAssignments(patch: SessionPatch, params: Params): string {
  const set: string[] = [];
  if (patch.status !== undefined) set.push(`status = ${params.add(patch.status)}`);
  if (patch.body !== undefined) set.push(`body = ${params.add(JSON.stringify(patch.body))}`);
  if (patch.archivedAt !== undefined) {
    set.push(`archived_at = ${params.add(patch.archivedAt === null ? null : isoTimestamp(patch.archivedAt))}`);
  }
  set.push(`updated_at = ${params.add(isoTimestamp(patch.updatedAt))}`);
  return set.join(', ');
}

/** An optional timestamp in canonical form. */
export function isoOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : isoTimestamp(value);
}

/**
 * `ORDER BY ... LIMIT` fetching one row more than asked, so `finishPage` can
 * tell whether more rows exist without a second query.
 */
export function pageTail(query: { order: 'asc' | 'desc'; limit: number }, params: Params): string {
  return `ORDER BY seq ${query.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${params.add(pageLimit(query.limit) + 1)}`;
}

export function finishPage<R, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const n = pageLimit(limit);
  return { items: rows.slice(0, n).map(map), hasMore: rows.length > n };
}

export function whereClause(conditions: string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`invalid page limit ${limit}`);
  return limit;
}

/** The stored subpath of a transcript key: '' for the main transcript. */
export function transcriptSubpath(key: { subpath?: string }): string {
  return key.subpath ?? '';
}

/** An entry's idempotency key: its `uuid` when that is a non-empty string. */
export function entryUuid(entry: { uuid?: unknown }): string | null {
  return typeof entry.uuid === 'string' && entry.uuid !== '' ? entry.uuid : null;
}
