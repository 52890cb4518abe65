/** Outbound webhooks (an agenthost extension): endpoints, and one delivery per event and endpoint. */
import type { Generated, Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import { batches, isoOrNull, isoTimestamp, object } from '../query.js';
import type { Store, WebhookDeliveryRecord, WebhookEndpointRecord } from '../store.js';

export interface WebhookTables {
  outbound_webhooks: {
    seq: Generated<number>;
    id: string;
    workspace_id: string;
    url: string;
    secret: string;
    /** JSON text: an array of event types. */
    event_types: string;
    created_at: string;
  };
  outbound_deliveries: {
    seq: Generated<number>;
    id: string;
    endpoint_id: string;
    event_type: string;
    /** JSON text. */
    payload: string;
    status: WebhookDeliveryRecord['status'];
    attempts: number;
    next_attempt_at: string | null;
    last_status_code: number | null;
    last_error: string | null;
    created_at: string;
    delivered_at: string | null;
  };
}

const toEndpoint = (r: Selectable<WebhookTables['outbound_webhooks']>): WebhookEndpointRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  url: r.url,
  secret: r.secret,
  eventTypes: object<string[]>(r.event_types),
  createdAt: r.created_at,
});

const toDelivery = (r: Selectable<WebhookTables['outbound_deliveries']>): WebhookDeliveryRecord => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventType: r.event_type,
  payload: object(r.payload),
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

export function webhooks({ db, dialect }: StoreContext): Pick<
  Store,
  | 'createWebhookEndpoint'
  | 'getWebhookEndpoint'
  | 'listWebhookEndpoints'
  | 'deleteWebhookEndpoint'
  | 'createWebhookDeliveries'
  | 'listWebhookDeliveries'
  | 'claimWebhookDeliveries'
  | 'recordWebhookAttempt'
> {
  return {
    async createWebhookEndpoint(e) {
      const row = await db
        .insertInto('outbound_webhooks')
        .values({
          id: e.id,
          workspace_id: e.workspaceId,
          url: e.url,
          secret: e.secret,
          event_types: JSON.stringify(e.eventTypes),
          created_at: isoTimestamp(e.createdAt),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toEndpoint(row);
    },

    async getWebhookEndpoint(workspaceId, id) {
      const row = await db.selectFrom('outbound_webhooks').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return row ? toEndpoint(row) : null;
    },

    async listWebhookEndpoints(workspaceId) {
      const rows = await db.selectFrom('outbound_webhooks').selectAll().where('workspace_id', '=', workspaceId).orderBy('seq').execute();
      return rows.map(toEndpoint);
    },

    async deleteWebhookEndpoint(workspaceId, id) {
      const { numDeletedRows } = await db.deleteFrom('outbound_webhooks').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return numDeletedRows > 0n;
    },

    async createWebhookDeliveries(deliveries) {
      if (deliveries.length === 0) return;
      const rows = deliveries.map((d) => ({
        id: d.id,
        endpoint_id: d.endpointId,
        event_type: d.eventType,
        payload: JSON.stringify(d.payload),
        status: d.status,
        attempts: d.attempts,
        next_attempt_at: isoOrNull(d.nextAttemptAt),
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
        created_at: isoTimestamp(d.createdAt),
        delivered_at: isoOrNull(d.deliveredAt),
      }));
      await db.transaction().execute(async (trx) => {
        for (const batch of batches(rows)) await trx.insertInto('outbound_deliveries').values(batch).execute();
      });
    },

    async listWebhookDeliveries(endpointId, limit) {
      const rows = await db.selectFrom('outbound_deliveries').selectAll().where('endpoint_id', '=', endpointId).orderBy('seq', 'desc').limit(limit).execute();
      return rows.map(toDelivery);
    },

    async claimWebhookDeliveries(now, leaseUntil, limit) {
      const lease = isoTimestamp(leaseUntil);
      return db.transaction().execute(async (trx) => {
        // Locked rows are another server's claim in progress: skipped, not waited for.
        const due = await trx
          .selectFrom('outbound_deliveries')
          .selectAll()
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', isoTimestamp(now))
          .orderBy('next_attempt_at')
          .orderBy('seq')
          .limit(limit)
          .$if(dialect.rowLocks, (q) => q.forUpdate().skipLocked())
          .execute();
        if (due.length === 0) return [];
        await trx
          .updateTable('outbound_deliveries')
          .set({ next_attempt_at: lease })
          .where('id', 'in', due.map((d) => d.id))
          .execute();
        return due.map((d) => toDelivery({ ...d, next_attempt_at: lease }));
      });
    },

    async recordWebhookAttempt(id, a) {
      const { numUpdatedRows } = await db
        .updateTable('outbound_deliveries')
        .set({
          status: a.status,
          attempts: a.attempts,
          next_attempt_at: isoOrNull(a.nextAttemptAt),
          last_status_code: a.lastStatusCode,
          last_error: a.lastError,
          delivered_at: isoOrNull(a.deliveredAt),
        })
        .where('id', '=', id)
        .executeTakeFirst();
      return numUpdatedRows > 0n;
    },
  };
}
