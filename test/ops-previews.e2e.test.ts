import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createApiKey } from '../src/api/auth.js';
import { after, before, describe, it } from 'node:test';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

const PORT = 8765;
const METRICS_TOKEN = 'metrics-token-of-the-previews-test';

/** A dev server the agent starts in its sandbox: a page, and a WebSocket that greets and closes. */
const startServer = (name: string) => `cat > server.js <<'EOF'
const http = require('http');
const crypto = require('crypto');
const server = http.createServer((req, res) => {
  if (req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['own=1; Path=/; Domain=127.0.0.1; HttpOnly', 'theme=dark'] });
    res.end(JSON.stringify(req.headers));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<h1>preview of ${name}</h1> path=' + req.url + ' host=' + req.headers.host);
});
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  const msg = Buffer.from('hello over websocket from ${name}');
  socket.write(Buffer.concat([Buffer.from([0x81, msg.length]), msg]));
});
server.listen(${PORT}, '127.0.0.1');
EOF
setsid node server.js > server.log 2>&1 < /dev/null &
for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/${PORT}) 2>/dev/null && break; sleep 0.1; done
echo started`;

/** Raw GET with any path and Host (fetch would normalize `..` away). */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a WebSocket and returns its first text message (a minimal client: Node 20 has none). */
function firstWsMessage(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13' },
    });
    req.on('upgrade', (_res, socket, head) => {
      let buf = head;
      const parse = () => {
        if (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
          resolve(buf.subarray(2, 2 + (buf[1]! & 0x7f)).toString('utf8'));
          socket.destroy();
        }
      };
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        parse();
      });
      parse();
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A session of `h` whose agent started the dev server in its sandbox. */
async function sessionServingIn(h: OpsServer, agentId: string, envId: string, name: string): Promise<string> {
  const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
  h.model.setScript([
    { when: 'tools', tool_use: { name: 'Bash', input: { command: startServer(name) } } },
    { when: 'tools', text: 'serving' },
  ]);
  // Longer than a turn usually needs: Claude Code and node start slowly on a loaded machine.
  const events = await runTurn(h.client, session.id, 'start a server', 180_000);
  const result = events.find((e) => e.type === 'agent.tool_result') as { content: Array<{ text: string }> } | undefined;
  assert.match(result?.content[0]?.text ?? '', /started/);
  return session.id;
}

