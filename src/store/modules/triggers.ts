/** Triggers (an agenthost extension) and the webhook deliveries they accepted; deleted with their session. */
import { sql, type Generated, type Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import { isoOrNull, isoTimestamp, object, page } from '../query.js';
import { StoreNotFoundError, type Store, type TriggerKind, type TriggerRecord } from '../store.js';

export interface TriggerTables {
  triggers: {
    seq: Generated<number>;
    id: string;
    workspace_id: string;
    session_id: string;
    kind: TriggerKind;
    /** JSON text. */
    body: string;
    secret: string | null;
    created_at: string;
    updated_at: string;
    last_fired_at: string | null;
    next_fire_at: string | null;
    disabled_at: string | null;
    disabled_reason: string | null;
  };
  /** Signatures of accepted webhook calls, kept until they leave the accepted window, so a replay is refused. */
  webhook_deliveries: { trigger_id: string; signature: string; expires_at: string };
}

const toTrigger = (r: Selectable<TriggerTables['triggers']>): TriggerRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  sessionId: r.session_id,
  seq: r.seq,
  kind: r.kind,
  body: object(r.body),
  secret: r.secret,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastFiredAt: r.last_fired_at,
  nextFireAt: r.next_fire_at,
  disabledAt: r.disabled_at,
  disabledReason: r.disabled_reason,
});

export function triggers({ db }: StoreContext): Pick<
  Store,
  | 'createTrigger'
  | 'getTrigger'
  | 'findTriggerById'
  | 'listTriggers'
  | 'listDueTriggers'
  | 'nextTriggerFireAt'
  | 'claimTriggerFire'
  | 'markTriggerFired'
  | 'disableTrigger'
  | 'deleteTrigger'
  | 'recordWebhookDelivery'
  | 'pruneWebhookDeliveries'
> {
  /** Enabled triggers with a next fire time. */
  const scheduled = () => db.selectFrom('triggers').where('next_fire_at', 'is not', null).where('disabled_at', 'is', null);

  return {
    async createTrigger(t) {
      // Selecting the session in the trigger's workspace is what keeps a
      // trigger from pointing at another workspace's session. A session
      // deleted concurrently fails the foreign key instead (StoreNotFoundError too).
      const row = await db
        .insertInto('triggers')
        .columns(['id', 'workspace_id', 'session_id', 'kind', 'body', 'secret', 'created_at', 'updated_at', 'last_fired_at', 'next_fire_at', 'disabled_at', 'disabled_reason'])
        .expression((eb) =>
          eb
            .selectFrom('sessions')
            .select([
              eb.val(t.id).as('id'),
              'workspace_id',
              'id as session_id',
              eb.val(t.kind).as('kind'),
              eb.val(JSON.stringify(t.body)).as('body'),
              eb.val(t.secret).as('secret'),
              eb.val(isoTimestamp(t.createdAt)).as('created_at'),
              eb.val(isoTimestamp(t.updatedAt)).as('updated_at'),
              eb.val(isoOrNull(t.lastFiredAt)).as('last_fired_at'),
              eb.val(isoOrNull(t.nextFireAt)).as('next_fire_at'),
              eb.val(isoOrNull(t.disabledAt)).as('disabled_at'),
              eb.val(t.disabledReason).as('disabled_reason'),
            ])
            .where('workspace_id', '=', t.workspaceId)
            .where('id', '=', t.sessionId),
        )
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new StoreNotFoundError(`session ${t.sessionId} not found in workspace ${t.workspaceId}`);
      return toTrigger(row);
    },

    async getTrigger(workspaceId, id) {
      const row = await db.selectFrom('triggers').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return row ? toTrigger(row) : null;
    },

    async findTriggerById(id) {
      const row = await db.selectFrom('triggers').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toTrigger(row) : null;
    },

    async listTriggers(workspaceId, sessionId, query) {
      const qb = db.selectFrom('triggers').selectAll().where('workspace_id', '=', workspaceId).where('session_id', '=', sessionId);
      return page(qb, query, toTrigger);
    },

    async listDueTriggers(now, limit) {
      const rows = await scheduled()
        .selectAll()
        .where('next_fire_at', '<=', isoTimestamp(now))
        .orderBy('next_fire_at')
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(toTrigger);
    },

    async nextTriggerFireAt() {
      const row = await scheduled()
        .select((eb) => eb.fn.min('next_fire_at').as('at'))
        .executeTakeFirst();
      return row?.at ?? null;
    },

    async claimTriggerFire(id, expected, firedAt, next) {
      const { numUpdatedRows } = await db
        .updateTable('triggers')
        .set({ last_fired_at: isoTimestamp(firedAt), next_fire_at: isoOrNull(next) })
        .where('id', '=', id)
        .where('next_fire_at', '=', isoTimestamp(expected))
        .where('disabled_at', 'is', null)
        .executeTakeFirst();
      return numUpdatedRows > 0n;
    },

    async markTriggerFired(id, firedAt) {
      const ts = isoTimestamp(firedAt);
      const { numUpdatedRows } = await db
        .updateTable('triggers')
        // Never moves back: only a later (or a first) fire replaces it.
        .set({ last_fired_at: sql<string>`case when last_fired_at is null or last_fired_at < ${ts} then ${ts} else last_fired_at end` })
        .where('id', '=', id)
        .executeTakeFirst();
      return numUpdatedRows > 0n;
    },

    async disableTrigger(id, at, reason) {
      const ts = isoTimestamp(at);
      const row = await db
        .updateTable('triggers')
        .set({
          next_fire_at: null,
          disabled_reason: sql<string>`case when disabled_at is null then ${reason} else disabled_reason end`,
          updated_at: sql<string>`case when disabled_at is null then ${ts} else updated_at end`,
          disabled_at: sql<string>`coalesce(disabled_at, ${ts})`,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row ? toTrigger(row) : null;
    },

    async deleteTrigger(workspaceId, id) {
      const { numDeletedRows } = await db.deleteFrom('triggers').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return numDeletedRows > 0n;
    },

    async recordWebhookDelivery(triggerId, signature, expiresAt) {
      const { numInsertedOrUpdatedRows } = await db
        .insertInto('webhook_deliveries')
        .values({ trigger_id: triggerId, signature, expires_at: isoTimestamp(expiresAt) })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return (numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async pruneWebhookDeliveries(now) {
      const { numDeletedRows } = await db.deleteFrom('webhook_deliveries').where('expires_at', '<', isoTimestamp(now)).executeTakeFirst();
      return Number(numDeletedRows);
    },
  };
}
