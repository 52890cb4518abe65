import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../ids.js';
import {
  StoreConflictError,
  StoreIdempotencyConflictError,
  StoreNotFoundError,
  type IdempotencyRecord,
  type JsonObject,
} from '../store.js';
import { at, event, ids, range, seqs, session, workspace, type GetStore } from './fixtures.js';

const DAY = 24 * 60 * 60;
const all = { limit: 1000, order: 'asc' as const };

/** A record created at `at(seconds)` that expires a day later. */
function record(workspaceId: string, key: string, options: { seconds?: number; hash?: string; response?: JsonObject } = {}): IdempotencyRecord {
  const seconds = options.seconds ?? 0;
  return {
    workspaceId,
    key,
    requestHash: options.hash ?? 'hash-a',
    response: options.response ?? { data: [{ id: newId('sevt'), type: 'user.message' }] },
    createdAt: at(seconds),
    expiresAt: at(seconds + DAY),
  };
}

/** Settles every promise; returns the fulfilled values and the rejections. */
async function settle<T>(promises: Promise<T>[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const results = await Promise.allSettled(promises);
  return {
    ok: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    failed: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

export function idempotencyTests(store: GetStore): void {
  describe('idempotency keys', () => {
    it('the first save holds the key; later saves get the held record back', async () => {
      const ws = await workspace(store());
      const first = record(ws, 'key-1', { response: { data: [], note: 'NUL \u0000 and 🚀', nested: { a: [1, { b: null }] } } });
      assert.equal(await store().saveIdempotentResponse(first), null);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'key-1', at(1)), first);
      const retry = record(ws, 'key-1', { seconds: 5, hash: 'hash-b' });
      assert.deepEqual(await store().saveIdempotentResponse(retry), first);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'key-1', at(6)), first);
      assert.equal(await store().getIdempotentResponse(ws, 'key-2', at(6)), null);
    });

    it('keys are scoped to a workspace', async () => {
      const [one, two] = [await workspace(store()), await workspace(store())];
      assert.equal(await store().saveIdempotentResponse(record(one, 'shared')), null);
      assert.equal(await store().saveIdempotentResponse(record(two, 'shared', { hash: 'other' })), null);
      assert.equal((await store().getIdempotentResponse(two, 'shared', at(1)))?.requestHash, 'other');
      await assert.rejects(store().saveIdempotentResponse(record('wrkspc_unknown', 'k')), StoreNotFoundError);
    });

    it('an expired key is not found, is replaced by a new save, and is pruned', async () => {
      const ws = await workspace(store());
      const old = record(ws, 'old');
      const kept = record(ws, 'kept', { seconds: 10 });
      await store().saveIdempotentResponse(old);
      await store().saveIdempotentResponse(kept);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'old', at(DAY - 1)), old);
      assert.equal(await store().getIdempotentResponse(ws, 'old', at(DAY)), null);

      const reused = record(ws, 'old', { seconds: DAY, hash: 'hash-new' });
      assert.equal(await store().saveIdempotentResponse(reused), null);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'old', at(DAY)), reused);

      assert.equal(await store().pruneIdempotencyKeys(at(DAY + 5)), 0);
      assert.equal(await store().pruneIdempotencyKeys(at(DAY + 10)), 1);
      assert.equal(await store().getIdempotentResponse(ws, 'kept', at(0)), null);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'old', at(DAY)), reused);
      assert.equal(await store().pruneIdempotencyKeys(at(3 * DAY)), 1);
    });

    it('concurrent saves of one key: exactly one holds it, the rest get its record', async () => {
      const ws = await workspace(store());
      const tries = range(1, 12).map((i) => record(ws, 'contended', { hash: `hash-${i}` }));
      const results = await Promise.all(tries.map((r) => store().saveIdempotentResponse(r)));
      const winners = tries.filter((_, i) => results[i] === null);
      assert.equal(winners.length, 1);
      for (const held of results) if (held) assert.deepEqual(held, winners[0]);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'contended', at(1)), winners[0]);
    });

    it('appendEvents with a key appends once; a retry throws the held record and writes nothing', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const first = record(ws, 'send-1');
      const appended = await store().appendEvents(s.id, [event('user.message', at(1))], undefined, { idempotency: first });
      assert.deepEqual(seqs(appended.events), [1]);
      assert.deepEqual(await store().getIdempotentResponse(ws, 'send-1', at(2)), first);

      const retry = store().appendEvents(s.id, [event('user.message', at(2))], { status: 'running', updatedAt: at(2) }, {
        idempotency: record(ws, 'send-1', { seconds: 2, hash: 'hash-b' }),
      });
      await assert.rejects(retry, (error: unknown) => {
        assert.ok(error instanceof StoreIdempotencyConflictError);
        assert.ok(error instanceof StoreConflictError, 'a plain conflict to callers that do not look inside');
        assert.deepEqual(error.existing, first);
        return true;
      });
      assert.deepEqual(seqs((await store().listEvents(s.id, all)).items), [1]);
      assert.deepEqual(await store().getSession(ws, s.id), s);

      // Once expired, the key may be used again.
      const later = record(ws, 'send-1', { seconds: DAY + 1 });
      const again = await store().appendEvents(s.id, [event('user.message', at(DAY + 1))], undefined, { idempotency: later });
      assert.deepEqual(seqs(again.events), [2]);
    });

    it('a failed append keeps no key; an append to another workspace\'s session is not found', async () => {
      const ws = await workspace(store());
      const { session: s, events } = await session(store(), ws, { events: [event()] });
      const duplicate = { ...event(), id: events[0]!.id };
      await assert.rejects(store().appendEvents(s.id, [duplicate], undefined, { idempotency: record(ws, 'k') }), StoreConflictError);
      assert.equal(await store().getIdempotentResponse(ws, 'k', at(1)), null);
      await assert.rejects(store().appendEvents('sesn_unknown', [event()], undefined, { idempotency: record(ws, 'k') }), StoreNotFoundError);
      const other = await workspace(store());
      await assert.rejects(store().appendEvents(s.id, [event()], undefined, { idempotency: record(other, 'k') }), StoreNotFoundError);
      assert.equal(await store().getIdempotentResponse(ws, 'k', at(1)), null);
      assert.equal(await store().getIdempotentResponse(other, 'k', at(1)), null);
      assert.deepEqual(seqs((await store().listEvents(s.id, all)).items), [1]);
    });

    it('concurrent appends with one key: exactly one is applied, the others get its record', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const { session: t } = await session(store(), ws);
      // Retries racing each other, some even aimed at another session of the workspace.
      const attempts = range(1, 10).map((i) => ({
        sessionId: i % 3 === 0 ? t.id : s.id,
        events: [event('user.message', at(i)), event('user.message', at(i))],
        idempotency: record(ws, 'race', { hash: `hash-${i}` }),
      }));
      const { ok, failed } = await settle(
        attempts.map((a) => store().appendEvents(a.sessionId, a.events, undefined, { idempotency: a.idempotency })),
      );
      assert.equal(ok.length, 1);
      assert.equal(failed.length, attempts.length - 1);
      const winner = attempts.find((a) => ids(a.events).join() === ids(ok[0]!.events).join())!;
      for (const error of failed) {
        assert.ok(error instanceof StoreIdempotencyConflictError, String(error));
        assert.deepEqual(error.existing, winner.idempotency);
      }
      const stored = [...(await store().listEvents(s.id, all)).items, ...(await store().listEvents(t.id, all)).items];
      assert.deepEqual(ids(stored), ids(winner.events));
    });
  });
}
