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

  it("refuses another session's own directory whether or not that session is writing", () => {
    const locks = new PathLocks();
    const a = { scope: 'env', workspace: '/w', sessionId: 'sesn_A1', cwd: '/w/sesn_A1', ownDir: '/w/sesn_A1' };
    const b = { ...a, sessionId: 'sesn_B2', cwd: '/w/sesn_B2', ownDir: '/w/sesn_B2' };
    assert.match(checkSharedWrite(locks, { ...b, path: '../sesn_A1/report.md' })!, /own directory of another agent \(session sesn_A1\)/);
    assert.match(checkSharedWrite(locks, { ...b, path: '/w/sesn_A1' })!, /session sesn_A1/);
    assert.equal(checkSharedWrite(locks, { ...a, path: 'report.md' }), null);
    assert.equal(checkSharedWrite(locks, { ...b, path: '/w/sesn_B2/x/../y' }), null);
    assert.deepEqual(locks.heldBy('env', 'sesn_B2'), []);
  });

  it('knows inside from outside', () => {
    assert.equal(isInside('/w/a', '/w'), true);
    assert.equal(isInside('/w', '/w'), true);
    assert.equal(isInside('/wx', '/w'), false);
    assert.equal(isInside('/w/../x', '/w'), false);
  });
});
