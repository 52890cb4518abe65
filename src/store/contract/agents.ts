import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreConflictError, StoreNotFoundError, type JsonObject } from '../store.js';
import { agent, at, ids, workspace, type GetStore } from './fixtures.js';

/** Bodies that are easy to mangle: nesting, unicode, NUL, numbers, nulls. */
export const trickyBody: JsonObject = {
  name: 'tricky',
  system: 'line one\nline "two" \\ ünïcødé 🚀 and a NUL \u0000 here',
  tools: [{ type: 'agent_toolset_20250522', configs: [] }, null, 1.5, 0, 1e21, true],
  metadata: { nested: { deeper: { 'key with spaces': 'value' } } },
  empty: {},
};

const page = { limit: 100, order: 'asc' as const };

export function agentTests(store: GetStore): void {
  describe('agents', () => {
    it('createAgent assigns seq and version 1 and keeps the body intact', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws, { createdAt: at(3), body: trickyBody });
      assert.equal(created.version, 1);
      assert.ok(Number.isInteger(created.seq) && created.seq > 0);
      assert.deepEqual(created.body, trickyBody);
      assert.equal(created.createdAt, at(3));
      assert.equal(created.archivedAt, null);
      assert.deepEqual(await store().getAgent(ws, created.id), created);
      assert.deepEqual(await store().getAgentVersion(ws, created.id, 1), {
        agentId: created.id,
        version: 1,
        body: trickyBody,
        createdAt: at(3),
      });
    });

    it('updateAgent writes the next version and keeps the old one readable', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws, { createdAt: at(1) });
      const updated = await store().updateAgent(ws, created.id, 1, { name: 'second' }, at(2));
      assert.ok(updated);
      assert.equal(updated.version, 2);
      assert.deepEqual(updated.body, { name: 'second' });
      assert.equal(updated.seq, created.seq);
      assert.equal(updated.createdAt, at(1));
      assert.equal(updated.updatedAt, at(2));
      assert.deepEqual(await store().getAgent(ws, created.id), updated);
      assert.deepEqual((await store().getAgentVersion(ws, created.id, 1))?.body, created.body);
      assert.deepEqual(await store().getAgentVersion(ws, created.id, 2), {
        agentId: created.id,
        version: 2,
        body: { name: 'second' },
        createdAt: at(2),
      });
      assert.equal(await store().getAgentVersion(ws, created.id, 3), null);
    });

    it('updateAgent with a stale version is a conflict and changes nothing', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws);
      await store().updateAgent(ws, created.id, 1, { name: 'v2' }, at(2));
      await assert.rejects(store().updateAgent(ws, created.id, 1, { name: 'lost' }, at(3)), StoreConflictError);
      const current = await store().getAgent(ws, created.id);
      assert.equal(current?.version, 2);
      assert.deepEqual(current?.body, { name: 'v2' });
    });

    it('concurrent updates from the same version: exactly one wins', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws);
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store().updateAgent(ws, created.id, 1, { name: `writer ${i}` }, at(2))),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      for (const r of lost) assert.ok(r.reason instanceof StoreConflictError, String(r.reason));
      assert.equal((await store().getAgent(ws, created.id))?.version, 2);
    });

    it('updateAgent of an unknown agent returns null', async () => {
      const ws = await workspace(store());
      assert.equal(await store().updateAgent(ws, 'agent_unknown', 1, { name: 'x' }, at(1)), null);
    });

    it('archiveAgent sets archivedAt once', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws, { createdAt: at(1) });
      const archived = await store().archiveAgent(ws, created.id, at(5));
      assert.equal(archived?.archivedAt, at(5));
      assert.equal(archived?.updatedAt, at(5));
      assert.deepEqual(await store().archiveAgent(ws, created.id, at(9)), archived);
      assert.equal(await store().archiveAgent(ws, 'agent_unknown', at(9)), null);
    });

    it('another workspace can neither see nor change an agent', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const created = await agent(store(), ws);
      assert.equal(await store().getAgent(other, created.id), null);
      assert.equal(await store().getAgentVersion(other, created.id, 1), null);
      assert.equal(await store().updateAgent(other, created.id, 1, { name: 'hijack' }, at(2)), null);
      assert.equal(await store().archiveAgent(other, created.id, at(2)), null);
      assert.deepEqual((await store().listAgents(other, page)).items, []);
      assert.deepEqual(await store().getAgent(ws, created.id), created);
      assert.deepEqual(ids((await store().listAgents(ws, page)).items), [created.id]);
    });

    it('a duplicate id is a conflict; an unknown workspace is not found', async () => {
      const ws = await workspace(store());
      const created = await agent(store(), ws);
      await assert.rejects(store().createAgent({ ...created }), StoreConflictError);
      await assert.rejects(agent(store(), 'wrkspc_unknown'), StoreNotFoundError);
    });
  });
}
