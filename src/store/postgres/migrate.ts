import type { PoolClient } from 'pg';
import { loadMigrations } from '../migrations.js';

const MIGRATIONS = new URL('./migrations/', import.meta.url);

/**
 * Applies pending migrations in one transaction under an advisory lock, so
 * several agenthost processes starting at once apply each migration exactly
 * once, and a failing migration leaves the schema as it was. Creates the
 * store's schema first when one was configured.
 */
export async function migratePostgres(client: PoolClient, schema: string | undefined): Promise<void> {
  const migrations = await loadMigrations(MIGRATIONS);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`agenthost.migrate:${schema ?? ''}`]);
  if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`);
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => r.version));
  const newest = Math.max(0, ...applied);
  if (newest > latest) {
    throw new Error(`database schema is at version ${newest}, newer than this agenthost knows (${latest})`);
  }
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
  }
}
