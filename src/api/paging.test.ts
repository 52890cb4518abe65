import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor, listQuerySchema, queryArray, toListResponse, toPageQuery } from './paging.js';

describe('paging', () => {
  it('round-trips cursors and rejects foreign ones with a 400', () => {
    assert.deepEqual(decodeCursor(encodeCursor(42, 'next')), { s: 42, d: 'next' });
    assert.throws(() => decodeCursor('garbage'), (e: Error & { code?: string }) => e.code === 'invalid_request_error');
  });

  it('turns a next cursor into a bound in the listing order', () => {
    const desc = toPageQuery(listQuerySchema.parse({ page: encodeCursor(10, 'next') }), { limit: 20, order: 'desc' });
    assert.equal(desc.query.beforeSeq, 10);
    assert.equal(desc.reversed, false);
    const prev = toPageQuery(listQuerySchema.parse({ page: encodeCursor(10, 'prev') }), { limit: 20, order: 'desc' });
    assert.equal(prev.query.afterSeq, 10);
    assert.equal(prev.query.order, 'asc');
    assert.equal(prev.reversed, true);
  });

  it('builds next and prev pages', () => {
    const items = [3, 2, 1].map((seq) => ({ seq, id: `x${seq}` }));
    const r = toListResponse({ items, hasMore: true }, false, true, (x) => x.id);
    assert.deepEqual(r.data, ['x3', 'x2', 'x1']);
    assert.deepEqual(decodeCursor(r.next_page!), { s: 1, d: 'next' });
    assert.deepEqual(decodeCursor(r.prev_page!), { s: 3, d: 'prev' });
    const last = toListResponse({ items, hasMore: false }, false, false, (x) => x.id);
    assert.equal(last.next_page, null);
    assert.equal(last.prev_page, null);
  });

  it('reads arrays in the client’s bracket format', () => {
    assert.deepEqual(queryArray({ 'types[]': ['a', 'b'] }, 'types'), ['a', 'b']);
    assert.deepEqual(queryArray({ 'types[]': 'a' }, 'types'), ['a']);
    assert.deepEqual(queryArray({ types: 'a,b' }, 'types'), ['a', 'b']);
    assert.equal(queryArray({}, 'types'), undefined);
  });
});
