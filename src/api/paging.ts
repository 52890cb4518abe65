import { z } from 'zod';
import { invalid } from '../errors.js';
import type { Page, PageQuery } from '../store/store.js';

/**
 * Cursors are opaque to clients: base64url of `{ s: seq, d: direction }`.
 * `next` pages continue in the listing's order; `prev` pages walk back.
 */
interface CursorBody {
  s: number;
  d: 'next' | 'prev';
}

export function encodeCursor(seq: number, d: CursorBody['d']): string {
  return Buffer.from(JSON.stringify({ s: seq, d } satisfies CursorBody)).toString('base64url');
}

export function decodeCursor(page: string): CursorBody {
  try {
    const body = JSON.parse(Buffer.from(page, 'base64url').toString('utf8')) as unknown;
    const parsed = z.object({ s: z.number().int().nonnegative(), d: z.enum(['next', 'prev']) }).parse(body);
    return parsed;
  } catch {
    throw invalid(`page: ${JSON.stringify(page)} is not a cursor this server issued`);
  }
}

/** Reads a query-string array sent as `name[]=a&name[]=b` (the client's format), `name=a` or `name=a,b`. */
export function queryArray(query: Record<string, unknown>, name: string): string[] | undefined {
  const raw = query[`${name}[]`] ?? query[name];
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.flatMap((v) => String(v).split(',')).filter((v) => v.length > 0);
}

const limitSchema = z.coerce.number().int().min(1).max(1000);

export const listQuerySchema = z.object({
  limit: limitSchema.optional(),
  page: z.string().min(1).optional().nullable(),
  order: z.enum(['asc', 'desc']).optional(),
  include_archived: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  'created_at[gte]': z.string().datetime({ offset: true }).optional(),
  'created_at[lte]': z.string().datetime({ offset: true }).optional(),
  'created_at[gt]': z.string().datetime({ offset: true }).optional(),
  'created_at[lt]': z.string().datetime({ offset: true }).optional(),
});

export type ListQuery = z.infer<typeof listQuerySchema>;

/**
 * Turns the API's list parameters into a store query. A `prev` cursor walks
 * in the opposite order from its bound; the page is flipped back afterwards
 * (see `toListResponse`).
 */
export function toPageQuery(q: ListQuery, defaults: { limit: number; order: 'asc' | 'desc' }): { query: PageQuery; reversed: boolean } {
  const order = q.order ?? defaults.order;
  const query: PageQuery = {
    limit: q.limit ?? defaults.limit,
    order,
    includeArchived: q.include_archived ?? false,
    createdGte: q['created_at[gte]'],
    createdLte: q['created_at[lte]'],
    createdGt: q['created_at[gt]'],
    createdLt: q['created_at[lt]'],
  };
  let reversed = false;
  if (q.page) {
    const cursor = decodeCursor(q.page);
    const forwardIsAsc = order === 'asc';
    if (cursor.d === 'next') {
      if (forwardIsAsc) query.afterSeq = cursor.s;
      else query.beforeSeq = cursor.s;
    } else {
      reversed = true;
      query.order = forwardIsAsc ? 'desc' : 'asc';
      if (forwardIsAsc) query.beforeSeq = cursor.s;
      else query.afterSeq = cursor.s;
    }
  }
  return { query, reversed };
}

export interface ListResponse<T> {
  data: T[];
  next_page: string | null;
  prev_page: string | null;
  /** Kept for clients that read the older field. */
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export function toListResponse<R extends { seq: number; id: string }, T>(
  page: Page<R>,
  reversed: boolean,
  hadCursor: boolean,
  render: (record: R) => T,
): ListResponse<T> {
  const items = reversed ? [...page.items].reverse() : page.items;
  const first = items[0];
  const last = items[items.length - 1];
  // Walking forward, "more" lies after the last item; walking back, before the first.
  const moreForward = reversed ? hadCursor : page.hasMore;
  const moreBack = reversed ? page.hasMore : hadCursor;
  return {
    data: items.map(render),
    next_page: moreForward && last ? encodeCursor(last.seq, 'next') : null,
    prev_page: moreBack && first ? encodeCursor(first.seq, 'prev') : null,
    has_more: moreForward,
    first_id: first?.id ?? null,
    last_id: last?.id ?? null,
  };
}
