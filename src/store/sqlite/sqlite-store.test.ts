import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runStoreContract } from '../contract.js';
import { SqliteStore } from './sqlite-store.js';

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

  it('works in memory', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    await store.ping();
    await store.close();
  });
});
