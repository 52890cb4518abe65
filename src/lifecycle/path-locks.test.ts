import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PathLocks, checkSharedWrite, isInside } from './path-locks.js';

describe('PathLocks', () => {
  it('gives a path to one session at a time until it releases', () => {
    const locks = new PathLocks();
    assert.deepEqual(locks.acquire('env', '/w/a.txt', 's1'), { ok: true });
    assert.deepEqual(locks.acquire('env', '/w/a.txt', 's1'), { ok: true });
    const refused = locks.acquire('env', '/w/a.txt', 's2');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.holder.sessionId, 's1');
    assert.deepEqual(locks.acquire('other-env', '/w/a.txt', 's2'), { ok: true });
    locks.releaseAll('env', 's1');
    assert.deepEqual(locks.acquire('env', '/w/a.txt', 's2'), { ok: true });
    assert.deepEqual(locks.heldBy('env', 's2'), ['/w/a.txt']);
  });
});

describe('checkSharedWrite', () => {
  const base = { scope: 'env', workspace: '/w', sessionId: 's1', cwd: '/w/s1', ownDir: '/w/s1' };
  it('lets a session write its own directory and private paths freely', () => {
    const locks = new PathLocks();
    assert.equal(checkSharedWrite(locks, { ...base, path: 'notes.txt' }), null);
    assert.equal(checkSharedWrite(locks, { ...base, sessionId: 's2', cwd: '/w/s2', ownDir: '/w/s2', path: '/w/s1/../s2/x' }), null);
    assert.equal(checkSharedWrite(locks, { ...base, path: '/tmp/scratch' }), null);
    assert.deepEqual(locks.heldBy('env', 's1'), []);
  });

  it('refuses a shared path another session is writing, naming it', () => {
    const locks = new PathLocks();
    assert.equal(checkSharedWrite(locks, { ...base, path: '../shared/board.md' }), null);
    const reason = checkSharedWrite(locks, { ...base, sessionId: 's2', cwd: '/w/s2', ownDir: '/w/s2', path: '/w/shared/board.md' });
    assert.match(reason!, /\/w\/shared\/board\.md is being written by another agent \(session s1\)/);
  });

  it('knows inside from outside', () => {
    assert.equal(isInside('/w/a', '/w'), true);
    assert.equal(isInside('/w', '/w'), true);
    assert.equal(isInside('/wx', '/w'), false);
    assert.equal(isInside('/w/../x', '/w'), false);
  });
});
