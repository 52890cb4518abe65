import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { acceptsHtml, registerConsoleRoutes } from './console.js';

/** What a browser's page load sends. */
const PAGE = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('console routes', () => {
  let dir: string;
  let app: FastifyInstance;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agenthost-console-'));
    app = Fastify();
    app.setNotFoundHandler((_req, reply) => void reply.status(404).send({ type: 'error', error: { type: 'not_found_error', message: 'nope' } }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    await registerConsoleRoutes(app, { dir });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says clearly that the console is not built', async () => {
    const res = await app.inject({ url: '/', headers: PAGE });
    assert.equal(res.statusCode, 503);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /npm run build:web/);
  });

  it('serves index.html for client routes and hashed assets with a long cache', async () => {
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    for (const path of ['/', '/sessions', '/sessions/sesn_1?x=1']) {
      const res = await app.inject({ url: path, headers: PAGE });
      assert.equal(res.statusCode, 200, path);
      assert.match(res.body, /<title>console/);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/);
    }
    const asset = await app.inject('/assets/index-abc123.js');
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(asset.headers['content-type'] as string, /javascript/);
  });

  it('answers a client that does not ask for HTML with the not-found handler', async () => {
    for (const headers of [{}, { accept: 'application/json' }, { accept: '*/*' }, { accept: 'text/html;q=0, application/json' }]) {
      const res = await app.inject({ url: '/_stainless_unknown_path', headers });
      assert.equal(res.statusCode, 404, JSON.stringify(headers));
      assert.equal(res.json().error.type, 'not_found_error');
    }
    assert.equal(acceptsHtml('text/html'), true);
    assert.equal(acceptsHtml('application/xhtml+xml;q=0.5'), true);
    assert.equal(acceptsHtml('TEXT/HTML; charset=utf-8'), true);
    assert.equal(acceptsHtml('application/json, text/plain, */*'), false);
  });

  it('leaves API paths, missing files and escapes to the not-found handler', async () => {
    for (const path of ['/v1', '/v1/agents/nope', '/hooks/x', '/assets/missing.js', '/assets/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2fetc%2fhostname.txt']) {
      const res = await app.inject(path);
      assert.equal(res.statusCode, 404, path);
      assert.equal(res.json().error.type, 'not_found_error', path);
    }
    // Dot segments never reach outside the build: at most the app's index.html.
    for (const path of ['/%2e%2e/%2e%2e/etc/passwd', '/../../etc/passwd', '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd']) {
      const res = await app.inject(path);
      assert.doesNotMatch(res.body, /root:/, path);
    }
    assert.equal((await app.inject('/healthz')).json().status, 'ok');
  });
});
