import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batches, finishPage, isoOrNull, isoTimestamp } from './query.js';

describe('store query helpers', () => {
  it('isoTimestamp normalises to UTC milliseconds and rejects garbage', () => {
    assert.equal(isoTimestamp('2025-01-01T02:00:00+02:00'), '2025-01-01T00:00:00.000Z');
    assert.equal(isoTimestamp('2025-01-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
    assert.throws(() => isoTimestamp('yesterday'), RangeError);
    assert.equal(isoOrNull(null), null);
  });

  it('finishPage trims the look-ahead row into hasMore', () => {
    assert.deepEqual(finishPage([1, 2, 3], 2, String), { items: ['1', '2'], hasMore: true });
    assert.deepEqual(finishPage([1, 2], 2, String), { items: ['1', '2'], hasMore: false });
    assert.throws(() => finishPage([], -1, String), RangeError);
  });

  it('batches slices a list for multi-row statements', () => {
    assert.deepEqual([...batches([1, 2, 3, 4, 5], 2)], [[1, 2], [3, 4], [5]]);
    assert.deepEqual([...batches([], 2)], []);
  });
});
