import { createRequire } from 'node:module';
import type pg from 'pg';
import type { Logger } from '../../logger.js';
import { StoreConflictError, StoreNotFoundError } from '../store.js';

// node-postgres (~13 MiB once loaded) is required when the first PostgreSQL
// connection is made, so a server on SQLite never holds it.
const require = createRequire(import.meta.url);
let pgModule: typeof pg | undefined;
const loadPg = (): typeof pg => (pgModule ??= require('pg') as typeof pg);

/** A pooled connection or one holding a transaction open. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface PgConnectionOptions {
  /** Becomes the search_path of every pooled connection. Must already be validated. */
  schema?: string;
  log?: Logger;
  max?: number;
}

/**
 * A node-postgres pool with transactions and constraint errors translated to
 * the store's own.
 */
export class PgConnection {
  private readonly pool: pg.Pool;
  private ended = false;

  constructor(connectionString: string, options: PgConnectionOptions) {
    this.pool = new (loadPg().Pool)({
      connectionString,
      max: options.max ?? 10,
      application_name: 'agenthost',
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client losing its connection must not crash the process; the
    // pool replaces it and the next query reports any lasting outage.
    this.pool.on('error', (error) => options.log?.warn({ err: error }, 'postgres idle connection error'));
  }

  /** One statement, on `client` or a pooled connection; returns its rows. */
  async query<R>(sql: string, values: unknown[] = [], client: Queryable = this.pool): Promise<R[]> {
    try {
      return (await client.query(sql, values)).rows as R[];
    } catch (error) {
      throw translate(error);
    }
  }

  /** Runs `fn` inside BEGIN/COMMIT on one connection; rolls back if it throws. */
  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw translate(error);
    } finally {
      // A connection that could not roll back is in an unknown state: drop it.
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end();
  }
}

/** Constraint failures become the store's own errors; anything else passes through. */
function translate(error: unknown): unknown {
  // pg is loaded before any query can fail, so nothing else can be its error.
  if (!pgModule || !(error instanceof pgModule.DatabaseError)) return error;
  switch (error.code) {
    case '23505': // unique_violation
      return new StoreConflictError(`already exists (${error.detail ?? error.message})`, { cause: error });
    case '23503': // foreign_key_violation
      return new StoreNotFoundError(`a referenced row does not exist (${error.detail ?? error.message})`, { cause: error });
    default:
      return error;
  }
}
