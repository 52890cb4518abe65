import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionLimiter, RateLimiter } from './limits.js';

describe('RateLimiter', () => {
  it('allows a burst, then one request per 1/rate seconds, per key', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(10, 3, () => now);
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
    assert.ok(Math.abs(limiter.take('a') - 0.1) < 1e-9, 'the fourth waits a tenth of a second');
    assert.equal(limiter.take('b'), 0, 'another key has its own bucket');
    now += 100;
    assert.equal(limiter.take('a'), 0);
    assert.ok(limiter.take('a') > 0);
    now += 10_000;
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0], 'refills up to the burst, not beyond');
    assert.ok(limiter.take('a') > 0);
  });
});

describe('ConnectionLimiter', () => {
  it('counts open connections per key; release is idempotent', () => {
    const limiter = new ConnectionLimiter(2);
    const one = limiter.acquire('k')!;
    const two = limiter.acquire('k')!;
    assert.equal(limiter.acquire('k'), null);
    assert.ok(limiter.acquire('other'));
    one();
    one();
    assert.equal(limiter.count('k'), 1);
    const three = limiter.acquire('k');
    assert.ok(three);
    two();
    three();
    assert.equal(limiter.count('k'), 0);
  });
});
