import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../ids.js';
import { StoreConflictError, type ApiKeyRecord, type ApiKeyScope } from '../store.js';
import { at, workspace, type GetStore } from './fixtures.js';

function key(workspaceId: string, hash = newId('req'), scope: ApiKeyScope = 'full'): ApiKeyRecord {
  return { id: newId('key'), workspaceId, hash, prefix: 'ak-abc', scope, createdAt: at(1), revokedAt: null };
}

export function lifecycleTests(store: GetStore): void {
  describe('lifecycle', () => {
    it('migrate is idempotent and ping answers', async () => {
      await store().migrate();
      await store().migrate();
      await store().ping();
    });

    it('close is idempotent', async () => {
      await store().close();
      await store().close();
    });
  });
}

export function workspaceTests(store: GetStore): void {
  describe('workspaces', () => {
    it('ensureWorkspace creates once and then returns the existing workspace', async () => {
      const first = await store().ensureWorkspace('default', 'wrkspc_one', at(1));
      assert.deepEqual(first, { id: 'wrkspc_one', name: 'default', createdAt: at(1) });
      const again = await store().ensureWorkspace('default', 'wrkspc_two', at(2));
      assert.deepEqual(again, first);
      assert.deepEqual(await store().getWorkspace('wrkspc_one'), first);
      assert.equal(await store().getWorkspace('wrkspc_two'), null);
    });

    it('listWorkspaces lists every workspace by name', async () => {
      await store().ensureWorkspace('zeta', 'wrkspc_z', at(1));
      await store().ensureWorkspace('alpha', 'wrkspc_a', at(2));
      const names = (await store().listWorkspaces()).map((w) => w.name);
      assert.ok(names.indexOf('alpha') >= 0 && names.indexOf('alpha') < names.indexOf('zeta'));
      assert.deepEqual((await store().listWorkspaces()).find((w) => w.id === 'wrkspc_a'), { id: 'wrkspc_a', name: 'alpha', createdAt: at(2) });
    });

    it('concurrent ensureWorkspace calls agree on one workspace', async () => {
      const all = await Promise.all(
        Array.from({ length: 8 }, () => store().ensureWorkspace('shared', newId('wrkspc'), at(1))),
      );
      assert.equal(new Set(all.map((w) => w.id)).size, 1);
    });
  });

  describe('api keys', () => {
    it('finds a key by hash and lists keys per workspace', async () => {
      const a = await workspace(store());
      const b = await workspace(store());
      const k = key(a);
      await store().createApiKey(k);
      await store().createApiKey(key(b));
      assert.deepEqual(await store().findApiKeyByHash(k.hash), k);
      assert.equal(await store().findApiKeyByHash('no-such-hash'), null);
      assert.deepEqual(await store().listApiKeys(a), [k]);
      assert.equal((await store().listApiKeys(b)).length, 1);
    });

    it('a key keeps its scope: found and listed as full or read_only', async () => {
      const ws = await workspace(store());
      const full = key(ws, newId('req'), 'full');
      const readOnly = { ...key(ws, newId('req'), 'read_only'), createdAt: at(2) };
      await store().createApiKey(full);
      await store().createApiKey(readOnly);
      assert.equal((await store().findApiKeyByHash(readOnly.hash))?.scope, 'read_only');
      assert.equal((await store().findApiKeyByHash(full.hash))?.scope, 'full');
      assert.deepEqual(await store().listApiKeys(ws), [full, readOnly]);
    });

    it('a revoked key is not found, stays listed, and keeps its first revocation time', async () => {
      const ws = await workspace(store());
      const k = key(ws);
      await store().createApiKey(k);
      assert.equal(await store().revokeApiKey(ws, k.id, at(5)), true);
      assert.equal(await store().findApiKeyByHash(k.hash), null);
      assert.equal(await store().revokeApiKey(ws, k.id, at(9)), true);
      assert.deepEqual(await store().listApiKeys(ws), [{ ...k, revokedAt: at(5) }]);
    });

    it('revoking from another workspace or an unknown id changes nothing', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const k = key(ws);
      await store().createApiKey(k);
      assert.equal(await store().revokeApiKey(other, k.id, at(5)), false);
      assert.equal(await store().revokeApiKey(ws, 'key_unknown', at(5)), false);
      assert.deepEqual(await store().findApiKeyByHash(k.hash), k);
    });

    it('a second key with the same hash is a conflict', async () => {
      const ws = await workspace(store());
      const k = key(ws);
      await store().createApiKey(k);
      await assert.rejects(store().createApiKey({ ...key(ws), hash: k.hash }), StoreConflictError);
    });
  });
}
