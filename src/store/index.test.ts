import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../logger.js';
import { openStore, SqliteStore } from './index.js';

describe('openStore', () => {
  it('opens a migrated SQLite store in a data directory it creates', async () => {
    const root = await mkdtemp(join(tmpdir(), 'agenthost-open-'));
    try {
      const dataDir = join(root, 'nested', 'data');
      const store = await openStore({ dataDir, log: silentLogger() });
      assert.ok(store instanceof SqliteStore);
      assert.ok(existsSync(join(dataDir, 'agenthost.db')));
      const ws = await store.ensureWorkspace('default', 'wrkspc_1', '2025-01-01T00:00:00.000Z');
      assert.equal(ws.id, 'wrkspc_1');
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a database URL it does not understand rather than falling back to SQLite', async () => {
    await assert.rejects(
      openStore({ databaseUrl: 'mysql://db/agenthost', dataDir: '/nonexistent', log: silentLogger() }),
      /postgres:\/\//,
    );
  });
});
