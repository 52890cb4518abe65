import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreNotFoundError, type Store, type UsageRecord } from '../store.js';
import { at, workspace, type GetStore } from './fixtures.js';

function record(workspaceId: string, o: Partial<UsageRecord> = {}): UsageRecord {
  return {
    workspaceId,
    sessionId: 'sesn_1',
    kind: 'tokens',
    name: 'claude-sonnet-4-5',
    inputTokens: 0,
    outputTokens: 0,
    cacheCreationInputTokens: 0,
    cacheReadInputTokens: 0,
    sandboxSeconds: 0,
    usd: 0,
    at: at(0),
    ...o,
  };
}

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);

export function usageTests(store: GetStore): void {
  describe('usage and budgets', () => {
    it('usageTotal sums a workspace’s records, at or after `since`', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      await store().recordUsage(record(ws, { usd: 0.25, at: at(10) }));
      await store().recordUsage(record(ws, { kind: 'sandbox', name: 'bwrap', sandboxSeconds: 3600, usd: 0.05, at: at(20) }));
      await store().recordUsage(record(other, { usd: 7, at: at(20) }));
      close(await store().usageTotal(ws), 0.3);
      close(await store().usageTotal(ws, at(20)), 0.05);
      close(await store().usageTotal(ws, '2025-01-01T01:00:20+01:00'), 0.05);
      close(await store().usageTotal(ws, at(21)), 0);
      close(await store().usageTotal('wrkspc_unknown'), 0);
    });

    it('recordUsage rejects an unknown workspace; usage outlives its session id', async () => {
      await assert.rejects(store().recordUsage(record('wrkspc_unknown', { usd: 1 })), StoreNotFoundError);
    });

    it('usageReport groups by workspace, kind and name, ordered, and filters', async () => {
      const a = await workspace(store(), `a-${Date.now()}`);
      const b = await workspace(store(), `b-${Date.now()}`);
      const s: Store = store();
      await s.recordUsage(record(a, { inputTokens: 100, outputTokens: 10, cacheCreationInputTokens: 5, cacheReadInputTokens: 1, usd: 0.1, at: at(1) }));
      await s.recordUsage(record(a, { inputTokens: 200, outputTokens: 20, usd: 0.2, at: at(2) }));
      await s.recordUsage(record(a, { name: 'claude-haiku-4-5', inputTokens: 7, usd: 0.01, at: at(3) }));
      await s.recordUsage(record(a, { kind: 'sandbox', name: 'bwrap', sandboxSeconds: 1.5, usd: 0.00002, at: at(4) }));
      await s.recordUsage(record(b, { inputTokens: 1, usd: 1, at: at(5) }));
      const report = await s.usageReport({});
      const mine = report.filter((r) => r.workspaceId === a || r.workspaceId === b);
      assert.deepEqual(
        mine.map((r) => [r.workspaceName.slice(0, 1), r.kind, r.name, r.records]),
        [
          ['a', 'sandbox', 'bwrap', 1],
          ['a', 'tokens', 'claude-haiku-4-5', 1],
          ['a', 'tokens', 'claude-sonnet-4-5', 2],
          ['b', 'tokens', 'claude-sonnet-4-5', 1],
        ],
      );
      const sonnet = mine[2]!;
      assert.deepEqual(
        [sonnet.inputTokens, sonnet.outputTokens, sonnet.cacheCreationInputTokens, sonnet.cacheReadInputTokens, sonnet.sandboxSeconds],
        [300, 30, 5, 1, 0],
      );
      close(sonnet.usd, 0.3);
      close(mine[0]!.sandboxSeconds, 1.5);
      const onlyA = await s.usageReport({ workspaceId: a, since: at(3) });
      assert.deepEqual(onlyA.map((r) => r.name), ['bwrap', 'claude-haiku-4-5']);
      assert.deepEqual(await s.usageReport({ workspaceId: a, since: at(100) }), []);
    });

    it('a budget is absent until set, then replaced whole', async () => {
      const ws = await workspace(store());
      assert.equal(await store().getWorkspaceBudget(ws), null);
      const set = await store().setWorkspaceBudget({ workspaceId: ws, dailyUsd: 5, totalUsd: null, updatedAt: '2025-01-01T01:00:00+01:00' });
      assert.deepEqual(set, { workspaceId: ws, dailyUsd: 5, totalUsd: null, updatedAt: at(0) });
      assert.deepEqual(await store().getWorkspaceBudget(ws), set);
      const replaced = await store().setWorkspaceBudget({ workspaceId: ws, dailyUsd: null, totalUsd: 12.5, updatedAt: at(60) });
      assert.deepEqual(replaced, { workspaceId: ws, dailyUsd: null, totalUsd: 12.5, updatedAt: at(60) });
      assert.deepEqual(await store().getWorkspaceBudget(ws), replaced);
      await assert.rejects(store().setWorkspaceBudget({ workspaceId: 'wrkspc_unknown', dailyUsd: 1, totalUsd: 1, updatedAt: at(0) }), StoreNotFoundError);
    });
  });
}
