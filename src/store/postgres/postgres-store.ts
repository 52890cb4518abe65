import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from '../../logger.js';
import type { StoreDialect } from '../dialect.js';
import { KyselyStore, type DB } from '../kysely-store.js';
import { createPool } from './connection.js';

export interface PostgresStoreOptions {
  /**
   * Schema holding agenthost's tables, created by `migrate()` and set as the
   * search_path of every pooled connection. Default: the server's search_path.
   */
  schema?: string;
  log?: Logger;
  /** Pool size. Default 10. */
  max?: number;
}

/** Names that need no quoting anywhere they are spliced into SQL or options. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The PostgreSQL store over a node-postgres pool. A write that reads before
 * it writes locks the rows it depends on (`SELECT ... FOR UPDATE`); that is
 * what keeps event seqs gap-free under concurrent appends, from any process.
 */
export class PostgresStore extends KyselyStore {
  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new Error(`invalid schema name ${JSON.stringify(options.schema)}: use lowercase letters, digits and _`);
    }
    // The pool (and node-postgres with it) is made on the first query.
    const dialect = new PostgresDialect({ pool: async () => createPool(connectionString, options) });
    super(new Kysely<DB>({ dialect }), postgresDialect(options.schema));
  }
}

/** What differs on PostgreSQL (see StoreDialect); `schema` is where the tables go. */
export function postgresDialect(schema: string | undefined): StoreDialect {
  return {
    rowLocks: true,
    nowMs: () => sql<number>`floor(extract(epoch from clock_timestamp()) * 1000)::bigint`,
    byteOrder: (column) => sql<string>`${sql.ref(column)} collate "C"`,
    types: {
      timestamp: 'timestamptz',
      json: 'json',
      bigint: 'bigint',
      double: 'double precision',
      // An identity: strictly increasing, never reused.
      seqAndId: (table) =>
        table
          .addColumn('seq', 'bigint', (c) => c.generatedAlwaysAsIdentity().unique())
          .addColumn('id', 'text', (c) => c.primaryKey()),
    },
    migrations: new URL('./migrations/', import.meta.url),
    runScript: async (trx, script) => {
      await sql.raw(script).execute(trx);
    },
    beginMigration: async (trx) => {
      // Held until the transaction ends; the same key as every earlier
      // agenthost, so an old and a new server starting together take turns.
      await sql`select pg_advisory_xact_lock(hashtext(${`agenthost.migrate:${schema ?? ''}`}))`.execute(trx);
      if (schema) await sql`create schema if not exists ${sql.id(schema)}`.execute(trx);
    },
  };
}
