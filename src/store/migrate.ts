import { readdir, readFile } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { StoreDialect } from './dialect.js';

/**
 * A numbered schema change. `NNN_name.sql` files are plain SQL (several
 * statements); `NNN_name.ts` modules export `up(db, dialect)` and build the
 * change with Kysely's schema builder and `dialect.types`, so one file serves
 * both databases.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>, dialect: StoreDialect): Promise<void>;
}

/** Migrations written once for both databases (from version 8 on). */
export const SHARED_MIGRATIONS = new URL('./migrations/', import.meta.url);

const FILE = /^(\d+)_([a-z0-9_]+)\.(sql|ts|js)$/;

/**
 * Reads the migrations in `dirs` (a database's own history, then the shared
 * ones), in version order. A version found twice is an error: each change is
 * either the database's own or shared, never both.
 */
export async function loadMigrations(...dirs: URL[]): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const dir of dirs) {
    for (const file of await readdir(dir)) {
      const match = FILE.exec(file);
      if (!match || file.endsWith('.d.ts')) continue;
      const url = new URL(file, dir);
      const up: Migration['up'] =
        match[3] === 'sql'
          ? async (db, dialect) => dialect.runScript(db, await readFile(url, 'utf8'))
          : async (db, dialect) => (await import(url.href) as { up: Migration['up'] }).up(db, dialect);
      migrations.push({ version: Number(match[1]), name: match[2] ?? '', up });
    }
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version) {
      throw new Error(`two migrations share version ${migrations[i]?.version} (in ${dirs.map((d) => d.pathname).join(', ')})`);
    }
  }
  if (migrations.length === 0) throw new Error(`no migrations found in ${dirs.map((d) => d.pathname).join(', ')}`);
  return migrations;
}

/**
 * Applies pending migrations in one transaction, recorded in
 * `schema_migrations` (the bookkeeping every agenthost release has kept), so
 * a failing migration leaves the schema as it was. The dialect's
 * `beginMigration` keeps two processes from migrating at once.
 */
export async function migrate(db: Kysely<any>, dialect: StoreDialect, dirs = [dialect.migrations, SHARED_MIGRATIONS]): Promise<void> {
  const migrations = await loadMigrations(...dirs);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  await db.transaction().execute(async (trx) => {
    await dialect.beginMigration(trx);
    await trx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('applied_at', dialect.types.timestamp, (c) => c.notNull())
      .execute();
    const rows = await trx.selectFrom('schema_migrations').select('version').execute();
    const applied = new Set(rows.map((r: { version: number }) => r.version));
    const newest = Math.max(0, ...applied);
    if (newest > latest) {
      throw new Error(`database schema is at version ${newest}, newer than this agenthost knows (${latest})`);
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await m.up(trx, dialect);
      await trx.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date().toISOString() }).execute();
    }
  });
}
