import { sql, type Generated, type SelectQueryBuilder } from 'kysely';
import type { EventQuery, JsonObject, ListedRecord, Page, PageQuery } from './store.js';

/** Pieces every store module shares: timestamps, JSON columns, seq paging. */

/**
 * Timestamps are stored in one canonical form (UTC, milliseconds, `Z`) so that
 * SQLite can compare them as text and both backends return the same string.
 */
export function isoTimestamp(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid timestamp ${JSON.stringify(value)}`);
  return date.toISOString();
}

/** An optional timestamp in canonical form. */
export function isoOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : isoTimestamp(value);
}

/** A JSON column's text (both backends hand JSON back as text) as the object it holds. */
export const object = <T = JsonObject>(text: string): T => JSON.parse(text) as T;

/** The columns of a listable resource's table (agents, environments, sessions). */
export interface ListedTable {
  seq: Generated<number>;
  id: string;
  workspace_id: string;
  /** JSON text. */
  body: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

type ListedRow = Omit<ListedTable, 'seq'> & { seq: number };

export const toListed = (r: ListedRow): ListedRecord & { body: JsonObject } => ({
  id: r.id,
  workspaceId: r.workspace_id,
  seq: r.seq,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  archivedAt: r.archived_at,
  body: object(r.body),
});

/** The columns `listedValues` fills. */
export const LISTED_COLUMNS = ['id', 'workspace_id', 'body', 'created_at', 'updated_at', 'archived_at'] as const;

/** The columns every listable record shares, as a row to insert. */
export const listedValues = (r: Omit<ListedRecord, 'seq'> & { body: JsonObject }) => ({
  id: r.id,
  workspace_id: r.workspaceId,
  body: JSON.stringify(r.body),
  created_at: isoTimestamp(r.createdAt),
  updated_at: isoTimestamp(r.updatedAt),
  archived_at: isoOrNull(r.archivedAt),
});

/** The SET of an archive: archived_at once, and updated_at only by the archive that sets it. */
export function archiveSet(at: string) {
  const ts = isoTimestamp(at);
  return {
    archived_at: sql<string>`coalesce(archived_at, ${ts})`,
    updated_at: sql<string>`case when archived_at is null then ${ts} else updated_at end`,
  };
}

/**
 * One page of a query over a table with `seq` and `created_at`: the seq
 * cursor, the created filters, the order, and one row more than asked for,
 * so `hasMore` needs no second query. `includeArchived` is the caller's.
 */
export async function page<DB, TB extends keyof DB, O, T>(
  qb: SelectQueryBuilder<DB, TB, O>,
  query: PageQuery | EventQuery,
  map: (row: O) => T,
): Promise<Page<T>> {
  const limit = pageLimit(query.limit);
  const seq = sql.ref<number>('seq');
  const created = sql.ref<string>('created_at');
  const rows = await qb
    .$if(query.afterSeq !== undefined, (q) => q.where(seq, '>', query.afterSeq!))
    .$if(query.beforeSeq !== undefined, (q) => q.where(seq, '<', query.beforeSeq!))
    .$if(query.createdGte !== undefined, (q) => q.where(created, '>=', isoTimestamp(query.createdGte!)))
    .$if(query.createdGt !== undefined, (q) => q.where(created, '>', isoTimestamp(query.createdGt!)))
    .$if(query.createdLte !== undefined, (q) => q.where(created, '<=', isoTimestamp(query.createdLte!)))
    .$if(query.createdLt !== undefined, (q) => q.where(created, '<', isoTimestamp(query.createdLt!)))
    .orderBy(seq, query.order === 'desc' ? 'desc' : 'asc')
    .limit(limit + 1)
    .execute();
  return finishPage(rows, limit, map);
}

/** `page` over a listable table: archived rows are left out unless the query includes them. */
export function listedPage<DB, TB extends keyof DB, O, T>(qb: SelectQueryBuilder<DB, TB, O>, query: PageQuery, map: (row: O) => T): Promise<Page<T>> {
  return page(qb.$if(!query.includeArchived, (q) => q.where(sql.ref('archived_at'), 'is', null)), query, map);
}

export function finishPage<R, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const n = pageLimit(limit);
  return { items: rows.slice(0, n).map(map), hasMore: rows.length > n };
}

function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`invalid page limit ${limit}`);
  return limit;
}

/**
 * `items` in slices small enough for one multi-row statement: SQLite binds
 * at most 32,766 values, PostgreSQL 65,535.
 */
export function* batches<T>(items: T[], size = 500): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
