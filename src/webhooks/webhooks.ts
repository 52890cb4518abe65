import { z } from 'zod';
import { invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { EventRecord, JsonObject, Store, WebhookDeliveryRecord, WebhookEndpointRecord } from '../store/store.js';
import { sendWebhook, type SendResult } from './webhook-sender.js';
import { webhookUrlProblem } from './webhook-url.js';
import { newWebhookSecret, signWebhook } from './webhook-signing.js';

/** Most webhook endpoints one workspace may register unless configured (AGENTHOST_WEBHOOK_MAX_ENDPOINTS). */
export const DEFAULT_MAX_ENDPOINTS = 20;

/** What a workspace can subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'session.status_running',
  'session.status_idle',
  'session.status_terminated',
  'session.requires_action',
  'session.error',
  'session.budget_reached',
  'session.deleted',
  'workspace.budget_reached',
] as const;

export const createWebhookBody = z
  .object({
    // Checked by `webhookUrlProblem`, which knows whether private addresses are allowed.
    url: z.string().min(1),
    event_types: z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length).optional(),
  })
  .strict();

export interface WebhookOptions {
  store: Store;
  log: Logger;
  /** First retry after this long; each later one waits 4× longer, at most 6 hours. */
  retryBaseMs: number;
  /** Attempts before a delivery is marked failed. */
  maxAttempts: number;
  /** Deliver to loopback and private addresses too (development and tests). */
  allowPrivate: boolean;
  /** Most endpoints one workspace may register; default `DEFAULT_MAX_ENDPOINTS`. */
  maxEndpoints?: number;
  timeoutMs?: number;
  /** How often due retries are looked for. */
  pollMs?: number;
  now?: () => Date;
  /** Stands in for the HTTP POST (tests of the retry policy). */
  send?: (url: string, body: string, headers: Record<string, string>) => Promise<SendResult>;
}

/** Delay before attempt `attempts + 1` after `attempts` failed ones. */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 4 ** Math.max(0, attempts - 1), 6 * 3600_000);
}

/** The webhook types one session event produces. */
export function webhookTypesOf(event: EventRecord): string[] {
  switch (event.type) {
    case 'session.status_idle': {
      const stop = (event.body.stop_reason as { type?: unknown } | undefined)?.type;
      if (stop === 'requires_action') return ['session.status_idle', 'session.requires_action'];
      if (stop === 'budget_reached') return ['session.status_idle', 'session.budget_reached'];
      return ['session.status_idle'];
    }
    case 'session.status_running':
    case 'session.status_terminated':
    case 'session.error':
    case 'session.deleted':
      return [event.type];
    default:
      return [];
  }
}

/**
 * Outbound webhooks (an agenthost extension): workspaces register endpoints;
 * session events and budget refusals become deliveries, stored first and
 * then POSTed, signed, and retried with backoff until a 2xx or
 * `maxAttempts`. Deliveries survive restarts; due ones are claimed through
 * the store, so servers sharing it do not send one twice.
 */
