import Database from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { StoreConflictError, StoreNotFoundError } from '../store.js';

/** How many prepared statements a connection keeps; the store's queries are far fewer. */
const CACHED_STATEMENTS = 200;
/** Longer SQL (a large multi-row insert) is prepared for each use instead of kept. */
const CACHED_SQL_CHARS = 8192;

/**
 * A better-sqlite3 handle as Kysely's SQLite dialect uses it, with prepared
 * statements cached by their SQL (preparing costs more than running most of
 * the store's queries) and constraint failures translated to the store's
 * own errors.
 */
export class SqliteConnection implements SqliteDatabase {
  readonly raw: Database.Database;
  private readonly statements = new Map<string, SqliteStatement>();

  /** `path` is a database file (created if absent) or `':memory:'`. */
  constructor(path: string) {
    this.raw = new Database(path);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma('busy_timeout = 5000');
  }

  prepare(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = translating(this.raw.prepare(sql));
      if (sql.length > CACHED_SQL_CHARS) return statement;
      if (this.statements.size >= CACHED_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Forgets prepared statements, e.g. after the schema changed. */
  reset(): void {
    this.statements.clear();
  }

  close(): void {
    if (this.raw.open) this.raw.close();
  }
}

/**
 * Kysely's SQLite dialect with write transactions that begin `IMMEDIATE`:
 * the write lock is taken up front, so a second process on the same file
 * waits out `busy_timeout` instead of failing to upgrade a read lock halfway
 * through a transaction.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly connection: SqliteConnection) {
    super({ database: connection });
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.connection });
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

function translating(statement: Database.Statement): SqliteStatement {
  return {
    reader: statement.reader,
    all: (parameters) => attempt(() => statement.all(parameters)),
    run: (parameters) => attempt(() => statement.run(parameters)),
    iterate: (parameters) => statement.iterate(parameters) as IterableIterator<unknown>,
  };
}

function attempt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw translate(error);
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
