/** The PostgreSQL side of the outbound webhook members of the Store (see store.ts). */
import { isoOrNull, isoTimestamp } from '../query.js';
import type { JsonObject, WebhookAttempt, WebhookDeliveryRecord, WebhookEndpointRecord } from '../store.js';
import type { PgConnection } from './connection.js';

/** JSONB arrives parsed, TIMESTAMPTZ as a Date. */
interface EndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  secret: string;
  event_types: string[];
  created_at: Date;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_type: string;
  payload: JsonObject;
  status: WebhookDeliveryRecord['status'];
  attempts: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const toEndpoint = (r: EndpointRow): WebhookEndpointRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  url: r.url,
  secret: r.secret,
  eventTypes: r.event_types,
  createdAt: r.created_at.toISOString(),
});

const toDelivery = (r: DeliveryRow): WebhookDeliveryRecord => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventType: r.event_type,
  payload: r.payload,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: iso(r.next_attempt_at),
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  createdAt: r.created_at.toISOString(),
  deliveredAt: iso(r.delivered_at),
});

export async function createWebhookEndpoint(c: PgConnection, e: WebhookEndpointRecord): Promise<WebhookEndpointRecord> {
  const [row] = await c.query<EndpointRow>(
    'INSERT INTO outbound_webhooks (id, workspace_id, url, secret, event_types, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [e.id, e.workspaceId, e.url, e.secret, JSON.stringify(e.eventTypes), isoTimestamp(e.createdAt)],
  );
  return toEndpoint(row!);
}

export async function getWebhookEndpoint(c: PgConnection, workspaceId: string, id: string): Promise<WebhookEndpointRecord | null> {
  const [row] = await c.query<EndpointRow>('SELECT * FROM outbound_webhooks WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return row ? toEndpoint(row) : null;
}

export async function listWebhookEndpoints(c: PgConnection, workspaceId: string): Promise<WebhookEndpointRecord[]> {
  return (await c.query<EndpointRow>('SELECT * FROM outbound_webhooks WHERE workspace_id = $1 ORDER BY seq', [workspaceId])).map(toEndpoint);
}

export async function deleteWebhookEndpoint(c: PgConnection, workspaceId: string, id: string): Promise<boolean> {
  return (await c.query('DELETE FROM outbound_webhooks WHERE workspace_id = $1 AND id = $2 RETURNING id', [workspaceId, id])).length > 0;
}

export async function createWebhookDeliveries(c: PgConnection, deliveries: WebhookDeliveryRecord[]): Promise<void> {
  if (deliveries.length === 0) return;
  await c.tx(async (client) => {
    for (const d of deliveries) {
      await c.query(
        `INSERT INTO outbound_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [d.id, d.endpointId, d.eventType, JSON.stringify(d.payload), d.status, d.attempts, isoOrNull(d.nextAttemptAt), d.lastStatusCode, d.lastError, isoTimestamp(d.createdAt), isoOrNull(d.deliveredAt)],
        client,
      );
    }
  });
}

export async function listWebhookDeliveries(c: PgConnection, endpointId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
  return (await c.query<DeliveryRow>('SELECT * FROM outbound_deliveries WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2', [endpointId, limit])).map(toDelivery);
}

export async function claimWebhookDeliveries(c: PgConnection, now: string, leaseUntil: string, limit: number): Promise<WebhookDeliveryRecord[]> {
  const rows = await c.query<DeliveryRow>(
    `UPDATE outbound_deliveries SET next_attempt_at = $2
     WHERE id IN (
       SELECT id FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     RETURNING *`,
    [isoTimestamp(now), isoTimestamp(leaseUntil), limit],
  );
  return rows.map(toDelivery).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function recordWebhookAttempt(c: PgConnection, id: string, a: WebhookAttempt): Promise<boolean> {
  const rows = await c.query(
    `UPDATE outbound_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6, delivered_at = $7
     WHERE id = $1 RETURNING id`,
    [id, a.status, a.attempts, isoOrNull(a.nextAttemptAt), a.lastStatusCode, a.lastError, isoOrNull(a.deliveredAt)],
  );
  return rows.length > 0;
}