describe('port previews', { timeout: 900_000 }, () => {
  let h: OpsServer;
  let agentId: string;
  let envId: string;

  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true', AGENTHOST_METRICS_TOKEN: METRICS_TOKEN } });
    agentId = (await h.client.beta.agents.create({ name: 'p', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    envId = (await h.client.beta.environments.create({ name: 'p', config: { type: 'cloud' } })).id;
  });
  after(() => h?.close());

  const api = async (method: string, path: string, body?: unknown, key = h.key) => {
    const res = await fetch(`${h.server.url}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const sessionServing = (name: string) => sessionServingIn(h, agentId, envId, name);

  it('a preview URL serves the page and a WebSocket from inside its sandbox, and nothing else', async () => {
    const a = await sessionServing('A');
    const b = await sessionServing('B');
    const created = await api('POST', `/v1/sessions/${a}/ports`, { port: PORT });
    assert.equal(created.status, 200);
    const url = String(created.body.url);
    // On the preview listener: never the API's (and the console's) origin.
    assert.notEqual(new URL(h.server.previewsUrl).origin, new URL(h.server.url).origin);
    assert.match(url, new RegExp(`^${h.server.previewsUrl}/previews/[0-9a-f]{40}/$`));
    assert.ok(Date.parse(String(created.body.expires_at)) > Date.now() + 3_000_000);
    const urlB = String((await api('POST', `/v1/sessions/${b}/ports`, { port: PORT })).body.url);

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), `<h1>preview of A</h1> path=/ host=127.0.0.1:${PORT}`);
    // Previews share the listener's origin: each page gets an opaque one.
    assert.match(page.headers.get('content-security-policy') ?? '', /^sandbox allow-scripts/);
    assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /allow-same-origin/);
    assert.match(await (await fetch(`${url}sub/page?x=1`)).text(), /preview of A.* path=\/sub\/page\?x=1/);
    assert.match(await (await fetch(urlB)).text(), /preview of B/, 'the same port in another session is that session’s');
    assert.equal(await firstWsMessage(url.replace(/^http/, 'ws')), 'hello over websocket from A');
    assert.equal(await firstWsMessage(`${urlB.replace(/^http/, 'ws')}socket`), 'hello over websocket from B');

    // Guesses and tricks reach nothing.
    const tokenA = new URL(url).pathname.split('/')[2]!;
    const tokenB = new URL(urlB).pathname.split('/')[2]!;
    const previewsUrl = h.server.previewsUrl;
    const guessed = await fetch(`${previewsUrl}/previews/${randomBytes(20).toString('hex')}/`);
    assert.equal(guessed.status, 404);
    assert.equal((await fetch(`${previewsUrl}/previews/${tokenA.toUpperCase()}/`)).status, 404);
    await assert.rejects(firstWsMessage(`ws://127.0.0.1:${new URL(previewsUrl).port}/previews/${randomBytes(20).toString('hex')}/`), /no upgrade: 404/);
    const traversal = await rawGet(previewsUrl, `/previews/${tokenA}/../${tokenB}/`);
    assert.match(traversal.body, /preview of A/, 'a path never leaves its preview');
    const toApi = await rawGet(previewsUrl, `/previews/${tokenA}/../../v1/agents`, { 'x-api-key': h.key });
    assert.match(toApi.body, /preview of A/);
    assert.doesNotMatch(toApi.body, /"data"/, 'the API is not reachable through a preview');
    const otherHost = await rawGet(previewsUrl, `/previews/${tokenA}/`, { host: `127.0.0.1:${new URL(h.server.url).port}` });
    assert.match(otherHost.body, /preview of A/);
    // The preview listener serves previews and nothing else: no console, no API, no health checks.
    for (const path of ['/', '/sessions', '/v1/agents', '/healthz', '/previews/']) {
      const answer = await rawGet(previewsUrl, path, { 'x-api-key': h.key });
      assert.equal(answer.status, 404, path);
      assert.doesNotMatch(answer.body, /<html|"data"|"status"/i, path);
    }
    // And the API's origin serves no preview, and nothing it renders.
    const onApi = await rawGet(h.server.url, `/previews/${tokenA}/`);
    assert.doesNotMatch(onApi.body, /preview of A/, 'the API’s origin serves no preview');
    const apiAnswer = await fetch(`${h.server.url}/v1/agents`, { headers: { 'x-api-key': h.key } });
    assert.equal(apiAnswer.headers.get('x-content-type-options'), 'nosniff');
    assert.match(apiAnswer.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
    // The sandbox has its own loopback: agenthost's port there is nobody.
    const own = String((await api('POST', `/v1/sessions/${a}/ports`, { port: Number(new URL(h.server.url).port) })).body.url);
    const ownAnswer = await fetch(`${own}v1/agents`, { headers: { 'x-api-key': h.key } });
    assert.equal(ownAnswer.status, 502);
    assert.match(await ownAnswer.text(), /nothing answered on port \d+ inside the session's sandbox/);

    const listed = await api('GET', `/v1/sessions/${a}/ports`);
    assert.deepEqual((listed.body.data as Array<{ port: number }>).map((p) => p.port).sort(), [PORT, Number(new URL(h.server.url).port)].sort());
    const other = await h.newClient('previews-other');
    assert.equal((await api('GET', `/v1/sessions/${a}/ports`, undefined, other.key)).status, 404);
    assert.equal((await api('POST', `/v1/sessions/${a}/ports`, { port: PORT }, other.key)).status, 404);
    assert.equal((await api('POST', `/v1/sessions/${a}/ports`, { port: 0 })).status, 400);

    const revoked = await api('DELETE', `/v1/sessions/${a}/ports/${String(created.body.id)}`);
    assert.equal(revoked.status, 200);
    assert.equal((await fetch(url)).status, 404);
    await assert.rejects(firstWsMessage(url.replace(/^http/, 'ws')), /no upgrade: 404/);
    assert.match(await (await fetch(urlB)).text(), /preview of B/, 'other previews are untouched');
  });

  it('no agenthost credential reaches the sandbox, and cookies stay with the preview that set them', async () => {
    const id = await sessionServing('D');
    const url = String((await api('POST', `/v1/sessions/${id}/ports`, { port: PORT })).body.url);
    const token = new URL(url).pathname.split('/')[2]!;
    const echo = await fetch(`${url}echo`, {
      headers: {
        'x-api-key': h.key,
        authorization: `Bearer ${h.key}`,
        'proxy-authorization': `Basic ${Buffer.from('user:pass').toString('base64')}`,
        'x-metrics': `Bearer ${METRICS_TOKEN}`,
        // A cookie of the API's host (cookies ignore ports), one holding a key, and one the preview set.
        cookie: `sso=host-wide-session; stolen=${h.key}; __ahp_own=1`,
        'x-app-header': 'kept',
      },
    });
    assert.equal(echo.status, 200);
    const seen = (await echo.json()) as Record<string, string | undefined>;
    const text = JSON.stringify(seen);
    assert.ok(!text.includes(h.key), `the sandbox saw the API key: ${text}`);
    assert.ok(!text.includes(METRICS_TOKEN), `the sandbox saw the metrics token: ${text}`);
    assert.equal(seen.authorization, undefined);
    assert.equal(seen['x-api-key'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen.cookie, 'own=1', 'only the cookie the preview set, under its own name');
    assert.equal(seen['x-app-header'], 'kept');
    // The app's own authorization is the app's business.
    const own = (await (await fetch(`${url}echo`, { headers: { authorization: 'Bearer the-app-s-own-token' } })).json()) as Record<string, string>;
    assert.equal(own.authorization, 'Bearer the-app-s-own-token');
    // What the sandbox sets is scoped to this preview: no Domain, a Path under its prefix.
    assert.deepEqual(echo.headers.getSetCookie(), [`__ahp_own=1; HttpOnly; Path=/previews/${token}/`, '__ahp_theme=dark']);
  });

  it('a read-only key lists previews without their URLs', async () => {
    const id = await sessionServing('E');
    const created = await api('POST', `/v1/sessions/${id}/ports`, { port: PORT });
    const token = new URL(String(created.body.url)).pathname.split('/')[2]!;
    const readOnly = await createApiKey(h.server.store, 'ops', { scope: 'read_only' });
    assert.equal(readOnly.workspaceId, h.workspaceId);
    const listed = await fetch(`${h.server.url}/v1/sessions/${id}/ports`, { headers: { 'x-api-key': readOnly.key } });
    assert.equal(listed.status, 200);
    const text = await listed.text();
    assert.ok(!text.includes(token), `a read-only key got the preview's capability: ${text}`);
    const data = (JSON.parse(text) as { data: Array<Record<string, unknown>> }).data;
    assert.deepEqual(data.map((p) => [p.id, p.port, p.url]), [[created.body.id, PORT, null]]);
    assert.equal((await api('POST', `/v1/sessions/${id}/ports`, { port: PORT }, readOnly.key)).status, 403);
    assert.equal((await api('DELETE', `/v1/sessions/${id}/ports/${String(created.body.id)}`, undefined, readOnly.key)).status, 403);
    const full = await api('GET', `/v1/sessions/${id}/ports`);
    assert.equal((full.body.data as Array<{ url: string }>)[0]?.url, created.body.url, 'a full key still gets the URL');
  });

  it('a request to a hibernated session’s preview wakes the session', async () => {
    const id = await sessionServing('C');
    const url = String((await api('POST', `/v1/sessions/${id}/ports`, { port: PORT })).body.url);
    assert.match(await (await fetch(url)).text(), /preview of C/);
    assert.equal(await h.server.engine.hibernate({ id, workspaceId: h.workspaceId }), true);
    const state = async () => ((await h.client.beta.sessions.retrieve(id)) as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state;
    assert.equal(await state(), 'hibernated');
    // The sandbox comes back; the dev server was a process of the old one, so nothing listens until it is started again.
    const woken = await fetch(url);
    assert.equal(woken.status, 502);
    assert.equal(await state(), 'live');
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: startServer('C again') } } },
      { when: 'tools', text: 'serving again' },
    ]);
    await runTurn(h.client, id, 'start it again', 180_000);
    assert.match(await (await fetch(url)).text(), /preview of C again/);
  });

  it('the process provider has no network of its own to preview', async () => {
    const env = await h.client.beta.environments.create({ name: 'unisolated', config: { type: 'cloud', sandbox: { provider: 'process' } } as never });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: env.id });
    const refused = await api('POST', `/v1/sessions/${session.id}/ports`, { port: PORT });
    assert.equal(refused.status, 400);
    assert.match(String((refused.body.error as { message: string }).message), /process provider/);
  });
});

