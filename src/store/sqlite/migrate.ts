import type Database from 'better-sqlite3';
import { loadMigrations } from '../migrations.js';

const MIGRATIONS = new URL('./migrations/', import.meta.url);

/**
 * Applies pending migrations in one `BEGIN IMMEDIATE` transaction, so two
 * processes starting on the same file cannot both apply one, and a failing
 * migration leaves the schema as it was.
 */
export async function migrateSqlite(db: Database.Database): Promise<void> {
  const migrations = await loadMigrations(MIGRATIONS);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const newest = Math.max(0, ...applied);
    if (newest > latest) {
      throw new Error(`database schema is at version ${newest}, newer than this agenthost knows (${latest})`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}
