import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { runStoreContract } from '../contract.js';
import { assertUpgraded, FIXTURE_SCHEMA, FIXTURES, loadFixture } from '../upgrade/fixtures.js';
import { assertWrittenOnceMigration } from '../upgrade/written-once.js';
import { createPool } from './connection.js';
import { postgresDialect, PostgresStore } from './postgres-store.js';

const url = process.env.AGENTHOST_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const inCi = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

/** Where the URL points, without credentials, for messages. */
function where(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'the configured URL';
  }
}

async function unreachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

const problem = await unreachable();
const run = randomBytes(4).toString('hex');
let stores = 0;

if (problem === null) {
  // Every test gets its own schema, dropped afterwards, so runs never see each other's rows.
  runStoreContract('postgres', async () => {
    const schema = `agenthost_test_${run}_${++stores}`;
    const store = new PostgresStore(url, { schema, max: 5 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describe('PostgresStore', () => {
    it('concurrent migrate calls on an empty schema apply each migration once', async () => {
      const schema = `agenthost_test_${run}_migrate`;
      const a = new PostgresStore(url, { schema });
      const b = new PostgresStore(url, { schema });
      try {
        await Promise.all([a.migrate(), b.migrate(), a.migrate()]);
        await a.ping();
      } finally {
        await a.close();
        await b.close();
        await dropSchema(schema);
      }
    });

    it('keys made before key scopes (migration 8) stay full access', async () => {
      const schema = `agenthost_test_${run}_scopes`;
      const old = new pg.Client({ connectionString: url });
      await old.connect();
      const store = new PostgresStore(url, { schema });
      try {
        await old.query(`CREATE SCHEMA "${schema}"; SET search_path TO "${schema}"`);
        await old.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
        const history = new URL('./migrations/', import.meta.url);
        for (const file of (await readdir(history)).sort()) {
          const [, version, name] = /^(\d+)_(\w+)\.sql$/.exec(file)!;
          if (Number(version) >= 8) continue;
          await old.query(await readFile(new URL(file, history), 'utf8'));
          await old.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [Number(version), name]);
        }
        await old.query("INSERT INTO workspaces (id, name, created_at) VALUES ('wrkspc_1', 'old', now())");
        await old.query("INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) VALUES ('key_1', 'wrkspc_1', 'h1', 'sk-ah-abc', now())");

        await store.migrate();
        assert.equal((await store.findApiKeyByHash('h1'))?.scope, 'full');
      } finally {
        await store.close();
        await old.end();
        await dropSchema(schema);
      }
    });

    for (const [i, name] of FIXTURES.entries()) {
      it(`a database made by ${name} opens in place and keeps everything`, async () => {
        const schema = `agenthost_test_${run}_upgrade${i}`;
        const fixture = await loadFixture(name);
        const old = new pg.Client({ connectionString: url });
        await old.connect();
        const store = new PostgresStore(url, { schema });
        try {
          await old.query(fixture.postgres.replaceAll(FIXTURE_SCHEMA, schema));
          await store.migrate();
          await assertUpgraded(store, fixture.reads.postgres);
        } finally {
          await store.close();
          await old.end();
          await dropSchema(schema);
        }
      });
    }

    it('applies a migration written once for both databases', async () => {
      const schema = `agenthost_test_${run}_written_once`;
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: async () => createPool(url, { schema }) }) });
      try {
        await assertWrittenOnceMigration(db, postgresDialect(schema));
      } finally {
        await db.destroy();
        await dropSchema(schema);
      }
    });

    it('rejects a schema name it would have to quote', () => {
      assert.throws(() => new PostgresStore(url, { schema: 'Robert"; DROP' }), /invalid schema name/);
    });
  });
} else if (inCi) {
  it('PostgreSQL is reachable', () => {
    assert.fail(
      `PostgreSQL at ${where(url)} is unreachable (${problem}). CI must run the postgres store contract: ` +
        'start PostgreSQL or set AGENTHOST_TEST_DATABASE_URL.',
    );
  });
} else {
  const skip = `PostgreSQL at ${where(url)} is unreachable (${problem}); set AGENTHOST_TEST_DATABASE_URL`;
  it('Store contract: postgres', { skip }, () => {});
}
