import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { SIGNATURE_HEADER, TOLERANCE_S, signWebhook, verifyWebhook } from './signature.js';

const secret = 'whsec_test-secret';
const body = Buffer.from('{"event":"push","ref":"main"}');
const t = 1_750_000_000;
const nowMs = t * 1000;

function rejects401(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.status, 401);
    assert.match(error.message, message);
    return true;
  });
}

describe('webhook signatures', () => {
  it('sign produces t=<seconds>,v1=<HMAC-SHA256 of "<t>.<body>"> with the whole secret as key', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body.toString()}`).digest('hex');
    assert.equal(signWebhook(secret, body, t), `t=${t},v1=${expected}`);
    assert.equal(signWebhook(secret, body.toString(), t), signWebhook(secret, body, t), 'string and bytes sign alike');
  });

  it('a correct signature verifies and names the matching v1 and its timestamp', () => {
    const header = signWebhook(secret, body, t);
    const v1 = header.split('v1=')[1]!;
    assert.deepEqual(verifyWebhook(secret, header, body, nowMs), { t, signature: v1 });
    assert.deepEqual(verifyWebhook(secret, header.toUpperCase().replace('T=', 't=').replace('V1=', 'v1='), body, nowMs).signature, v1, 'hex case does not matter');
  });

  it('any one of several v1 entries may match, in any order, with spaces', () => {
    const good = signWebhook(secret, body, t).split('v1=')[1]!;
    const header = `t=${t}, v1=${'0'.repeat(64)}, v0=ignored, v1=${good}`;
    assert.equal(verifyWebhook(secret, header, body, nowMs).signature, good);
  });

  it('refuses a missing or malformed header', () => {
    rejects401(() => verifyWebhook(secret, undefined, body, nowMs), new RegExp(`missing ${SIGNATURE_HEADER}`));
    rejects401(() => verifyWebhook(secret, '', body, nowMs), /missing/);
    rejects401(() => verifyWebhook(secret, 'garbage', body, nowMs), /malformed/);
    rejects401(() => verifyWebhook(secret, `t=${t}`, body, nowMs), /malformed/);
    rejects401(() => verifyWebhook(secret, 'v1=abcd', body, nowMs), /malformed/);
    rejects401(() => verifyWebhook(secret, `t=soon,v1=${'a'.repeat(64)}`, body, nowMs), /malformed/);
  });

  it('refuses a wrong secret, a changed body, a changed timestamp and a truncated signature', () => {
    const header = signWebhook(secret, body, t);
    rejects401(() => verifyWebhook('whsec_other', header, body, nowMs), /does not match/);
    rejects401(() => verifyWebhook(secret, header, Buffer.from(`${body.toString()} `), nowMs), /does not match/);
    rejects401(() => verifyWebhook(secret, header.replace(`t=${t}`, `t=${t + 1}`), body, nowMs), /does not match/);
    rejects401(() => verifyWebhook(secret, header.slice(0, -2), body, nowMs), /does not match/);
    rejects401(() => verifyWebhook(secret, `${header.slice(0, -1)}z`, body, nowMs), /does not match/);
  });

  it(`accepts timestamps up to ${TOLERANCE_S} s either way and refuses older or newer ones`, () => {
    for (const skew of [-TOLERANCE_S, 0, TOLERANCE_S]) {
      assert.doesNotThrow(() => verifyWebhook(secret, signWebhook(secret, body, t + skew), body, nowMs));
    }
    rejects401(() => verifyWebhook(secret, signWebhook(secret, body, t - TOLERANCE_S - 1), body, nowMs), /more than 300 seconds/);
    rejects401(() => verifyWebhook(secret, signWebhook(secret, body, t + TOLERANCE_S + 1), body, nowMs), /more than 300 seconds/);
  });

  it('an empty body signs and verifies', () => {
    const empty = Buffer.alloc(0);
    assert.equal(verifyWebhook(secret, signWebhook(secret, empty, t), empty, nowMs).t, t);
  });
});
