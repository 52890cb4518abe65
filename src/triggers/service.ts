import { AppError, ErrorCode, conflict, invalid, notFound } from '../errors.js';
import { newId, newSecret } from '../ids.js';
import type { Logger } from '../logger.js';
import type { SessionService } from '../sessions/service.js';
import { StoreNotFoundError, type Json, type Page, type PageQuery, type Store, type TriggerRecord } from '../store/store.js';
import { unstorableText } from '../text-rules.js';
import { systemClock, type Clock } from './clock.js';
import { DEFAULT_TEMPLATE, cronContent, webhookContent } from './message.js';
import { DEFAULT_TIMEZONE, parseSchedule, shortestInterval } from './schedule.js';
import { TriggerScheduler } from './scheduler.js';
import { createTriggerBody } from './schemas.js';
import { SIGNATURE_MISMATCH, TOLERANCE_S, verifyWebhook } from './signature.js';

/** The user.message event a fire or delivery committed. */
export interface SentEvent {
  id: string;
}

export interface TriggerServiceOptions {
  store: Store;
  /** How a fire commits and delivers its user.message, exactly as the API's send does. */
  sessions: Pick<SessionService, 'send'>;
  log: Logger;
  clock?: Clock;
  /** See `TriggerSchedulerOptions.maxSleepMs`. */
  maxSleepMs?: number;
  /** Shortest time a cron trigger may leave between fires, seconds (AGENTHOST_CRON_MIN_INTERVAL_S); default 60. */
  cronMinIntervalS?: number;
}

/** The default shortest time between a cron trigger's fires, seconds. */
export const DEFAULT_CRON_MIN_INTERVAL_S = 60;

/** How often, at most, accepted deliveries prune expired replay records. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Triggers (an agenthost extension): create, list, delete; cron fires
 * through the scheduler it owns; webhook deliveries through
 * `deliverWebhook`. Every fire becomes a `user.message` sent with
 * `SessionService.send`, so it is committed and delivered like one a client
 * sent. A fire refused because the session ended (archived, terminated,
 * deleted) disables the trigger.
 */
export class TriggerService {
  readonly scheduler: TriggerScheduler;
  private readonly clock: Clock;
  private lastPruneMs = 0;
  private readonly decoySecret = `whsec_${newSecret(32)}`;

  constructor(private readonly o: TriggerServiceOptions) {
    this.clock = o.clock ?? systemClock;
    this.scheduler = new TriggerScheduler({
      store: o.store,
      fire: (trigger, at) => this.fire(trigger, at).then(() => undefined),
      log: o.log.child({ component: 'triggers' }),
      clock: this.clock,
      ...(o.maxSleepMs !== undefined ? { maxSleepMs: o.maxSleepMs } : {}),
    });
  }

  /** Fires what was missed while no server ran (once per trigger), then keeps firing on schedule. */
  async start(): Promise<void> {
    await this.prune();
    await this.scheduler.start();
  }

  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  /**
   * Creates a trigger on a session that can still take messages. Returns the
   * webhook secret beside the record: the API shows it in this response only.
   */
  async create(workspaceId: string, sessionId: string, input: unknown): Promise<{ trigger: TriggerRecord; secret?: string }> {
    const body = createTriggerBody.parse(input);
    const session = await this.o.store.getSession(workspaceId, sessionId);
    if (!session) throw notFound('session', sessionId);
    if (session.archivedAt) throw conflict(`session ${sessionId} is archived; it takes no triggers`);
    if (session.status === 'terminated') throw conflict(`session ${sessionId} is terminated; it takes no triggers`);

    const now = new Date(this.clock.now());
    const common = {
      id: newId('trg'),
      workspaceId,
      sessionId,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      lastFiredAt: null,
      disabledAt: null,
      disabledReason: null,
    };
    let record: Omit<TriggerRecord, 'seq'>;
    let secret: string | undefined;
    if (body.type === 'cron') {
      const timezone = body.timezone ?? DEFAULT_TIMEZONE;
      const schedule = parseSchedule(body.schedule, timezone);
      const next = schedule.nextAfter(now);
      if (!next) throw invalid(`schedule: ${JSON.stringify(body.schedule)} never fires`);
      const minS = this.o.cronMinIntervalS ?? DEFAULT_CRON_MIN_INTERVAL_S;
      const gap = shortestInterval(schedule, now);
      if (gap !== null && gap < minS * 1000) {
        throw invalid(`schedule: ${JSON.stringify(body.schedule)} fires ${gap / 1000} s apart; a cron trigger may fire at most once every ${minS} s`);
      }
      const message = body.message as Json;
      record = { ...common, kind: 'cron', body: { schedule: body.schedule, timezone, message }, secret: null, nextFireAt: next.toISOString() };
    } else {
      secret = `whsec_${newSecret(32)}`;
      record = { ...common, kind: 'webhook', body: { message_template: body.message_template ?? DEFAULT_TEMPLATE }, secret, nextFireAt: null };
    }
    const trigger = await this.o.store.createTrigger(record).catch((error: unknown) => {
      // Deleted between the read and the write.
      if (error instanceof StoreNotFoundError) throw notFound('session', sessionId);
      throw error;
    });
    if (trigger.kind === 'cron') void this.scheduler.poke();
    return secret === undefined ? { trigger } : { trigger, secret };
  }

