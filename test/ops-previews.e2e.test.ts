import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

const PORT = 8765;

/** A dev server the agent starts in its sandbox: a page, and a WebSocket that greets and closes. */
const startServer = (name: string) => `cat > server.js <<'EOF'
const http = require('http');
const crypto = require('crypto');
const server = http.createServer((req, res) => {
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
for i in $(seq 50); do node -e "require('http').get('http://127.0.0.1:${PORT}/', () => process.exit(0)).on('error', () => process.exit(1))" && break; sleep 0.1; done
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

describe('port previews', { timeout: 300_000 }, () => {
  let h: OpsServer;
  let agentId: string;
  let envId: string;

  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true' } });
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

  async function sessionServing(name: string): Promise<string> {
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: startServer(name) } } },
      { when: 'tools', text: 'serving' },
    ]);
    const events = await runTurn(h.client, session.id, 'start a server');
    const result = events.find((e) => e.type === 'agent.tool_result') as { content: Array<{ text: string }> } | undefined;
    assert.match(result?.content[0]?.text ?? '', /started/);
    return session.id;
  }

  it('a preview URL serves the page and a WebSocket from inside its sandbox, and nothing else', async () => {
    const a = await sessionServing('A');
    const b = await sessionServing('B');
    const created = await api('POST', `/v1/sessions/${a}/ports`, { port: PORT });
    assert.equal(created.status, 200);
    const url = String(created.body.url);
    assert.match(url, new RegExp(`^${h.server.url}/previews/[0-9a-f]{40}/$`));
    assert.ok(Date.parse(String(created.body.expires_at)) > Date.now() + 3_000_000);
    const urlB = String((await api('POST', `/v1/sessions/${b}/ports`, { port: PORT })).body.url);

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), `<h1>preview of A</h1> path=/ host=127.0.0.1:${PORT}`);
    assert.match(await (await fetch(`${url}sub/page?x=1`)).text(), /preview of A.* path=\/sub\/page\?x=1/);
    assert.match(await (await fetch(urlB)).text(), /preview of B/, 'the same port in another session is that session’s');
    assert.equal(await firstWsMessage(url.replace(/^http/, 'ws')), 'hello over websocket from A');
    assert.equal(await firstWsMessage(`${urlB.replace(/^http/, 'ws')}socket`), 'hello over websocket from B');

    // Guesses and tricks reach nothing.
    const tokenA = new URL(url).pathname.split('/')[2]!;
    const tokenB = new URL(urlB).pathname.split('/')[2]!;
    const guessed = await fetch(`${h.server.url}/previews/${randomBytes(20).toString('hex')}/`);
    assert.equal(guessed.status, 404);
    assert.equal((await fetch(`${h.server.url}/previews/${tokenA.toUpperCase()}/`)).status, 404);
    await assert.rejects(firstWsMessage(`ws://127.0.0.1:${new URL(h.server.url).port}/previews/${randomBytes(20).toString('hex')}/`), /no upgrade: 404/);
    const traversal = await rawGet(h.server.url, `/previews/${tokenA}/../${tokenB}/`);
    assert.match(traversal.body, /preview of A/, 'a path never leaves its preview');
    const toApi = await rawGet(h.server.url, `/previews/${tokenA}/../../v1/agents`, { 'x-api-key': h.key });
    assert.match(toApi.body, /preview of A/);
    assert.doesNotMatch(toApi.body, /"data"/, 'the API is not reachable through a preview');
    const otherHost = await rawGet(h.server.url, `/previews/${tokenA}/`, { host: `127.0.0.1:${new URL(h.server.url).port}` });
    assert.match(otherHost.body, /preview of A/);
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
    await runTurn(h.client, id, 'start it again');
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
