import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../logger.js';
import { WarmPool, poolKey, type PoolTemplate, type WarmPoolSettings } from './warm-pool.js';

const settle = () => new Promise((r) => setImmediate(r));

function harness(o: { room?: (ws: string) => boolean; failStarts?: boolean; refillHoldMs?: number } = {}) {
  let now = 1_000_000;
  let n = 0;
  const started: string[] = [];
  const discarded: string[] = [];
  const pool = new WarmPool<{ tag: string }, string>({
    start: async (spec, id) => {
      started.push(id);
      if (o.failStarts) throw new Error('no sandbox');
      return `${spec.tag}:${id}`;
    },
    discard: async (id) => void discarded.push(id),
    hasRoom: o.room ?? (() => true),
    newId: () => `sesn_${++n}`,
    log: silentLogger(),
    now: () => now,
    refillHoldMs: o.refillHoldMs ?? 0,
  });
  const template = (ws: string, settings: Partial<WarmPoolSettings> = {}, fingerprint = 'f1'): PoolTemplate<{ tag: string }> => ({
    key: poolKey(ws, 'env_1', 'agent_1', 1),
    workspaceId: ws,
    environmentId: 'env_1',
    settings: { min: 0, max: 3, idleTimeoutS: 60, ...settings },
    fingerprint,
    spec: { tag: ws },
  });
  return { pool, template, started, discarded, advance: (ms: number) => (now += ms) };
}

describe('WarmPool', () => {
  it('fills after a creation, hands each member out once, and refills', async () => {
    const h = harness();
    const t = h.template('ws_a');
    h.pool.noteDemand(t);
    h.pool.reconcile();
    assert.deepEqual(h.pool.status('ws_a', 'env_1'), { ready: 0, starting: 1, target: 1 });
    await settle();
    assert.deepEqual(h.pool.status('ws_a', 'env_1'), { ready: 1, starting: 0, target: 1 });
    const member = h.pool.take(t.key, 'f1');
    assert.equal(member?.id, 'sesn_1');
    assert.equal(await member!.started, 'ws_a:sesn_1');
    assert.equal(h.pool.take(t.key, 'f1'), undefined, 'a member is handed out once');
    h.pool.noteDemand(t);
    h.pool.reconcile();
    await settle();
    // Two creations in the last minute: two members.
    assert.deepEqual(h.pool.status('ws_a', 'env_1'), { ready: 2, starting: 0, target: 2 });
    assert.deepEqual(h.started, ['sesn_1', 'sesn_2', 'sesn_3']);
  });

  it('holds a refill back until the taker ends its first turn, or for at most refillHoldMs', async () => {
    const h = harness({ refillHoldMs: 3_000 });
    const t = h.template('ws_a', { min: 1, max: 1 });
    h.pool.noteDemand(t);
    h.pool.reconcile();
    await settle();
    const first = h.pool.take(t.key, 'f1')!;
    h.pool.reconcile();
    assert.deepEqual(h.started, ['sesn_1'], "no refill while the taker's first turn runs");
    h.pool.refillNow('sesn_other');
    assert.equal(h.started.length, 1, 'another session does not release it');
    h.pool.refillNow(first.id);
    assert.deepEqual(h.started, ['sesn_1', 'sesn_2'], 'released when that turn ends');

    await settle();
    h.pool.take(t.key, 'f1');
    h.advance(2_999);
    h.pool.reconcile();
    assert.equal(h.started.length, 2);
    h.advance(1);
    h.pool.reconcile();
    assert.equal(h.started.length, 3, 'released when the hold runs out');
    await h.pool.close();
  });

  it('never hands a member to another workspace', async () => {
    const h = harness();
    h.pool.noteDemand(h.template('ws_a'));
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.take(h.template('ws_b').key, 'f1'), undefined);
    assert.equal(h.pool.count('ws_a'), 1);
    assert.equal(h.pool.count('ws_b'), 0);
  });

  it('stays within [min, max] and follows the creation rate', async () => {
    const h = harness();
    const t = h.template('ws_a', { min: 2, max: 3 });
    h.pool.noteDemand(t);
    h.pool.reconcile();
    assert.equal(h.pool.status('ws_a', 'env_1').target, 2, 'min applies while in use');
    for (let i = 0; i < 5; i++) h.pool.noteDemand(t);
    h.pool.reconcile();
    assert.equal(h.pool.status('ws_a', 'env_1').target, 3, 'max bounds the rate');
    await settle();
    h.advance(61_000);
    h.pool.noteDemand(t);
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.status('ws_a', 'env_1').target, 2, 'old creations no longer count');
    assert.equal(h.pool.status('ws_a', 'env_1').ready, 2);
    assert.equal(h.discarded.length, 1, 'the surplus member was discarded');
  });

  it('empties an idle pool', async () => {
    const h = harness();
    h.pool.noteDemand(h.template('ws_a', { min: 2, idleTimeoutS: 5 }));
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.count('ws_a'), 2);
    h.advance(5_000);
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.count('ws_a'), 0);
    assert.deepEqual(h.discarded.sort(), ['sesn_1', 'sesn_2']);
    assert.deepEqual(h.pool.status('ws_a', 'env_1'), { ready: 0, starting: 0, target: 0 });
  });

  it('grows only while the workspace has room under its quota', async () => {
    // The engine's view of the quota (2), which counts members as live; here the test plays the engine.
    let live = 1;
    const h: ReturnType<typeof harness> = harness({ room: (ws) => live + h.pool.count(ws) < 2 });
    const t = h.template('ws_a', { min: 3 });
    h.pool.noteDemand(t);
    h.pool.reconcile();
    assert.equal(h.pool.count('ws_a'), 1, 'one member fits next to one live session');
    live = 0;
    h.pool.reconcile();
    assert.equal(h.pool.count('ws_a'), 2);
  });

  it('discards members started under an older fingerprint and never hands them out', async () => {
    const h = harness();
    h.pool.noteDemand(h.template('ws_a', {}, 'f1'));
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.take(h.template('ws_a').key, 'f2'), undefined);
    h.pool.noteDemand(h.template('ws_a', {}, 'f2'));
    h.pool.reconcile();
    await settle();
    assert.deepEqual(h.discarded, ['sesn_1']);
    assert.equal(h.pool.take(h.template('ws_a').key, 'f2')?.id, 'sesn_2');
  });

  it('backs off after a failed start and forgets members that died', async () => {
    const h = harness({ failStarts: true });
    h.pool.noteDemand(h.template('ws_a'));
    h.pool.reconcile();
    await settle();
    assert.equal(h.pool.count('ws_a'), 0);
    h.pool.reconcile();
    assert.equal(h.started.length, 1, 'no retry within the back-off');
    h.advance(10_000);
    h.pool.reconcile();
    assert.equal(h.started.length, 2);

    const ok = harness();
    ok.pool.noteDemand(ok.template('ws_a'));
    ok.pool.reconcile();
    await settle();
    ok.pool.remove('sesn_1');
    await settle();
    assert.deepEqual(ok.discarded, ['sesn_1']);
    assert.equal(ok.pool.has('sesn_1'), false);
  });

  it('discards everything on close and starts nothing after', async () => {
    const h = harness();
    h.pool.noteDemand(h.template('ws_a', { min: 2 }));
    h.pool.reconcile();
    await h.pool.close();
    assert.deepEqual(h.discarded.sort(), ['sesn_1', 'sesn_2']);
    h.pool.noteDemand(h.template('ws_a'));
    h.pool.reconcile();
    assert.equal(h.started.length, 2);
  });
});
