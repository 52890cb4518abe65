import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreConflictError, StoreNotFoundError } from '../store.js';
import { at, event, ids, range, seqs, session, workspace, type GetStore } from './fixtures.js';

const all = { limit: 1000, order: 'asc' as const };

export function eventTests(store: GetStore): void {
  describe('events', () => {
    it('appendEvents continues the log and applies the patch in the same call', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws, { createdAt: at(1), events: [event(), event()] });
      const plain = await store().appendEvents(s.id, [event('agent.message', at(2))]);
      assert.deepEqual(seqs(plain.events), [3]);
      assert.deepEqual(plain.session, s);
      const patched = await store().appendEvents(s.id, [event('a', at(3)), event('b', at(3))], {
        status: 'running',
        updatedAt: at(3),
      });
      assert.deepEqual(seqs(patched.events), [4, 5]);
      assert.deepEqual(patched.session, { ...s, status: 'running', updatedAt: at(3) });
      assert.deepEqual(await store().getSession(ws, s.id), patched.session);
      const onlyPatch = await store().appendEvents(s.id, [], { status: 'idle', updatedAt: at(4) });
      assert.deepEqual(onlyPatch.events, []);
      assert.equal(onlyPatch.session.status, 'idle');
      assert.deepEqual(seqs((await store().listEvents(s.id, all)).items), [1, 2, 3, 4, 5]);
    });

    it('concurrent appends to one session get seqs 1..N with no gaps or interleaving', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const batches = range(1, 40).map((i) => range(1, (i % 3) + 1).map(() => event('agent.message', at(i))));
      const results = await Promise.all(batches.map((batch) => store().appendEvents(s.id, batch)));
      const total = batches.reduce((n, b) => n + b.length, 0);
      results.forEach((r, i) => {
        assert.deepEqual(ids(r.events), ids(batches[i]!));
        const first = r.events[0]!.seq;
        assert.deepEqual(seqs(r.events), range(first, first + r.events.length - 1));
      });
      const stored = (await store().listEvents(s.id, all)).items;
      assert.deepEqual(seqs(stored), range(1, total));
      assert.deepEqual(new Set(ids(stored)), new Set(batches.flat().map((e) => e.id)));
    });

    it('a batch of 1,200 events (more than one statement holds) is appended whole and in order', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws, { events: [event()] });
      const batch = range(1, 1200).map((i) => event('agent.message', at(i), { n: i }));
      const { events } = await store().appendEvents(s.id, batch);
      assert.deepEqual(ids(events), ids(batch));
      assert.deepEqual(seqs(events), range(2, 1201));
      const stored = (await store().listEvents(s.id, { limit: 2000, order: 'asc' })).items;
      assert.deepEqual(stored.slice(1).map((e) => e.body.n), range(1, 1200));
    });

    it('appending to a missing or deleted session is not found', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      await assert.rejects(store().appendEvents('sesn_unknown', [event()]), StoreNotFoundError);
      await store().deleteSession(ws, s.id);
      await assert.rejects(store().appendEvents(s.id, [event()]), StoreNotFoundError);
      await assert.rejects(store().appendEvents(s.id, [], { status: 'idle', updatedAt: at(2) }), StoreNotFoundError);
    });

    it('a failed append stores nothing and applies no patch', async () => {
      const ws = await workspace(store());
      const { session: s, events } = await session(store(), ws, { events: [event()] });
      const duplicate = { ...event(), id: events[0]!.id };
      await assert.rejects(
        store().appendEvents(s.id, [event(), duplicate], { status: 'running', updatedAt: at(5) }),
        StoreConflictError,
      );
      assert.deepEqual(await store().getSession(ws, s.id), s);
      const next = await store().appendEvents(s.id, [event()]);
      assert.deepEqual(seqs(next.events), [2]);
    });

    it('event bodies round-trip exactly, key order included', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const e = event('agent.tool_result', at(1), {
        zeta: 1,
        alpha: 'NUL \u0000, quotes " \\ and ünïcødé 🚀',
        content: [{ type: 'text', text: 'x'.repeat(10_000) }],
      });
      const [stored] = (await store().appendEvents(s.id, [e])).events;
      const fetched = await store().getEvent(s.id, e.id);
      assert.deepEqual(fetched, stored);
      assert.deepEqual(fetched?.body, e.body);
      assert.deepEqual(Object.keys(fetched?.body ?? {}), Object.keys(e.body));
    });

    it('getEvent finds an event only through its own session', async () => {
      const ws = await workspace(store());
      const { session: s, events } = await session(store(), ws, { events: [event()] });
      const { session: t } = await session(store(), ws);
      const e = events[0]!;
      assert.deepEqual(await store().getEvent(s.id, e.id), e);
      assert.equal(await store().getEvent(t.id, e.id), null);
      assert.equal(await store().getEvent(s.id, 'sevt_unknown'), null);
    });

    it('listEvents filters by type and created_at', async () => {
      const ws = await workspace(store());
      const types = ['user.message', 'agent.message', 'agent.tool_use', 'agent.message', 'session.status_idle'];
      const { session: s } = await session(store(), ws, { events: types.map((t, i) => event(t, at(i + 1))) });
      const list = async (q: object) => seqs((await store().listEvents(s.id, { ...all, ...q })).items);
      assert.deepEqual(await list({ types: ['agent.message'] }), [2, 4]);
      assert.deepEqual(await list({ types: ['agent.message', 'user.message'] }), [1, 2, 4]);
      assert.deepEqual(await list({ types: [] }), [1, 2, 3, 4, 5]);
      assert.deepEqual(await list({ createdGte: at(2), createdLt: at(4) }), [2, 3]);
      assert.deepEqual(await list({ createdGt: at(2), createdLte: at(4) }), [3, 4]);
      assert.deepEqual(await list({ types: ['agent.message'], createdGt: at(2) }), [4]);
    });

    it('listEvents pages forwards and backwards', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws, { events: range(1, 7).map(() => event()) });
      await session(store(), ws, { events: range(1, 3).map(() => event()) });
      const pages = async (order: 'asc' | 'desc') => {
        const out: { seqs: number[]; hasMore: boolean }[] = [];
        let cursor: number | undefined;
        for (;;) {
          const cursorKey = order === 'asc' ? 'afterSeq' : 'beforeSeq';
          const p = await store().listEvents(s.id, { limit: 3, order, ...(cursor === undefined ? {} : { [cursorKey]: cursor }) });
          out.push({ seqs: seqs(p.items), hasMore: p.hasMore });
          if (!p.hasMore) return out;
          cursor = p.items[p.items.length - 1]!.seq;
        }
      };
      assert.deepEqual(await pages('asc'), [
        { seqs: [1, 2, 3], hasMore: true },
        { seqs: [4, 5, 6], hasMore: true },
        { seqs: [7], hasMore: false },
      ]);
      assert.deepEqual(await pages('desc'), [
        { seqs: [7, 6, 5], hasMore: true },
        { seqs: [4, 3, 2], hasMore: true },
        { seqs: [1], hasMore: false },
      ]);
      const window = await store().listEvents(s.id, { limit: 2, order: 'desc', afterSeq: 2, beforeSeq: 7 });
      assert.deepEqual({ seqs: seqs(window.items), hasMore: window.hasMore }, { seqs: [6, 5], hasMore: true });
      const exact = await store().listEvents(s.id, { limit: 7, order: 'asc' });
      assert.equal(exact.hasMore, false);
    });
  });
}
