import type { Kysely } from 'kysely';
import type { StoreDialect } from '../../dialect.js';

/**
 * A migration written once for both databases, the way new ones are (see
 * ../../migrations/): its test (written-once.ts) applies it on SQLite and on
 * PostgreSQL and reads each column type back.
 */
export async function up(db: Kysely<any>, { types }: StoreDialect): Promise<void> {
  await types
    .seqAndId(db.schema.createTable('widgets'))
    .addColumn('body', types.json, (c) => c.notNull())
    .addColumn('size', types.bigint, (c) => c.notNull())
    .addColumn('ratio', types.double)
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('widgets_created').on('widgets').column('created_at').execute();
}
