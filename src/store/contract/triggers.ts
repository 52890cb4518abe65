import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../ids.js';
import { StoreConflictError, StoreNotFoundError, type TriggerRecord } from '../store.js';
import { at, ids, session, workspace, type GetStore } from './fixtures.js';

const page = { limit: 100, order: 'asc' as const };

function cron(workspaceId: string, sessionId: string, nextFireAt: string | null, createdAt = at(0)): Omit<TriggerRecord, 'seq'> {
  return {
    id: newId('trg'),
    workspaceId,
    sessionId,
    kind: 'cron',
    body: { schedule: '*/5 * * * *', timezone: 'UTC', message: 'check the queue' },
    secret: null,
    createdAt,
    updatedAt: createdAt,
    lastFiredAt: null,
    nextFireAt,
    disabledAt: null,
    disabledReason: null,
  };
}

function webhook(workspaceId: string, sessionId: string, createdAt = at(0)): Omit<TriggerRecord, 'seq'> {
  return {
    ...cron(workspaceId, sessionId, null, createdAt),
    kind: 'webhook',
    body: { message_template: 'Webhook received:\n{{body}}' },
    secret: `whsec_${newId('req')}`,
  };
}

export function triggerTests(store: GetStore): void {
  describe('triggers', () => {
    it('createTrigger stores the trigger as given, with a seq; get and find return it', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const input = webhook(ws, s.id, at(3));
      const created = await store().createTrigger(input);
      assert.ok(Number.isInteger(created.seq) && created.seq > 0);
      assert.deepEqual(created, { ...input, seq: created.seq });
      assert.deepEqual(await store().getTrigger(ws, created.id), created);
      assert.deepEqual(await store().findTriggerById(created.id), created);
      assert.equal(await store().findTriggerById('trg_missing'), null);
    });

    it('createTrigger needs the session in the same workspace and a new id', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const { session: s } = await session(store(), ws);
      await assert.rejects(store().createTrigger(cron(other, s.id, at(10))), StoreNotFoundError);
      await assert.rejects(store().createTrigger(cron(ws, 'sesn_missing', at(10))), StoreNotFoundError);
      const t = await store().createTrigger(cron(ws, s.id, at(10)));
      await assert.rejects(store().createTrigger({ ...cron(ws, s.id, at(10)), id: t.id }), StoreConflictError);
      assert.equal(await store().getTrigger(other, t.id), null, 'another workspace does not see it');
    });

    it('listTriggers pages one session’s triggers by seq, in either order', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const { session: sibling } = await session(store(), ws);
      const made: TriggerRecord[] = [];
      for (let i = 1; i <= 5; i++) {
        made.push(await store().createTrigger(cron(ws, s.id, at(100 + i), at(i))));
        await store().createTrigger(cron(ws, sibling.id, at(100 + i), at(i)));
      }
      const first = await store().listTriggers(ws, s.id, { limit: 2, order: 'asc' });
      assert.deepEqual(ids(first.items), ids(made.slice(0, 2)));
      assert.equal(first.hasMore, true);
      const rest = await store().listTriggers(ws, s.id, { limit: 10, order: 'asc', afterSeq: first.items[1]!.seq });
      assert.deepEqual(ids(rest.items), ids(made.slice(2)));
      assert.equal(rest.hasMore, false);
      const desc = await store().listTriggers(ws, s.id, { ...page, order: 'desc' });
      assert.deepEqual(ids(desc.items), ids(made).reverse());
      const recent = await store().listTriggers(ws, s.id, { ...page, createdGte: at(4) });
      assert.deepEqual(ids(recent.items), ids(made.slice(3)));
      const other = await workspace(store());
      assert.deepEqual((await store().listTriggers(other, s.id, page)).items, []);
    });

    it('due triggers: enabled, at or before now, soonest first; nextTriggerFireAt is the soonest', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      assert.equal(await store().nextTriggerFireAt(), null);
      const later = await store().createTrigger(cron(ws, s.id, at(30)));
      const soon = await store().createTrigger(cron(ws, s.id, at(10)));
      const exact = await store().createTrigger(cron(ws, s.id, at(20)));
      await store().createTrigger(webhook(ws, s.id));
      const disabled = await store().createTrigger(cron(ws, s.id, at(5)));
      await store().disableTrigger(disabled.id, at(1), 'session archived');
      assert.equal(await store().nextTriggerFireAt(), at(10));
      assert.deepEqual(ids(await store().listDueTriggers(at(20), 10)), [soon.id, exact.id]);
      assert.deepEqual(ids(await store().listDueTriggers(at(20), 1)), [soon.id]);
      assert.deepEqual(ids(await store().listDueTriggers(at(9), 10)), []);
      assert.deepEqual(ids(await store().listDueTriggers(at(99), 10)), [soon.id, exact.id, later.id]);
    });

    it('claimTriggerFire moves a trigger on once: a second claim of the same due time loses', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const t = await store().createTrigger(cron(ws, s.id, at(10)));
      const claims = await Promise.all([
        store().claimTriggerFire(t.id, at(10), at(11), at(15)),
        store().claimTriggerFire(t.id, at(10), at(11), at(15)),
      ]);
      assert.deepEqual(claims.sort(), [false, true]);
      const moved = await store().getTrigger(ws, t.id);
      assert.equal(moved?.lastFiredAt, at(11));
      assert.equal(moved?.nextFireAt, at(15));
      assert.equal(await store().claimTriggerFire(t.id, at(10), at(12), at(20)), false, 'a stale expectation');
      assert.equal(await store().claimTriggerFire(t.id, at(15), at(16), null), true, 'a schedule that ends');
      assert.equal((await store().getTrigger(ws, t.id))?.nextFireAt, null);
      assert.equal(await store().nextTriggerFireAt(), null);
      assert.equal(await store().claimTriggerFire('trg_missing', at(10), at(11), at(12)), false);
    });

    it('disableTrigger clears nextFireAt, keeps the first time and reason, and blocks claims', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const t = await store().createTrigger(cron(ws, s.id, at(10)));
      const disabled = await store().disableTrigger(t.id, at(5), 'session archived');
      assert.deepEqual(disabled, { ...t, nextFireAt: null, disabledAt: at(5), disabledReason: 'session archived', updatedAt: at(5) });
      assert.deepEqual(await store().disableTrigger(t.id, at(6), 'again'), disabled);
      assert.equal(await store().claimTriggerFire(t.id, at(10), at(11), at(12)), false);
      assert.equal(await store().disableTrigger('trg_missing', at(6), 'x'), null);
    });

    it('markTriggerFired sets lastFiredAt and never moves it back', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const t = await store().createTrigger(webhook(ws, s.id));
      assert.equal(await store().markTriggerFired(t.id, at(10)), true);
      assert.equal((await store().getTrigger(ws, t.id))?.lastFiredAt, at(10));
      await store().markTriggerFired(t.id, at(8));
      assert.equal((await store().getTrigger(ws, t.id))?.lastFiredAt, at(10));
      await store().markTriggerFired(t.id, at(12));
      assert.equal((await store().getTrigger(ws, t.id))?.lastFiredAt, at(12));
      assert.equal(await store().markTriggerFired('trg_missing', at(12)), false);
    });

    it('deleteTrigger removes it from its workspace only', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const { session: s } = await session(store(), ws);
      const t = await store().createTrigger(webhook(ws, s.id));
      assert.equal(await store().deleteTrigger(other, t.id), false);
      assert.equal(await store().deleteTrigger(ws, t.id), true);
      assert.equal(await store().findTriggerById(t.id), null);
      assert.equal(await store().deleteTrigger(ws, t.id), false);
    });

    it('deleting a session deletes its triggers and their delivery records', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const { session: kept } = await session(store(), ws);
      const a = await store().createTrigger(cron(ws, s.id, at(10)));
      const b = await store().createTrigger(webhook(ws, s.id));
      const c = await store().createTrigger(cron(ws, kept.id, at(20)));
      await store().recordWebhookDelivery(b.id, 'sig', at(100));
      assert.equal(await store().deleteSession(ws, s.id), true);
      assert.equal(await store().findTriggerById(a.id), null);
      assert.equal(await store().findTriggerById(b.id), null);
      assert.deepEqual(ids(await store().listDueTriggers(at(99), 10)), [c.id]);
      assert.equal(await store().pruneWebhookDeliveries(at(1000)), 0, 'the delivery went with its trigger');
    });

    it('recordWebhookDelivery refuses a signature it holds, per trigger, until pruned', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws);
      const t = await store().createTrigger(webhook(ws, s.id));
      const u = await store().createTrigger(webhook(ws, s.id));
      const first = await Promise.all([
        store().recordWebhookDelivery(t.id, 'v1=abc', at(300)),
        store().recordWebhookDelivery(t.id, 'v1=abc', at(300)),
      ]);
      assert.deepEqual(first.sort(), [false, true], 'exactly one of two concurrent deliveries wins');
      assert.equal(await store().recordWebhookDelivery(t.id, 'v1=abc', at(300)), false);
      assert.equal(await store().recordWebhookDelivery(u.id, 'v1=abc', at(300)), true, 'another trigger has its own memory');
      assert.equal(await store().recordWebhookDelivery(t.id, 'v1=def', at(600)), true);
      assert.equal(await store().pruneWebhookDeliveries(at(300)), 0, 'not expired at its expiry instant');
      assert.equal(await store().pruneWebhookDeliveries(at(301)), 2);
      assert.equal(await store().recordWebhookDelivery(t.id, 'v1=abc', at(900)), true, 'forgotten once pruned');
      assert.equal(await store().recordWebhookDelivery(t.id, 'v1=def', at(900)), false);
      await assert.rejects(store().recordWebhookDelivery('trg_missing', 'v1=abc', at(300)), StoreNotFoundError);
    });
  });
}
