/** What requests with an `Idempotency-Key` got, so retries get the same answer. */
import type { Kysely, Selectable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import type { DB } from '../kysely-store.js';
import { isoTimestamp, object } from '../query.js';
import type { IdempotencyRecord, Store } from '../store.js';

export interface IdempotencyTables {
  idempotency_keys: {
    workspace_id: string;
    key: string;
    request_hash: string;
    /** JSON text. */
    response: string;
    created_at: string;
    expires_at: string;
  };
}

const toRecord = (r: Selectable<IdempotencyTables['idempotency_keys']>): IdempotencyRecord => ({
  workspaceId: r.workspace_id,
  key: r.key,
  requestHash: r.request_hash,
  response: object(r.response),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/**
 * Inserts the record, or replaces one that has expired by its `createdAt`.
 * Returns the record that holds the key instead, or null when this one was
 * saved. Runs in the caller's transaction.
 */
export async function saveIdempotency(trx: Kysely<DB>, record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
  // On PostgreSQL a concurrent insert of the same key makes this statement
  // wait for that transaction; once it commits, the conflict (and its row)
  // is visible here.
  const saved = await trx
    .insertInto('idempotency_keys')
    .values({
      workspace_id: record.workspaceId,
      key: record.key,
      request_hash: record.requestHash,
      response: JSON.stringify(record.response),
      created_at: isoTimestamp(record.createdAt),
      expires_at: isoTimestamp(record.expiresAt),
    })
    .onConflict((oc) =>
      oc
        .columns(['workspace_id', 'key'])
        .doUpdateSet((eb) => ({
          request_hash: eb.ref('excluded.request_hash'),
          response: eb.ref('excluded.response'),
          created_at: eb.ref('excluded.created_at'),
          expires_at: eb.ref('excluded.expires_at'),
        }))
        .where('idempotency_keys.expires_at', '<=', (eb) => eb.ref('excluded.created_at')),
    )
    .returning('key')
    .executeTakeFirst();
  if (saved) return null;
  const held = await trx
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('workspace_id', '=', record.workspaceId)
    .where('key', '=', record.key)
    .executeTakeFirstOrThrow();
  return toRecord(held);
}

export function idempotency({ db }: StoreContext): Pick<Store, 'saveIdempotentResponse' | 'getIdempotentResponse' | 'pruneIdempotencyKeys'> {
  return {
    async saveIdempotentResponse(record) {
      // In a transaction: the conflicting row stays locked until the read that
      // returns it, so a concurrent prune cannot take it away in between.
      return db.transaction().execute((trx) => saveIdempotency(trx, record));
    },

    async getIdempotentResponse(workspaceId, key, at) {
      const row = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('key', '=', key)
        .where('expires_at', '>', isoTimestamp(at))
        .executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async pruneIdempotencyKeys(at) {
      const { numDeletedRows } = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', isoTimestamp(at)).executeTakeFirst();
      return Number(numDeletedRows);
    },
  };
}
