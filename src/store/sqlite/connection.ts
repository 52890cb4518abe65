import Database from 'better-sqlite3';
import { StoreConflictError, StoreNotFoundError } from '../store.js';

/**
 * A better-sqlite3 handle with cached statements, `BEGIN IMMEDIATE` write
 * transactions and constraint errors translated to the store's own.
 */
export class SqliteConnection {
  readonly db: Database.Database;
  /** Prepared lazily: tables may not exist until migrations have run. */
  private readonly statements = new Map<string, Database.Statement>();

  /** `path` is a database file (created if absent) or `':memory:'`. */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
  }

  get<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.statement(sql).get(...params) as R | undefined;
  }

  all<R>(sql: string, ...params: unknown[]): R[] {
    return this.statement(sql).all(...params) as R[];
  }

  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, ...params: unknown[]): number {
    return this.statement(sql).run(...params).changes;
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up
   * front, so a second process on the same file waits out `busy_timeout`
   * instead of failing to upgrade a read lock halfway through.
   */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      throw translate(error);
    }
  }

  /** Forgets prepared statements, e.g. after the schema changed. */
  reset(): void {
    this.statements.clear();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** Constraint failures become the store's own errors; anything else passes through. */
function translate(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  switch (error.code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return new StoreConflictError(`already exists (${error.message})`, { cause: error });
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return new StoreNotFoundError(`a referenced row does not exist (${error.message})`, { cause: error });
    default:
      return error;
  }
}
