import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../ids.js';
import { StoreConflictError, StoreNotFoundError, type Store, type WebhookDeliveryRecord, type WebhookEndpointRecord } from '../store.js';
import { at, workspace, type GetStore } from './fixtures.js';

function endpoint(workspaceId: string, o: Partial<WebhookEndpointRecord> = {}): WebhookEndpointRecord {
  return { id: newId('whep'), workspaceId, url: 'https://example.test/hook', secret: 'whsec_x', eventTypes: [], createdAt: at(0), ...o };
}

function delivery(endpointId: string, o: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord {
  return {
    id: newId('whdel'),
    endpointId,
    eventType: 'session.status_idle',
    payload: { type: 'session.status_idle', data: { n: 1 } },
    status: 'pending',
    attempts: 0,
    nextAttemptAt: at(10),
    lastStatusCode: null,
    lastError: null,
    createdAt: at(10),
    deliveredAt: null,
    ...o,
  };
}

export function webhookTests(store: GetStore): void {
  describe('webhooks', () => {
    it('endpoints are created, listed oldest first, read and deleted within their workspace', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const s: Store = store();
      const a = await s.createWebhookEndpoint(endpoint(ws, { eventTypes: ['session.error', 'session.status_idle'], createdAt: '2025-01-01T01:00:00+01:00' }));
      assert.deepEqual(a.eventTypes, ['session.error', 'session.status_idle']);
      assert.equal(a.createdAt, at(0));
      const b = await s.createWebhookEndpoint(endpoint(ws, { url: 'http://127.0.0.1:9/b' }));
      await s.createWebhookEndpoint(endpoint(other));
      assert.deepEqual((await s.listWebhookEndpoints(ws)).map((e) => e.id), [a.id, b.id]);
      assert.deepEqual(await s.getWebhookEndpoint(ws, a.id), a);
      assert.equal(await s.getWebhookEndpoint(other, a.id), null, 'another workspace does not see it');
      assert.equal(await s.deleteWebhookEndpoint(other, a.id), false);
      assert.equal(await s.deleteWebhookEndpoint(ws, a.id), true);
      assert.equal(await s.deleteWebhookEndpoint(ws, a.id), false);
      assert.deepEqual((await s.listWebhookEndpoints(ws)).map((e) => e.id), [b.id]);
      await assert.rejects(s.createWebhookEndpoint({ ...b }), StoreConflictError);
      await assert.rejects(s.createWebhookEndpoint(endpoint('wrkspc_unknown')), StoreNotFoundError);
    });

    it('deliveries are listed newest first, claimed once when due, and record their attempts', async () => {
      const ws = await workspace(store());
      const s: Store = store();
      const e = await s.createWebhookEndpoint(endpoint(ws));
      const first = delivery(e.id, { nextAttemptAt: at(10), createdAt: at(10) });
      const second = delivery(e.id, { nextAttemptAt: at(20), createdAt: at(20), payload: { nested: { list: [1, 'two', null] } } });
      const later = delivery(e.id, { nextAttemptAt: at(100), createdAt: at(30) });
      await s.createWebhookDeliveries([first, second, later]);
      assert.deepEqual((await s.listWebhookDeliveries(e.id, 10)).map((d) => d.id), [later.id, second.id, first.id]);
      assert.deepEqual((await s.listWebhookDeliveries(e.id, 10))[1], second);
      assert.equal((await s.listWebhookDeliveries(e.id, 1)).length, 1);

      const claimed = await s.claimWebhookDeliveries(at(50), at(80), 10);
      assert.deepEqual(claimed.map((d) => d.id), [first.id, second.id]);
      assert.ok(claimed.every((d) => d.nextAttemptAt === at(80)));
      assert.deepEqual(await s.claimWebhookDeliveries(at(50), at(80), 10), [], 'a claimed delivery is not due again until its lease ends');
      assert.deepEqual((await s.claimWebhookDeliveries(at(80), at(90), 1)).map((d) => d.id), [first.id], 'an unrecorded claim comes back');

      assert.equal(await s.recordWebhookAttempt(first.id, { status: 'delivered', attempts: 1, nextAttemptAt: null, lastStatusCode: 204, lastError: null, deliveredAt: at(81) }), true);
      assert.equal(await s.recordWebhookAttempt(second.id, { status: 'pending', attempts: 1, nextAttemptAt: at(200), lastStatusCode: 500, lastError: 'upstream said 500', deliveredAt: null }), true);
      assert.equal(await s.recordWebhookAttempt('whdel_unknown', { status: 'failed', attempts: 1, nextAttemptAt: null, lastStatusCode: null, lastError: 'x', deliveredAt: null }), false);
      const listed = await s.listWebhookDeliveries(e.id, 10);
      const f = listed.find((d) => d.id === first.id)!;
      assert.deepEqual([f.status, f.attempts, f.nextAttemptAt, f.lastStatusCode, f.deliveredAt], ['delivered', 1, null, 204, at(81)]);
      const g = listed.find((d) => d.id === second.id)!;
      assert.deepEqual([g.status, g.attempts, g.nextAttemptAt, g.lastStatusCode, g.lastError], ['pending', 1, at(200), 500, 'upstream said 500']);
      assert.deepEqual((await s.claimWebhookDeliveries(at(150), at(160), 10)).map((d) => d.id), [later.id], 'delivered ones are never claimed');

      await assert.rejects(s.createWebhookDeliveries([delivery('whep_unknown')]), StoreNotFoundError);
      assert.equal(await s.deleteWebhookEndpoint(ws, e.id), true);
      assert.deepEqual(await s.listWebhookDeliveries(e.id, 10), [], 'deliveries go with their endpoint');
    });
  });
}