describe('host-style port previews', { timeout: 300_000 }, () => {
  let h: OpsServer;
  let agentId: string;
  let envId: string;

  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_PREVIEW_BASE_URL: 'http://preview.test' } });
    agentId = (await h.client.beta.agents.create({ name: 'p', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    envId = (await h.client.beta.environments.create({ name: 'p', config: { type: 'cloud' } })).id;
  });
  after(() => h?.close());

  it('serves each preview on an origin of its own, on the preview listener only', async () => {
    const id = await sessionServingIn(h, agentId, envId, 'H');
    const res = await fetch(`${h.server.url}/v1/sessions/${id}/ports`, { method: 'POST', headers: { 'x-api-key': h.key, 'content-type': 'application/json' }, body: JSON.stringify({ port: PORT }) });
    const url = String(((await res.json()) as { url: string }).url);
    assert.match(url, /^http:\/\/[0-9a-f]{40}\.preview\.test\/$/);
    const host = new URL(url).host;
    const page = await rawGet(h.server.previewsUrl, '/sub', { host });
    assert.equal(page.status, 200);
    assert.match(page.body, /preview of H.* path=\/sub/);
    assert.equal(page.headers['content-security-policy'], undefined, 'an origin of its own needs no sandbox');
    const echo = await rawGet(h.server.previewsUrl, '/echo', { host, cookie: 'a=1' });
    assert.deepEqual(echo.headers['set-cookie'], ['own=1; Path=/; HttpOnly', 'theme=dark'], 'cookies lose their Domain');
    assert.equal((JSON.parse(echo.body) as { cookie?: string }).cookie, 'a=1');
    // No path-style previews beside them, and no other host.
    assert.equal((await rawGet(h.server.previewsUrl, `/previews/${host.split('.')[0]!}/`)).status, 404);
    assert.equal((await rawGet(h.server.previewsUrl, '/', { host: 'preview.test' })).status, 404);
    // A proxy that sends a preview's host to the API's listener gets 404, never the console or the API.
    for (const path of ['/', '/v1/agents', '/healthz']) {
      const misrouted = await rawGet(h.server.url, path, { host, 'x-api-key': h.key });
      assert.equal(misrouted.status, 404, path);
      assert.match(misrouted.body, /preview listener/, path);
    }
  });
});
