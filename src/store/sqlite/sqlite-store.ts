import { Kysely, sql } from 'kysely';
import type { StoreDialect } from '../dialect.js';
import { KyselyStore, type DB } from '../kysely-store.js';
import { ImmediateSqliteDialect, SqliteConnection } from './connection.js';

/**
 * The embedded store: one SQLite file in WAL mode. SQLite has one writer at
 * a time: every write transaction takes the write lock when it begins, and
 * within the process Kysely's SQLite driver runs one query or transaction at
 * a time on its one connection.
 */
export class SqliteStore extends KyselyStore {
  private readonly connection: SqliteConnection;

  /** `path` is a database file (created if absent) or `':memory:'`. */
  constructor(path: string) {
    const connection = new SqliteConnection(path);
    super(new Kysely<DB>({ dialect: new ImmediateSqliteDialect(connection) }), sqliteDialect(connection));
    this.connection = connection;
  }

  override async migrate(): Promise<void> {
    await super.migrate();
    this.connection.reset();
  }
}

/** What differs on SQLite (see StoreDialect). */
export function sqliteDialect(connection: SqliteConnection): StoreDialect {
  return {
    rowLocks: false,
    nowMs: () => sql<number>`cast(unixepoch('subsec') * 1000 as integer)`,
    byteOrder: (column) => sql.ref<string>(column),
    types: {
      timestamp: 'text',
      json: 'text',
      bigint: 'integer',
      double: 'real',
      // AUTOINCREMENT: a deleted row's seq is never handed out again.
      seqAndId: (table) =>
        table.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement()).addColumn('id', 'text', (c) => c.notNull().unique()),
    },
    migrations: new URL('./migrations/', import.meta.url),
    // A script is several statements, which only exec runs; the migration's
    // transaction is open on this same (only) connection.
    runScript: async (_trx, script) => {
      connection.raw.exec(script);
    },
    // The transaction began IMMEDIATE: it holds the write lock already.
    beginMigration: async () => {},
  };
}
