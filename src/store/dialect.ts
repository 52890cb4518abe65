import type { ColumnDataType, CreateTableBuilder, Expression, Kysely, RawBuilder } from 'kysely';
import type { DB } from './kysely-store.js';

/**
 * What differs between SQLite and PostgreSQL, given to the store modules
 * and migrations that are written once for both. Everything else (the
 * queries, the row shapes) is the same: each backend hands back integers as
 * numbers, timestamps as canonical ISO strings and JSON columns as text.
 */
export interface StoreDialect {
  /**
   * Whether `SELECT ... FOR UPDATE` (and `SKIP LOCKED`) exist. On PostgreSQL
   * a write that reads before it writes locks the rows it read. SQLite has
   * no row locks and needs none: its write transactions take the database's
   * one write lock up front (`BEGIN IMMEDIATE`).
   */
  readonly rowLocks: boolean;
  /** The database's clock as integer epoch milliseconds (on PostgreSQL, one clock for every server). */
  nowMs(): RawBuilder<number>;
  /** A text column to order by byte by byte (SQLite's default; PostgreSQL needs `COLLATE "C"`). */
  byteOrder(column: string): Expression<string>;
  /** Column types for migrations written once (`migrations/*.ts`). */
  readonly types: ColumnTypes;
  /** This database's own migrations: the schema's history from before migrations were written once. */
  readonly migrations: URL;
  /** Runs a script of several statements (a `.sql` migration) inside the migration's transaction. */
  runScript(trx: Kysely<any>, script: string): Promise<void>;
  /**
   * First step of the migration transaction: whatever keeps two processes
   * from migrating at once, and the schema the tables go in.
   */
  beginMigration(trx: Kysely<any>): Promise<void>;
}

/** A column type as Kysely's schema builder takes it. */
type DataTypeExpression = ColumnDataType | Expression<unknown>;

export interface ColumnTypes {
  /** An instant: canonical ISO text on SQLite (text order is time order), TIMESTAMPTZ on PostgreSQL. */
  timestamp: DataTypeExpression;
  /** A JSON body, stored and returned whole: TEXT on SQLite, JSON on PostgreSQL. */
  json: DataTypeExpression;
  /** A 64-bit integer. */
  bigint: DataTypeExpression;
  /** A double-precision float. */
  double: DataTypeExpression;
  /**
   * Adds `seq` (store-assigned, strictly increasing, never reused: cursors
   * are built from it) and `id` (text, the primary key) to a new table.
   */
  seqAndId<T extends string, C extends string>(table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C | 'seq' | 'id'>;
}

/** What every store module is built from. */
export interface StoreContext {
  db: Kysely<DB>;
  dialect: StoreDialect;
}
