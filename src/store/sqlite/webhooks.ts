/** The SQLite side of the outbound webhook members of the Store (see store.ts). */
import { isoOrNull, isoTimestamp } from '../query.js';
import type { JsonObject, WebhookAttempt, WebhookDeliveryRecord, WebhookEndpointRecord } from '../store.js';
import type { SqliteConnection } from './connection.js';

interface EndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  secret: string;
  event_types: string;
  created_at: string;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_type: string;
  payload: string;
  status: WebhookDeliveryRecord['status'];
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

const toEndpoint = (r: EndpointRow): WebhookEndpointRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  url: r.url,
  secret: r.secret,
  eventTypes: JSON.parse(r.event_types) as string[],
  createdAt: r.created_at,
});

const toDelivery = (r: DeliveryRow): WebhookDeliveryRecord => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventType: r.event_type,
  payload: JSON.parse(r.payload) as JsonObject,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

export function createWebhookEndpoint(c: SqliteConnection, e: WebhookEndpointRecord): WebhookEndpointRecord {
  const row = c.write(() =>
    c.get<EndpointRow>(
      'INSERT INTO outbound_webhooks (id, workspace_id, url, secret, event_types, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      e.id, e.workspaceId, e.url, e.secret, JSON.stringify(e.eventTypes), isoTimestamp(e.createdAt),
    ),
  );
  return toEndpoint(row!);
}

export function getWebhookEndpoint(c: SqliteConnection, workspaceId: string, id: string): WebhookEndpointRecord | null {
  const row = c.get<EndpointRow>('SELECT * FROM outbound_webhooks WHERE workspace_id = ? AND id = ?', workspaceId, id);
  return row ? toEndpoint(row) : null;
}

export function listWebhookEndpoints(c: SqliteConnection, workspaceId: string): WebhookEndpointRecord[] {
  return c.all<EndpointRow>('SELECT * FROM outbound_webhooks WHERE workspace_id = ? ORDER BY seq', workspaceId).map(toEndpoint);
}

export function deleteWebhookEndpoint(c: SqliteConnection, workspaceId: string, id: string): boolean {
  return c.write(() => c.run('DELETE FROM outbound_webhooks WHERE workspace_id = ? AND id = ?', workspaceId, id) > 0);
}

export function createWebhookDeliveries(c: SqliteConnection, deliveries: WebhookDeliveryRecord[]): void {
  c.write(() => {
    for (const d of deliveries) {
      c.run(
        `INSERT INTO outbound_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        d.id, d.endpointId, d.eventType, JSON.stringify(d.payload), d.status, d.attempts, isoOrNull(d.nextAttemptAt),
        d.lastStatusCode, d.lastError, isoTimestamp(d.createdAt), isoOrNull(d.deliveredAt),
      );
    }
  });
}

export function listWebhookDeliveries(c: SqliteConnection, endpointId: string, limit: number): WebhookDeliveryRecord[] {
  return c.all<DeliveryRow>('SELECT * FROM outbound_deliveries WHERE endpoint_id = ? ORDER BY seq DESC LIMIT ?', endpointId, limit).map(toDelivery);
}

export function claimWebhookDeliveries(c: SqliteConnection, now: string, leaseUntil: string, limit: number): WebhookDeliveryRecord[] {
  return c.write(() => {
    const due = c.all<DeliveryRow>(
      `SELECT * FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?`,
      isoTimestamp(now), limit,
    );
    const lease = isoTimestamp(leaseUntil);
    for (const d of due) c.run('UPDATE outbound_deliveries SET next_attempt_at = ? WHERE id = ?', lease, d.id);
    return due.map((d) => toDelivery({ ...d, next_attempt_at: lease }));
  });
}

export function recordWebhookAttempt(c: SqliteConnection, id: string, a: WebhookAttempt): boolean {
  return c.write(
    () =>
      c.run(
        `UPDATE outbound_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ? WHERE id = ?`,
        a.status, a.attempts, isoOrNull(a.nextAttemptAt), a.lastStatusCode, a.lastError, isoOrNull(a.deliveredAt), id,
      ) > 0,
  );
}
