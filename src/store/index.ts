import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export * from './store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
export { SqliteStore } from './sqlite/sqlite-store.js';
export { TranscriptStore } from './session-store.js';

export interface OpenStoreOptions {
  /** A `postgres://` or `postgresql://` URL; absent or empty means SQLite. */
  databaseUrl?: string;
  /** Where the SQLite file `agenthost.db` lives; created if missing. */
  dataDir: string;
  log: Logger;
}

/**
 * Opens the configured store and brings its schema up to date. The store is
 * closed again if migrating fails, so a failed start leaks no connections.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { databaseUrl, dataDir, log } = options;
  let store: Store;
  if (databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)) {
    store = new PostgresStore(databaseUrl, { log: log.child({ component: 'store' }) });
    log.info({ backend: 'postgres' }, 'opening store');
  } else if (databaseUrl) {
    // Falling back to SQLite here would quietly keep data somewhere the
    // operator did not ask for.
    throw new Error('database URL must start with postgres:// or postgresql:// (leave it unset for SQLite)');
  } else {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, 'agenthost.db');
    store = new SqliteStore(path);
    log.info({ backend: 'sqlite', path }, 'opening store');
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
