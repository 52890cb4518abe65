import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionTokens } from './tokens.js';

describe('gateway session tokens', () => {
  it('issues distinct 32-byte tokens, resolves and verifies them, and forgets revoked ones', () => {
    const tokens = new SessionTokens();
    const a = tokens.issue('sesn_a');
    const b = tokens.issue('sesn_b');
    assert.notEqual(a, b);
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.equal(tokens.resolve(a), 'sesn_a');
    assert.equal(tokens.resolve('nope'), null);
    assert.equal(tokens.verify('sesn_b', b), true);
    assert.equal(tokens.verify('sesn_b', a), false);
    assert.throws(() => tokens.issue('sesn_a'), /already has a gateway token/);
    tokens.revoke('sesn_a');
    tokens.revoke('sesn_a');
    assert.equal(tokens.resolve(a), null);
    assert.equal(tokens.verify('sesn_a', a), false);
    assert.notEqual(tokens.issue('sesn_a'), a);
  });
});
