import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carriesCredential, opaqueOriginPreflight, previewTarget, requestHeaders, responseHeaders, rewriteSetCookie, type PreviewMode } from './preview-headers.js';

const TOKEN = 'a'.repeat(40);
const PATH: PreviewMode = { kind: 'path' };
const HOST: PreviewMode = { kind: 'host', domain: 'preview.example.com' };
const pathTarget = { token: TOKEN, path: '/x', prefix: `/previews/${TOKEN}` };
const hostTarget = { token: TOKEN, path: '/x', prefix: '' };
const KEY = 'sk-ah-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

describe('previewTarget', () => {
  it('path-style: /previews/<token>/..., and nothing else, whatever the Host', () => {
    assert.deepEqual(previewTarget(`/previews/${TOKEN}/a?b=1`, 'anything', PATH), { token: TOKEN, path: '/a?b=1', prefix: `/previews/${TOKEN}` });
    assert.deepEqual(previewTarget(`/previews/${TOKEN}`, undefined, PATH), { token: TOKEN, path: undefined, prefix: `/previews/${TOKEN}` });
    assert.equal(previewTarget('/', undefined, PATH), undefined);
    assert.equal(previewTarget('/v1/agents', undefined, PATH), undefined);
    assert.equal(previewTarget(`/previews/${TOKEN.toUpperCase()}/`, undefined, PATH), undefined);
    assert.equal(previewTarget('/previews/short/', undefined, PATH), undefined);
    assert.equal(previewTarget('/', `${TOKEN}.preview.example.com`, PATH), undefined, 'no host-style in path mode');
  });

  it('host-style: <token>.<domain>, and nothing else, whatever the path', () => {
    assert.deepEqual(previewTarget('/a', `${TOKEN}.Preview.Example.com:8443`, HOST), { token: TOKEN, path: '/a', prefix: '' });
    assert.equal(previewTarget('/', 'preview.example.com', HOST), undefined);
    assert.equal(previewTarget('/', `x.${TOKEN}.preview.example.com`, HOST), undefined);
    assert.equal(previewTarget('/', `${TOKEN}.preview.example.org`, HOST), undefined);
    assert.equal(previewTarget(`/previews/${TOKEN}/`, '127.0.0.1', HOST), undefined, 'no path-style in host mode');
    assert.equal(previewTarget('/', undefined, HOST), undefined);
  });
});

describe('requestHeaders', () => {
  const opts = (mode: PreviewMode) => ({ port: 5173, target: mode.kind === 'path' ? pathTarget : hostTarget, mode, secrets: ['metrics-secret-token'] });

  it('drops every agenthost credential and keeps the app’s own headers', () => {
    const out = requestHeaders(
      {
        host: '127.0.0.1:4101',
        'x-api-key': 'anything',
        'proxy-authorization': 'Basic dTpw',
        'x-custom': `Bearer ${KEY}`,
        'x-other': 'kept',
        accept: 'text/html',
      },
      opts(PATH),
    );
    assert.deepEqual(out, { 'x-other': 'kept', accept: 'text/html', host: '127.0.0.1:5173', 'x-forwarded-host': '127.0.0.1:4101', 'x-forwarded-prefix': `/previews/${TOKEN}` });
    assert.equal(requestHeaders({ authorization: `Bearer ${KEY}` }, opts(HOST)).authorization, undefined);
    assert.equal(requestHeaders({ authorization: `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}` }, opts(HOST)).authorization, undefined);
    assert.equal(requestHeaders({ authorization: 'Bearer metrics-secret-token' }, opts(HOST)).authorization, undefined);
    assert.equal(requestHeaders({ authorization: 'Bearer the-app-s-own-jwt' }, opts(HOST)).authorization, 'Bearer the-app-s-own-jwt');
  });

  it('path-style previews get back only the cookies they set, under their own names', () => {
    const out = requestHeaders({ cookie: `sso=abc; __ahp_sid=1; __ahp_=x; __ahp_t=${KEY}; __ahp_theme=dark` }, opts(PATH));
    assert.equal(out.cookie, 'sid=1; theme=dark');
    assert.equal(requestHeaders({ cookie: 'sso=abc' }, opts(PATH)).cookie, undefined);
  });

  it('host-style previews get their origin’s cookies, less any agenthost credential', () => {
    assert.equal(requestHeaders({ cookie: `a=1; key=${KEY}; b=2` }, opts(HOST)).cookie, 'a=1; b=2');
  });
});

