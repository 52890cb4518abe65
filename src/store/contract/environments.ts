import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreConflictError } from '../store.js';
import { at, environment, session, workspace, type GetStore } from './fixtures.js';

const page = { limit: 100, order: 'asc' as const };

export function environmentTests(store: GetStore): void {
  describe('environments', () => {
    it('create, get and update', async () => {
      const ws = await workspace(store());
      const created = await environment(store(), ws, { createdAt: at(1), body: { name: 'one' } });
      assert.ok(Number.isInteger(created.seq) && created.seq > 0);
      assert.deepEqual(await store().getEnvironment(ws, created.id), created);
      const updated = await store().updateEnvironment(ws, created.id, { name: 'two' }, at(2));
      assert.deepEqual(updated, { ...created, body: { name: 'two' }, updatedAt: at(2) });
      assert.deepEqual(await store().getEnvironment(ws, created.id), updated);
      assert.equal(await store().updateEnvironment(ws, 'env_unknown', { name: 'x' }, at(2)), null);
    });

    it('archiveEnvironment sets archivedAt once', async () => {
      const ws = await workspace(store());
      const created = await environment(store(), ws, { createdAt: at(1) });
      const archived = await store().archiveEnvironment(ws, created.id, at(5));
      assert.deepEqual(archived, { ...created, archivedAt: at(5), updatedAt: at(5) });
      assert.deepEqual(await store().archiveEnvironment(ws, created.id, at(9)), archived);
      assert.equal(await store().archiveEnvironment(ws, 'env_unknown', at(9)), null);
    });

    it('another workspace can neither see, change nor delete an environment', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const created = await environment(store(), ws);
      assert.equal(await store().getEnvironment(other, created.id), null);
      assert.equal(await store().updateEnvironment(other, created.id, { name: 'hijack' }, at(2)), null);
      assert.equal(await store().archiveEnvironment(other, created.id, at(2)), null);
      assert.equal(await store().deleteEnvironment(other, created.id), false);
      assert.deepEqual((await store().listEnvironments(other, page)).items, []);
      assert.deepEqual(await store().getEnvironment(ws, created.id), created);
    });

    it('deleteEnvironment removes an unused environment and then reports it absent', async () => {
      const ws = await workspace(store());
      const created = await environment(store(), ws);
      assert.equal(await store().deleteEnvironment(ws, created.id), true);
      assert.equal(await store().getEnvironment(ws, created.id), null);
      assert.equal(await store().deleteEnvironment(ws, created.id), false);
    });

    it('deleteEnvironment is a conflict while a session references it', async () => {
      const ws = await workspace(store());
      const env = await environment(store(), ws);
      const { session: s } = await session(store(), ws, { environmentId: env.id, status: 'terminated' });
      await store().updateSession(ws, s.id, { archivedAt: at(3), updatedAt: at(3) });
      await assert.rejects(store().deleteEnvironment(ws, env.id), StoreConflictError);
      assert.ok(await store().getEnvironment(ws, env.id));
      assert.equal(await store().deleteSession(ws, s.id), true);
      assert.equal(await store().deleteEnvironment(ws, env.id), true);
    });
  });
}
