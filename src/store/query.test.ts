import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishPage, isoTimestamp, Params, sessionAssignments, sessionConditions } from './query.js';

describe('store query helpers', () => {
  it('isoTimestamp normalises to UTC milliseconds and rejects garbage', () => {
    assert.equal(isoTimestamp('2025-01-01T02:00:00+02:00'), '2025-01-01T00:00:00.000Z');
    assert.equal(isoTimestamp('2025-01-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
    assert.throws(() => isoTimestamp('yesterday'), RangeError);
  });

  it('Params numbers placeholders for postgres and not for sqlite', () => {
    const pg = new Params('postgres');
    assert.equal(`${pg.add(1)} ${pg.list(['a', 'b'])}`, '$1 $2, $3');
    const lite = new Params('sqlite');
    assert.equal(`${lite.add(1)} ${lite.list(['a', 'b'])}`, '? ?, ?');
    assert.deepEqual(lite.values, [1, 'a', 'b']);
  });

  it('sessionConditions ignores empty status lists and hides archived rows by default', () => {
    const params = new Params('postgres');
    const where = sessionConditions('ws', { limit: 5, order: 'asc', statuses: [], afterSeq: 3 }, params);
    assert.deepEqual(where, ['workspace_id = $1', 'seq > $2', 'archived_at IS NULL']);
    assert.deepEqual(params.values, ['ws', 3]);
  });

  it('sessionAssignments sets only given fields, archivedAt null included', () => {
    const params = new Params('sqlite');
    const set = sessionAssignments({ archivedAt: null, updatedAt: '2025-01-01T00:00:00Z' }, params);
    assert.equal(set, 'archived_at = ?, updated_at = ?');
    assert.deepEqual(params.values, [null, '2025-01-01T00:00:00.000Z']);
  });

  it('finishPage trims the look-ahead row into hasMore', () => {
    assert.deepEqual(finishPage([1, 2, 3], 2, String), { items: ['1', '2'], hasMore: true });
    assert.deepEqual(finishPage([1, 2], 2, String), { items: ['1', '2'], hasMore: false });
    assert.throws(() => finishPage([], -1, String), RangeError);
  });
});
