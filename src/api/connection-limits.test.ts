import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, connectionCap, descriptorLimit, parseDescriptorLimit } from './connection-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('connection limits', () => {
  it('reads the soft descriptor limit', () => {
    assert.equal(parseDescriptorLimit(LIMITS), 1024);
    assert.equal(parseDescriptorLimit(LIMITS.replace('1024   ', 'unlimited')), undefined);
    assert.equal(parseDescriptorLimit('nothing here'), undefined);
    const own = descriptorLimit();
    assert.ok(own === undefined || own > 0);
  });

  it('keeps the total below the descriptor limit', () => {
    assert.deepEqual(connectionCap(undefined, 1024), { max: 768, lowered: false });
    assert.deepEqual(connectionCap(undefined, 20_000), { max: 10_000, lowered: false });
    assert.deepEqual(connectionCap(undefined, 300), { max: 44, lowered: false });
    assert.deepEqual(connectionCap(undefined, undefined), { max: 10_000, lowered: false });
    assert.deepEqual(connectionCap(5000, 20_000), { max: 5000, lowered: false });
    assert.deepEqual(connectionCap(50_000, 20_000), { max: 19_744, lowered: true });
    assert.deepEqual(connectionCap(50_000, undefined), { max: 50_000, lowered: false });
  });

  it('counts IPv4 by address and IPv6 by /64', () => {
    assert.equal(addressKey('127.0.0.2'), '127.0.0.2');
    assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey(undefined), 'unknown');
  });
});
