import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientResponseHeaders, presentedToken, upstreamRequestHeaders } from './headers.js';

describe('gateway headers', () => {
  it('takes the token from x-api-key, else from a bearer authorization', () => {
    assert.equal(presentedToken({ 'x-api-key': 'a', authorization: 'Bearer b' }), 'a');
    assert.equal(presentedToken({ authorization: 'Bearer b' }), 'b');
    assert.equal(presentedToken({ authorization: 'bearer  c ' }), 'c');
    assert.equal(presentedToken({ authorization: 'Basic xyz' }), null);
    assert.equal(presentedToken({}), null);
  });

  it('replaces credentials and hop-by-hop headers going upstream', () => {
    const out = upstreamRequestHeaders(
      {
        'x-api-key': 'session-token',
        authorization: 'Bearer session-token',
        cookie: 'c=1',
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
        'transfer-encoding': 'chunked',
        host: '127.0.0.1:1234',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'a,b',
        'content-length': '99',
      },
      { credential: { kind: 'api-key', value: 'real' }, host: 'api.example.com', contentLength: 12, identityEncoding: true },
    );
    assert.deepEqual(out, {
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'a,b',
      'content-length': '12',
      host: 'api.example.com',
      'accept-encoding': 'identity',
      'x-api-key': 'real',
    });
    const bearer = upstreamRequestHeaders({ 'x-api-key': 't' }, { credential: { kind: 'bearer', value: 'real' }, host: 'h' });
    assert.deepEqual(bearer, { host: 'h', authorization: 'Bearer real' });
  });

  it('drops hop-by-hop headers and any header holding a secret coming back', () => {
    const out = clientResponseHeaders(
      { 'content-type': 'text/event-stream', 'request-id': 'req_1', connection: 'close', 'x-echo': 'key=real-secret' },
      ['real-secret'],
    );
    assert.deepEqual(out, { 'content-type': 'text/event-stream', 'request-id': 'req_1' });
  });
});
