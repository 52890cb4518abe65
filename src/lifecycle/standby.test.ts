import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StandbySet, standbyHoldMs } from './standby.js';
import type { WarmMember } from './warm-pool.js';

const member = (id: string, workspaceId: string): WarmMember<string> => ({
  id,
  key: `${workspaceId}/env_1/agent_1@1`,
  workspaceId,
  fingerprint: 'f1',
  started: Promise.resolve(id),
  state: 'ready',
});

function harness() {
  let now = 1_000_000;
  const set = new StandbySet<string>(() => now);
  return { set, advance: (ms: number) => (now += ms), now: () => now };
}

describe('StandbySet', () => {
  it('holds for the shorter of the environment idle timeout and the pool idle timeout', () => {
    const pool = { min: 0, max: 2, idleTimeoutS: 300 };
    assert.equal(standbyHoldMs(60, pool), 60_000);
    assert.equal(standbyHoldMs(600, pool), 300_000);
    assert.equal(standbyHoldMs(null, pool), 300_000, 'an environment that never hibernates: the pool decides');
  });

  it('neither gives way nor expires before the session exists', () => {
    const h = harness();
    h.set.add('sesn_1', member('sesn_1', 'ws_a'), 1_000);
    h.advance(5_000);
    assert.equal(h.set.victim('ws_a'), undefined);
    assert.deepEqual(h.set.expired(), []);
    assert.equal(h.set.count('ws_a'), 1, 'it counts against the quota all the same');
    assert.ok(h.set.commit('sesn_1'));
    assert.equal(h.set.victim('ws_a'), 'sesn_1');
    assert.deepEqual(h.set.expired(), ['sesn_1']);
  });

  it('gives way longest-waiting first, within the workspace, skipping sessions already starting', () => {
    const h = harness();
    for (const [id, ws] of [['sesn_1', 'ws_a'], ['sesn_2', 'ws_b'], ['sesn_3', 'ws_a']] as const) {
      h.set.add(id, member(id, ws), 60_000);
      h.set.commit(id);
      h.advance(10);
    }
    assert.equal(h.set.victim('ws_a'), 'sesn_1');
    assert.equal(h.set.victim('ws_a', (id) => id === 'sesn_1'), 'sesn_3');
    assert.equal(h.set.victim('ws_b'), 'sesn_2');
    assert.equal(h.set.victim('ws_c'), undefined);
    assert.equal(h.set.count('ws_a'), 2);
    assert.equal(h.set.count('ws_a', (id) => id === 'sesn_3'), 1);
    assert.equal(h.set.take('sesn_1')?.member.id, 'sesn_1');
    assert.equal(h.set.take('sesn_1'), undefined, 'taken once');
    assert.equal(h.set.commit('sesn_1'), undefined);
    assert.equal(h.set.victim('ws_a'), 'sesn_3');
  });

  it('expires each standby after its own hold', () => {
    const h = harness();
    h.set.add('sesn_1', member('sesn_1', 'ws_a'), 1_000);
    h.set.add('sesn_2', member('sesn_2', 'ws_a'), 5_000);
    h.set.commit('sesn_1');
    h.set.commit('sesn_2');
    h.advance(999);
    assert.deepEqual(h.set.expired(), []);
    h.advance(1);
    assert.deepEqual(h.set.expired(), ['sesn_1']);
    assert.deepEqual(h.set.expired(h.now() + 4_000), ['sesn_1', 'sesn_2']);
  });
});
