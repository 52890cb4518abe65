import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ListedRecord, Page, PageQuery, Store } from '../store.js';
import { agent, at, environment, ids, session, workspace, type GetStore } from './fixtures.js';

/** How to create, list and archive one kind of listable resource. */
interface Kind {
  name: string;
  create(store: Store, workspaceId: string, createdAt: string): Promise<ListedRecord>;
  list(store: Store, workspaceId: string, query: PageQuery): Promise<Page<ListedRecord>>;
  archive(store: Store, workspaceId: string, id: string, at: string): Promise<unknown>;
}

const kinds: Kind[] = [
  {
    name: 'agents',
    create: (store, ws, createdAt) => agent(store, ws, { createdAt }),
    list: (store, ws, q) => store.listAgents(ws, q),
    archive: (store, ws, id, t) => store.archiveAgent(ws, id, t),
  },
  {
    name: 'environments',
    create: (store, ws, createdAt) => environment(store, ws, { createdAt }),
    list: (store, ws, q) => store.listEnvironments(ws, q),
    archive: (store, ws, id, t) => store.archiveEnvironment(ws, id, t),
  },
  {
    name: 'sessions',
    create: async (store, ws, createdAt) => (await session(store, ws, { createdAt })).session,
    list: (store, ws, q) => store.listSessions(ws, q),
    archive: (store, ws, id, t) => store.updateSession(ws, id, { archivedAt: t, updatedAt: t }),
  },
];

export function pagingTests(store: GetStore): void {
  for (const kind of kinds) {
    describe(`paging ${kind.name}`, () => {
      /** Seven records in one workspace (created at seconds 1..7), interleaved with two in another. */
      async function seed(): Promise<{ ws: string; other: string; records: ListedRecord[] }> {
        const ws = await workspace(store());
        const other = await workspace(store());
        const records: ListedRecord[] = [];
        for (let i = 1; i <= 7; i++) {
          records.push(await kind.create(store(), ws, at(i)));
          if (i % 3 === 0) await kind.create(store(), other, at(i));
        }
        return { ws, other, records };
      }

      async function walk(ws: string, order: 'asc' | 'desc', limit: number, extra: Partial<PageQuery> = {}) {
        const pages: { ids: string[]; hasMore: boolean }[] = [];
        let cursor: number | undefined;
        for (;;) {
          const bound = cursor === undefined ? {} : order === 'asc' ? { afterSeq: cursor } : { beforeSeq: cursor };
          const page = await kind.list(store(), ws, { limit, order, ...extra, ...bound });
          pages.push({ ids: ids(page.items), hasMore: page.hasMore });
          if (!page.hasMore || pages.length > 10) return pages;
          cursor = page.items[page.items.length - 1]!.seq;
        }
      }

      it('seq increases strictly in insertion order across workspaces', async () => {
        const { records } = await seed();
        const more = await kind.create(store(), await workspace(store()), at(8));
        const all = [...records, more].map((r) => r.seq);
        assert.deepEqual(all, [...all].sort((a, b) => a - b));
        assert.equal(new Set(all).size, all.length);
      });

      it('pages forwards with afterSeq', async () => {
        const { ws, records } = await seed();
        const r = ids(records);
        assert.deepEqual(await walk(ws, 'asc', 3), [
          { ids: r.slice(0, 3), hasMore: true },
          { ids: r.slice(3, 6), hasMore: true },
          { ids: r.slice(6), hasMore: false },
        ]);
      });

      it('pages backwards with beforeSeq', async () => {
        const { ws, records } = await seed();
        const r = ids(records).reverse();
        assert.deepEqual(await walk(ws, 'desc', 3), [
          { ids: r.slice(0, 3), hasMore: true },
          { ids: r.slice(3, 6), hasMore: true },
          { ids: r.slice(6), hasMore: false },
        ]);
      });

      it('afterSeq and beforeSeq together bound a window in either order', async () => {
        const { ws, records } = await seed();
        const seq = (i: number) => records[i]!.seq;
        const r = ids(records);
        const asc = await kind.list(store(), ws, { limit: 2, order: 'asc', afterSeq: seq(1), beforeSeq: seq(5) });
        assert.deepEqual({ ids: ids(asc.items), hasMore: asc.hasMore }, { ids: r.slice(2, 4), hasMore: true });
        const desc = await kind.list(store(), ws, { limit: 5, order: 'desc', afterSeq: seq(1), beforeSeq: seq(5) });
        assert.deepEqual({ ids: ids(desc.items), hasMore: desc.hasMore }, { ids: r.slice(2, 5).reverse(), hasMore: false });
        const exact = await kind.list(store(), ws, { limit: 7, order: 'asc' });
        assert.equal(exact.hasMore, false);
      });

      it('leaves archived records out unless asked, and hasMore counts only what is listed', async () => {
        const { ws, records } = await seed();
        for (const i of [1, 5, 6]) await kind.archive(store(), ws, records[i]!.id, at(20));
        const r = ids(records);
        const visible = [r[0]!, r[2]!, r[3]!, r[4]!];
        assert.deepEqual(await walk(ws, 'asc', 2), [
          { ids: visible.slice(0, 2), hasMore: true },
          { ids: visible.slice(2), hasMore: false },
        ]);
        const everything = await kind.list(store(), ws, { limit: 10, order: 'asc', includeArchived: true });
        assert.deepEqual(ids(everything.items), r);
        assert.equal(everything.items[1]!.archivedAt, at(20));
      });

      it('filters on created_at bounds', async () => {
        const { ws, records } = await seed();
        const r = ids(records);
        const list = async (q: Partial<PageQuery>) =>
          ids((await kind.list(store(), ws, { limit: 10, order: 'asc', ...q })).items);
        assert.deepEqual(await list({ createdGte: at(3), createdLte: at(5) }), r.slice(2, 5));
        assert.deepEqual(await list({ createdGt: at(3), createdLt: at(5) }), r.slice(3, 4));
        assert.deepEqual(await list({ createdGte: at(6) }), r.slice(5));
        // Same instant written with an offset: bounds compare as times, not text.
        assert.deepEqual(await list({ createdLt: '2025-01-01T02:00:03+02:00' }), r.slice(0, 2));
      });

      it('never lists another workspace\'s records', async () => {
        const { other, records } = await seed();
        const page = await kind.list(store(), other, { limit: 10, order: 'asc', includeArchived: true });
        assert.equal(page.items.length, 2);
        for (const item of page.items) assert.equal(item.workspaceId, other);
        assert.ok(!page.items.some((item) => records.some((rec) => rec.id === item.id)));
      });
    });
  }
}
