import { createRequire } from 'node:module';
import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type { Logger } from '../../logger.js';
import { StoreConflictError, StoreNotFoundError } from '../store.js';

// node-postgres (~13 MiB once loaded) is required when the first PostgreSQL
// connection is made, so a server on SQLite never holds it.
const require = createRequire(import.meta.url);
let pgModule: typeof pg | undefined;
const loadPg = (): typeof pg => (pgModule ??= require('pg') as typeof pg);

export interface PgPoolOptions {
  /** Becomes the search_path of every pooled connection. Must already be validated. */
  schema?: string;
  log?: Logger;
  max?: number;
}

/**
 * A node-postgres pool as Kysely's PostgreSQL dialect uses it: values come
 * back as SQLite's do (BIGINT and NUMERIC as numbers, TIMESTAMPTZ as
 * canonical ISO text, JSON as text), so one set of row types and mappers
 * serves both databases; constraint failures become the store's own errors.
 */
export function createPool(connectionString: string, options: PgPoolOptions): PostgresPool {
  const pg = loadPg();
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: 'agenthost',
    types: storeTypes(pg),
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the
  // pool replaces it and the next query reports any lasting outage.
  pool.on('error', (error) => options.log?.warn({ err: error }, 'postgres idle connection error'));
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let wrapped = clients.get(client);
      if (!wrapped) {
        wrapped = translating(client);
        clients.set(client, wrapped);
      }
      return wrapped;
    },
    end: () => pool.end(),
  };
}

const OID = { int8: 20, numeric: 1700, json: 114, jsonb: 3802, timestamptz: 1184 };

function storeTypes(pg: typeof import('pg').default): pg.CustomTypesConfig {
  const toDate = pg.types.getTypeParser(OID.timestamptz) as (text: string) => Date;
  const text = (value: string): string => value;
  const parsers = new Map<number, (value: string) => unknown>([
    // Seqs, sizes, token counts and mtimes stay far below 2^53.
    [OID.int8, Number],
    [OID.numeric, Number],
    [OID.json, text],
    [OID.jsonb, text],
    [OID.timestamptz, (value) => toDate(value).toISOString()],
  ]);
  const getTypeParser = (oid: number, format?: 'text' | 'binary') =>
    (format === undefined || format === 'text' ? parsers.get(oid) : undefined) ?? pg.types.getTypeParser(oid, format ?? 'text');
  return { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] };
}

function translating(client: pg.PoolClient): PostgresPoolClient {
  return {
    async query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
      try {
        return (await client.query(sql, parameters as unknown[])) as unknown as PostgresQueryResult<R>;
      } catch (error) {
        throw translate(error);
      }
    },
    release: (destroy) => client.release(destroy),
  } as PostgresPoolClient;
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
