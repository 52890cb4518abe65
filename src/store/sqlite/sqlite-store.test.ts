import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely } from 'kysely';
import { runStoreContract } from '../contract.js';
import { assertUpgraded, FIXTURES, loadFixture } from '../upgrade/fixtures.js';
import { assertWrittenOnceMigration } from '../upgrade/written-once.js';
import { ImmediateSqliteDialect, SqliteConnection } from './connection.js';
import { sqliteDialect, SqliteStore } from './sqlite-store.js';

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'agenthost-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

// A real file rather than ':memory:', so WAL mode and reopening are exercised.
runStoreContract('sqlite', async () => {
  const { dir, remove } = await tempDir();
  const store = new SqliteStore(join(dir, 'agenthost.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await remove();
    },
  };
});

describe('SqliteStore', () => {
  it('keeps its data and schema version across reopening the file', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'agenthost.db');
      const first = new SqliteStore(path);
      await first.migrate();
      const ws = await first.ensureWorkspace('default', 'wrkspc_1', '2025-01-01T00:00:00.000Z');
      await first.close();

      const second = new SqliteStore(path);
      await second.migrate();
      assert.deepEqual(await second.getWorkspace('wrkspc_1'), ws);
      await second.close();
    } finally {
      await remove();
    }
  });

  it('keys made before key scopes (migration 8) stay full access', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'agenthost.db');
      const old = new Database(path);
      old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const history = new URL('./migrations/', import.meta.url);
      for (const file of (await readdir(history)).sort()) {
        const [, version, name] = /^(\d+)_(\w+)\.sql$/.exec(file)!;
        if (Number(version) >= 8) continue;
        old.exec(await readFile(new URL(file, history), 'utf8'));
        old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(Number(version), name, '2025-01-01T00:00:00.000Z');
      }
      old.prepare("INSERT INTO workspaces (id, name, created_at) VALUES ('wrkspc_1', 'old', '2025-01-01T00:00:00.000Z')").run();
      old.prepare("INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) VALUES ('key_1', 'wrkspc_1', 'h1', 'sk-ah-abc', '2025-01-01T00:00:00.000Z')").run();
      old.close();

      const store = new SqliteStore(path);
      await store.migrate();
      assert.equal((await store.findApiKeyByHash('h1'))?.scope, 'full');
      await store.close();
    } finally {
      await remove();
    }
  });

  for (const name of FIXTURES) {
    it(`a data dir made by ${name} opens in place and keeps everything`, async () => {
      const { dir, remove } = await tempDir();
      try {
        const path = join(dir, 'agenthost.db');
        const fixture = await loadFixture(name);
        const old = new Database(path);
        old.exec(fixture.sqlite);
        old.close();

        const store = new SqliteStore(path);
        try {
          await store.migrate();
          await assertUpgraded(store, fixture.reads.sqlite);
        } finally {
          await store.close();
        }
      } finally {
        await remove();
      }
    });
  }

  it('applies a migration written once for both databases', async () => {
    const connection = new SqliteConnection(':memory:');
    const db = new Kysely<unknown>({ dialect: new ImmediateSqliteDialect(connection) });
    try {
      await assertWrittenOnceMigration(db, sqliteDialect(connection));
    } finally {
      await db.destroy();
    }
  });

  it('works in memory', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    await store.ping();
    await store.close();
  });
});