  async get(workspaceId: string, sessionId: string, triggerId: string): Promise<TriggerRecord> {
    const trigger = await this.o.store.getTrigger(workspaceId, triggerId);
    if (!trigger || trigger.sessionId !== sessionId) throw notFound('trigger', triggerId);
    return trigger;
  }

  async list(workspaceId: string, sessionId: string, query: PageQuery): Promise<Page<TriggerRecord>> {
    if (!(await this.o.store.getSession(workspaceId, sessionId))) throw notFound('session', sessionId);
    return this.o.store.listTriggers(workspaceId, sessionId, query);
  }

  async delete(workspaceId: string, sessionId: string, triggerId: string): Promise<{ id: string; type: 'trigger_deleted' }> {
    await this.get(workspaceId, sessionId, triggerId);
    if (!(await this.o.store.deleteTrigger(workspaceId, triggerId))) throw notFound('trigger', triggerId);
    void this.scheduler.poke();
    return { id: triggerId, type: 'trigger_deleted' };
  }

  /** One cron fire (already claimed by the scheduler). */
  fire(trigger: TriggerRecord, at: Date): Promise<SentEvent> {
    return this.send(trigger, cronContent(trigger, at), at);
  }

  /**
   * One call of a webhook trigger's URL: checks the signature (401), refuses
   * a disabled trigger or a replayed signature (409), then sends the body
   * through the trigger's template. Returns the committed user.message.
   */
  async deliverWebhook(triggerId: string, signatureHeader: string | undefined, rawBody: Buffer): Promise<SentEvent> {
    const found = await this.o.store.findTriggerById(triggerId);
    const trigger = found?.kind === 'webhook' && found.secret !== null ? found : undefined;
    const nowMs = this.clock.now();
    // An unknown id is checked against a secret nobody holds, so it gets the
    // same 401 as a wrong signature, after the same work: the answer does not
    // tell which trigger ids exist.
    const { t, signature } = verifyWebhook(trigger?.secret ?? this.decoySecret, signatureHeader, rawBody, nowMs);
    if (!trigger) throw new AppError(ErrorCode.authentication, SIGNATURE_MISMATCH);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
    } catch {
      throw invalid('body: a webhook body must be UTF-8 text (JSON or plain text)');
    }
    const unstorable = unstorableText(text);
    if (unstorable) throw invalid(`body: ${unstorable}`);
    if (trigger.disabledAt) throw conflict(`trigger ${triggerId} is disabled: ${trigger.disabledReason ?? 'no reason recorded'}`);

    // Kept until the signature's timestamp leaves the window; after that the
    // timestamp check refuses it without a record.
    const expiresAt = new Date((t + TOLERANCE_S) * 1000).toISOString();
    const first = await this.o.store.recordWebhookDelivery(triggerId, signature, expiresAt).catch((error: unknown) => {
      if (error instanceof StoreNotFoundError) throw notFound('trigger', triggerId);
      throw error;
    });
    if (!first) throw conflict('this delivery was already received (same signature); sign each delivery with a fresh timestamp');

    const at = new Date(nowMs);
    const event = await this.send(trigger, webhookContent(trigger, at, text), at);
    await this.o.store.markTriggerFired(triggerId, at.toISOString());
    if (nowMs - this.lastPruneMs >= PRUNE_EVERY_MS) void this.prune();
    return event;
  }

  private async send(trigger: TriggerRecord, content: Json[], at: Date): Promise<SentEvent> {
    try {
      const { data } = await this.o.sessions.send(trigger.workspaceId, trigger.sessionId, { events: [{ type: 'user.message', content }] });
      return { id: String(data[0]!.id) };
    } catch (error) {
      // The session ended or is gone: this trigger can never fire again.
      if (error instanceof AppError && (error.code === ErrorCode.conflict || error.code === ErrorCode.notFound)) {
        await this.o.store.disableTrigger(trigger.id, at.toISOString(), error.message);
        this.o.log.info({ triggerId: trigger.id, sessionId: trigger.sessionId, reason: error.message }, 'trigger disabled');
      }
      throw error;
    }
  }

  private async prune(): Promise<void> {
    this.lastPruneMs = this.clock.now();
    try {
      await this.o.store.pruneWebhookDeliveries(new Date(this.lastPruneMs).toISOString());
    } catch (error) {
      this.o.log.warn({ err: error }, 'pruning webhook delivery records failed');
    }
  }
}