describe('rewriteSetCookie', () => {
  it('path-style: renamed, Path under the prefix, never a Domain', () => {
    assert.equal(rewriteSetCookie('sid=1; Path=/; Domain=127.0.0.1; HttpOnly; SameSite=Lax', pathTarget, PATH), `__ahp_sid=1; HttpOnly; SameSite=Lax; Path=/previews/${TOKEN}/`);
    assert.equal(rewriteSetCookie('sid=1; path=/app', pathTarget, PATH), `__ahp_sid=1; Path=/previews/${TOKEN}/app`);
    assert.equal(rewriteSetCookie('sid=1', pathTarget, PATH), '__ahp_sid=1', 'the default path is under the prefix already');
    assert.equal(rewriteSetCookie('sid=1; Path=relative', pathTarget, PATH), '__ahp_sid=1');
    assert.equal(rewriteSetCookie('novalue', pathTarget, PATH), undefined);
  });

  it('host-style: the same cookie without Domain', () => {
    assert.equal(rewriteSetCookie('sid=1; Domain=.example.com; Path=/; Secure', hostTarget, HOST), 'sid=1; Path=/; Secure');
  });
});

describe('responseHeaders', () => {
  it('path-style: an opaque origin on top of the app’s CSP, cookies and redirects kept under the prefix, no Clear-Site-Data', () => {
    const out = responseHeaders(
      { 'content-security-policy': "default-src 'self'", 'set-cookie': ['a=1; Path=/'], location: '/login', 'clear-site-data': '"cookies"' },
      { target: pathTarget, mode: PATH, requestOrigin: undefined },
    );
    assert.deepEqual(out['content-security-policy'], ["default-src 'self'", out['content-security-policy']![1]]);
    assert.match(String((out['content-security-policy'] as string[])[1]), /^sandbox allow-scripts/);
    assert.doesNotMatch(String((out['content-security-policy'] as string[])[1]), /allow-same-origin/);
    assert.deepEqual(out['set-cookie'], [`__ahp_a=1; Path=/previews/${TOKEN}/`]);
    assert.equal(out.location, `/previews/${TOKEN}/login`);
    assert.equal(out['clear-site-data'], undefined);
    assert.equal(out['access-control-allow-origin'], undefined);
  });

  it('path-style: the opaque origin may read the answers to its own requests, without credentials', () => {
    const out = responseHeaders({ 'access-control-allow-credentials': 'true' }, { target: pathTarget, mode: PATH, requestOrigin: 'null' });
    assert.equal(out['access-control-allow-origin'], 'null');
    assert.equal(out['access-control-allow-credentials'], undefined);
    assert.deepEqual(opaqueOriginPreflight('OPTIONS', { origin: 'null', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }, PATH), {
      'access-control-allow-origin': 'null',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    assert.equal(opaqueOriginPreflight('OPTIONS', { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' }, PATH), undefined);
    assert.equal(opaqueOriginPreflight('OPTIONS', { origin: 'null', 'access-control-request-method': 'POST' }, HOST), undefined);
  });

  it('host-style: no sandbox (the origin is the preview’s own), cookies without Domain', () => {
    const out = responseHeaders({ 'set-cookie': ['a=1; Domain=example.com'] }, { target: hostTarget, mode: HOST, requestOrigin: 'null' });
    assert.equal(out['content-security-policy'], undefined);
    assert.deepEqual(out['set-cookie'], ['a=1']);
    assert.equal(out['access-control-allow-origin'], undefined);
  });
});

describe('carriesCredential', () => {
  it('finds agenthost keys and secrets, plainly or in Basic credentials', () => {
    assert.equal(carriesCredential(KEY, []), true);
    assert.equal(carriesCredential(`Basic ${Buffer.from(`${KEY}:`).toString('base64')}`, []), true);
    assert.equal(carriesCredential('Bearer s3cret-value', ['s3cret-value']), true);
    assert.equal(carriesCredential('Bearer ordinary', ['']), false);
  });
});
