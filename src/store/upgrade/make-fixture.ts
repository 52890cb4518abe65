/**
 * Makes the upgrade fixtures of this checkout's store: the sample (sample.ts)
 * written by this version into SQLite and PostgreSQL, dumped as SQL, and its
 * reads as this version returns them. Run it at the release being upgraded
 * from (copy this folder there if it predates it), then check the files in:
 *
 *   npx tsx src/store/upgrade/make-fixture.ts <name>     e.g. main-a26086e
 *
 * Needs the sqlite3 and pg_dump commands, and PostgreSQL at
 * AGENTHOST_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore, SqliteStore, type Store } from '../index.js';
import { FIXTURE_SCHEMA } from './fixtures.js';
import { readSample, writeSample } from './sample.js';


const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) throw new Error('usage: make-fixture.ts <name> (lowercase letters, digits, -)');
const url = process.env.AGENTHOST_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const out = new URL('./', import.meta.url);

async function sample(store: Store): Promise<Record<string, unknown>> {
  try {
    await store.migrate();
    await writeSample(store);
    return await readSample(store);
  } finally {
    await store.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'agenthost-fixture-'));
try {
  const file = join(dir, 'agenthost.db');
  const sqliteReads = await sample(new SqliteStore(file));
  await writeFile(new URL(`${name}.sqlite.sql`, out), execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' }));

  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${FIXTURE_SCHEMA} CASCADE`);
  try {
    const postgresReads = await sample(new PostgresStore(url, { schema: FIXTURE_SCHEMA }));
    const dump = execFileSync('pg_dump', ['--dbname', url, '--schema', FIXTURE_SCHEMA, '--inserts', '--no-owner', '--no-privileges', '--no-comments'], {
      encoding: 'utf8',
    });
    // Only SQL, and none of the session settings (SET) a newer server than
    // the restoring one might not know; every name in it is schema-qualified.
    const sqlOnly = dump
      .split('\n')
      .filter((line) => !line.startsWith('\\') && !line.startsWith('SET ') && !line.startsWith('SELECT pg_catalog.set_config'))
      .join('\n');
    await writeFile(new URL(`${name}.postgres.sql`, out), sqlOnly);
    await writeFile(new URL(`${name}.reads.json`, out), `${JSON.stringify({ sqlite: sqliteReads, postgres: postgresReads }, null, 1)}\n`);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${FIXTURE_SCHEMA} CASCADE`);
    await admin.end();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