export class WebhookService {
  private readonly now: () => Date;
  private readonly cache = new Map<string, { at: number; endpoints: Promise<WebhookEndpointRecord[]> }>();
  private readonly budgetNotified = new Map<string, number>();
  private readonly creating = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: WebhookOptions) {
    this.now = o.now ?? (() => new Date());
  }

  // API

  async create(workspaceId: string, input: unknown): Promise<{ endpoint: WebhookEndpointRecord }> {
    const body = createWebhookBody.parse(input);
    const problem = webhookUrlProblem(body.url, this.o.allowPrivate);
    if (problem) throw invalid(`url: ${problem}`);
    // One creation at a time per workspace on this server, so concurrent
    // requests cannot all pass the count check (servers sharing a database
    // can each add one beyond it at the same instant, no more).
    const endpoint = await this.oneAtATime(workspaceId, async () => {
      const max = this.o.maxEndpoints ?? DEFAULT_MAX_ENDPOINTS;
      const count = (await this.o.store.listWebhookEndpoints(workspaceId)).length;
      if (count >= max) throw invalid(`this workspace has ${count} webhook endpoints, the most it may have (${max}); delete one before adding another`);
      return this.o.store.createWebhookEndpoint({
        id: newId('whep'),
        workspaceId,
        url: body.url,
        secret: newWebhookSecret(),
        eventTypes: body.event_types ?? [],
        createdAt: this.now().toISOString(),
      });
    });
    this.cache.delete(workspaceId);
    return { endpoint };
  }

  list(workspaceId: string): Promise<WebhookEndpointRecord[]> {
    return this.o.store.listWebhookEndpoints(workspaceId);
  }

  async get(workspaceId: string, id: string): Promise<WebhookEndpointRecord> {
    const endpoint = await this.o.store.getWebhookEndpoint(workspaceId, id);
    if (!endpoint) throw notFound('webhook', id);
    return endpoint;
  }

  async delete(workspaceId: string, id: string): Promise<void> {
    if (!(await this.o.store.deleteWebhookEndpoint(workspaceId, id))) throw notFound('webhook', id);
    this.cache.delete(workspaceId);
  }

  async deliveries(workspaceId: string, id: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    await this.get(workspaceId, id);
    return this.o.store.listWebhookDeliveries(id, limit);
  }

  // Sources

  /** Event observer: session events of sessions whose workspace is known. */
  observe(sessionId: string, event: EventRecord, workspaceId?: string): void {
    if (!workspaceId) return;
    for (const type of webhookTypesOf(event)) {
      void this.notify(workspaceId, type, { id: event.id, session_id: sessionId, created_at: event.createdAt, data: event.body }).catch((error: unknown) =>
        this.o.log.warn({ err: error, workspaceId, sessionId }, 'could not queue a webhook delivery'),
      );
    }
  }

  /** A request was refused by the workspace budget; told at most once an hour per workspace. */
  budgetRefused(workspaceId: string, reason: string): void {
    const now = this.now().getTime();
    if (now - (this.budgetNotified.get(workspaceId) ?? 0) < 3600_000) return;
    this.budgetNotified.set(workspaceId, now);
    void this.notify(workspaceId, 'workspace.budget_reached', { id: newId('sevt'), session_id: null, created_at: new Date(now).toISOString(), data: { reason } }).catch(
      (error: unknown) => this.o.log.warn({ err: error, workspaceId }, 'could not queue a webhook delivery'),
    );
  }

  /** Stores one delivery per subscribed endpoint, then starts sending. */
  async notify(workspaceId: string, type: string, event: { id: string; session_id: string | null; created_at: string; data: JsonObject }): Promise<void> {
    const endpoints = (await this.endpointsOf(workspaceId)).filter((e) => e.eventTypes.length === 0 || e.eventTypes.includes(type));
    if (endpoints.length === 0) return;
    const at = this.now().toISOString();
    const payload: JsonObject = { id: event.id, type, created_at: event.created_at, workspace_id: workspaceId, session_id: event.session_id, data: event.data };
    await this.o.store.createWebhookDeliveries(
      endpoints.map((e) => ({
        id: newId('whdel'),
        endpointId: e.id,
        eventType: type,
        payload,
        status: 'pending' as const,
        attempts: 0,
        nextAttemptAt: at,
        lastStatusCode: null,
        lastError: null,
        createdAt: at,
        deliveredAt: null,
      })),
    );
    this.kick();
  }

  // Dispatch

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.kick(), this.o.pollMs ?? 1_000);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.pumping;
  }

  /** Sends what is due now; a kick while sending runs another pass after it. */
  kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        await this.pump().catch((error: unknown) => this.o.log.warn({ err: error }, 'webhook dispatch failed'));
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    for (;;) {
      const now = this.now();
      // A lease longer than one attempt can take: a crash mid-send retries after it.
      const lease = new Date(now.getTime() + (this.o.timeoutMs ?? 10_000) + 30_000).toISOString();
      const due = await this.o.store.claimWebhookDeliveries(now.toISOString(), lease, 20);
      await Promise.all(due.map((d) => this.attempt(d)));
      if (due.length < 20 || this.stopped) return;
    }
  }

  private async attempt(d: WebhookDeliveryRecord): Promise<void> {
    const workspaceId = String(d.payload.workspace_id);
    const endpoint = await this.o.store.getWebhookEndpoint(workspaceId, d.endpointId);
    if (!endpoint) return; // deleted with its deliveries
    const body = JSON.stringify(d.payload);
    const timestamp = Math.floor(this.now().getTime() / 1000);
    const headers = { 'webhook-id': d.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(endpoint.secret, d.id, timestamp, body) };
    const result = this.o.send
      ? await this.o.send(endpoint.url, body, headers)
      : await sendWebhook(endpoint.url, body, headers, { allowPrivate: this.o.allowPrivate, timeoutMs: this.o.timeoutMs ?? 10_000 });
    const attempts = d.attempts + 1;
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const at = this.now();
    // An address refused at send time stays refused: no retries.
    const failed = !ok && (result.permanent === true || attempts >= this.o.maxAttempts);
    await this.o.store.recordWebhookAttempt(d.id, {
      status: ok ? 'delivered' : failed ? 'failed' : 'pending',
      attempts,
      nextAttemptAt: ok || failed ? null : new Date(at.getTime() + retryDelayMs(attempts, this.o.retryBaseMs)).toISOString(),
      lastStatusCode: result.status,
      lastError: ok ? null : (result.error ?? `answered ${result.status}`),
      deliveredAt: ok ? at.toISOString() : null,
    });
    if (!ok) {
      const fields = { deliveryId: d.id, endpointId: d.endpointId, workspaceId, attempts, status: result.status, error: result.error, detail: result.detail, final: failed };
      this.o.log.info(fields, 'webhook delivery failed');
    }
  }

  /** Runs `fn` after every earlier call for `key` has settled. */
  private oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.creating.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.creating.set(key, tail);
    void tail.then(() => {
      if (this.creating.get(key) === tail) this.creating.delete(key);
    });
    return run;
  }

  private endpointsOf(workspaceId: string): Promise<WebhookEndpointRecord[]> {
    const now = Date.now();
    const hit = this.cache.get(workspaceId);
    if (hit && now - hit.at < 5_000) return hit.endpoints;
    const endpoints = this.o.store.listWebhookEndpoints(workspaceId);
    this.cache.set(workspaceId, { at: now, endpoints });
    if (this.cache.size > 10_000) this.cache.clear();
    endpoints.catch(() => this.cache.delete(workspaceId));
    return endpoints;
  }
}

/** An endpoint as the API shows it; the secret only when just created. */
export function renderWebhookEndpoint(e: WebhookEndpointRecord, withSecret = false): JsonObject {
  return { type: 'webhook_endpoint', id: e.id, url: e.url, event_types: e.eventTypes, created_at: e.createdAt, ...(withSecret ? { secret: e.secret } : {}) };
}

export function renderWebhookDelivery(d: WebhookDeliveryRecord): JsonObject {
  return {
    type: 'webhook_delivery',
    id: d.id,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt,
    payload: d.payload,
  };
}
