import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { StoreDialect } from '../dialect.js';
import { migrate, SHARED_MIGRATIONS } from '../migrate.js';

/**
 * Applies every migration and the test one in `migrations/` (written once,
 * with `dialect.types`) to an empty database, twice, and checks what its
 * column types hand back: the same values on both databases.
 */
export async function assertWrittenOnceMigration(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  const dirs = [dialect.migrations, SHARED_MIGRATIONS, new URL('./migrations/', import.meta.url)];
  await migrate(db, dialect, dirs);
  await migrate(db, dialect, dirs);
  const versions = (await db.selectFrom('schema_migrations').select('version').orderBy('version').execute()).map((v: { version: number }) => v.version);
  assert.equal(versions.at(-1), 900);
  assert.equal(new Set(versions).size, versions.length);

  const body = JSON.stringify({ text: 'ünïcødé 🚀 and a NUL \u0000', n: 1.5 });
  const row = (id: string) => ({ id, body, size: 2 ** 40, ratio: 0.25, created_at: '2025-01-01T00:00:00.000Z' });
  await db.insertInto('widgets').values([row('w1'), row('w2')]).execute();
  await db.deleteFrom('widgets').where('id', '=', 'w2').execute();
  await db.insertInto('widgets').values(row('w3')).execute();
  const rows = await db.selectFrom('widgets').selectAll().orderBy('seq').execute();
  assert.deepEqual(rows, [
    { seq: 1, ...row('w1') },
    { seq: 3, ...row('w3') },
  ], 'seq is never reused; JSON comes back as its text, bigint as a number, timestamps canonical');
}
