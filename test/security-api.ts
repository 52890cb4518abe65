import { randomBytes } from 'node:crypto';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import type { OpsServer } from './ops-helpers.js';
import { runTurn } from './ops-helpers.js';

/**
 * The security suite's API section: attempts from a tenant (or from nobody)
 * against the API itself rather than from inside a sandbox. Each attempt says
 * whether it got what it wanted: another workspace's key, a credential in a
 * sandbox, a preview on the console's origin, a server that stops answering,
 * a response outside the API's error shape, text one database stores and the
 * other refuses, a revoked key that still works.
 */

export interface Attempt {
  name: string;
  succeeded: boolean;
  /** What was seen, for the report of a success. */
  detail?: string;
}

const PREVIEW_PORT = 8765;
const SLOW_SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

/** A dev server the agent starts in its sandbox: `/echo` answers with the headers it received. */
const echoServer = `cat > echo.js <<'EOF'
require('http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'own=1; Path=/; Domain=127.0.0.1' });
  res.end(req.url === '/echo' ? JSON.stringify(req.headers) : '<h1>preview page</h1>');
}).listen(${PREVIEW_PORT}, '127.0.0.1');
EOF
setsid node echo.js > echo.log 2>&1 < /dev/null &
for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/${PREVIEW_PORT}) 2>/dev/null && break; sleep 0.1; done
echo started`;

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over its own socket, bytes as given (fetch would refuse or normalize what the attacks send). */
function rawRequest(url: string, head: string, body = ''): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(`${head}\r\nconnection: close\r\n\r\n${body}`);
    setTimeout(() => socket.end(), 2_000).unref();
  });
}

/** True when `body` is the API's error shape with an error type. */
function apiShaped(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { type?: unknown; error?: { type?: unknown; message?: unknown } };
    return parsed.type === 'error' && typeof parsed.error?.type === 'string' && typeof parsed.error.message === 'string';
  } catch {
    return false;
  }
}

/**
 * Previews: a session of workspace B serves a page and an echo of its request
 * headers; the attacks try to reach it on the API's origin, to carry A's
 * credentials into it, and to get a working URL with a read-only key.
 */
export async function previewAttempts(h: OpsServer): Promise<Attempt[]> {
  const out: Attempt[] = [];
  const b = await h.newClient('security-api-b');
  const agent = await b.client.beta.agents.create({ name: 'web', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const env = await b.client.beta.environments.create({ name: 'web', config: { type: 'cloud' } });
  const session = await b.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  h.model.setScript([
    { when: 'tools', tool_use: { name: 'Bash', input: { command: echoServer } } },
    { when: 'tools', text: 'serving' },
  ]);
  await runTurn(b.client, session.id, 'start the server', 180_000);
  const api = (method: string, path: string, key: string, body?: unknown) =>
    fetch(`${h.server.url}${path}`, { method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const created = (await (await api('POST', `/v1/sessions/${session.id}/ports`, b.key, { port: PREVIEW_PORT })).json()) as { url: string };
  const url = created.url;
  const token = new URL(url).pathname.split('/')[2] ?? '';
  const apiOrigin = new URL(h.server.url).origin;

  out.push({ name: 'preview-url-on-api-origin', succeeded: new URL(url).origin === apiOrigin, detail: url });
  const onApi = await rawRequest(h.server.url, `GET /previews/${token}/ HTTP/1.1\r\nhost: ${new URL(h.server.url).host}`);
  out.push({ name: 'preview-served-on-api-origin', succeeded: onApi.body.includes('preview page'), detail: onApi.body.slice(0, 80) });
  const onApiHost = await rawRequest(h.server.url, `GET / HTTP/1.1\r\nhost: ${token}.preview.localhost`);
  out.push({ name: 'preview-host-on-api-listener', succeeded: onApiHost.body.includes('preview page'), detail: onApiHost.body.slice(0, 80) });
  const page = await fetch(url);
  const csp = page.headers.get('content-security-policy') ?? '';
  await page.body?.cancel();
  out.push({ name: 'preview-page-same-origin-capable', succeeded: !/^sandbox\b/.test(csp) || /allow-same-origin/.test(csp), detail: csp });
  const consoleThere = await fetch(new URL('/', url), { headers: { accept: 'text/html' } });
  out.push({ name: 'console-on-preview-origin', succeeded: consoleThere.status === 200 && /<html/i.test(await consoleThere.text()) });
  const apiAnswer = await api('GET', '/v1/agents', h.key);
  await apiAnswer.body?.cancel();
  out.push({ name: 'api-origin-renders-without-sandbox-csp', succeeded: !/sandbox/.test(apiAnswer.headers.get('content-security-policy') ?? '') });

  // A's credentials, the way a browser or a careless client would send them along.
  const carried: Array<[string, Record<string, string>]> = [
    ['x-api-key', { 'x-api-key': h.key }],
    ['authorization-bearer', { authorization: `Bearer ${h.key}` }],
    ['authorization-basic', { authorization: `Basic ${Buffer.from(`user:${h.key}`).toString('base64')}` }],
    ['cookie-with-key', { cookie: `session=${h.key}` }],
    ['proxy-authorization', { 'proxy-authorization': `Bearer ${h.key}` }],
  ];
  for (const [name, headers] of carried) {
    const echo = await (await fetch(`${url}echo`, { headers })).text();
    const seen = echo.includes(h.key) || echo.includes(Buffer.from(`user:${h.key}`).toString('base64'));
    out.push({ name: `credential-forwarded-${name}`, succeeded: seen, detail: echo.slice(0, 200) });
  }
  const cookieScope = (await fetch(`${url}echo`)).headers.get('set-cookie') ?? '';
  out.push({ name: 'preview-cookie-for-whole-host', succeeded: /domain=/i.test(cookieScope) || /path=\/(;|$)/i.test(cookieScope), detail: cookieScope });

  // A read-only key of B: a URL is a capability that writes.
  const { key: readOnly } = await createApiKey(h.server.store, 'security-api-b', { scope: 'read_only' });
  const listed = (await (await api('GET', `/v1/sessions/${session.id}/ports`, readOnly)).json()) as { data: Array<{ url: string | null }> };
  out.push({ name: 'read-only-key-gets-preview-url', succeeded: listed.data.some((p) => typeof p.url === 'string' || JSON.stringify(p).includes(token)) });
  const made = await api('POST', `/v1/sessions/${session.id}/ports`, readOnly, { port: PREVIEW_PORT });
  await made.body?.cancel();
  out.push({ name: 'read-only-key-creates-preview', succeeded: made.status < 300 });
  const guessed = await fetch(new URL(`/previews/${randomBytes(20).toString('hex')}/`, url));
  await guessed.body?.cancel();
  out.push({ name: 'guessed-preview-token', succeeded: guessed.status !== 404 });
  return out;
}

/**
 * Malformed requests: every answer must be the API's error shape with the
 * right class, and a body over the limit must reach the official client as
 * 413 whatever its size.
 */
export async function errorAttempts(h: OpsServer): Promise<Attempt[]> {
  const out: Attempt[] = [];
  const host = new URL(h.server.url).host;
  const boundary = 'x-boundary';
  const truncated = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\n${'a'.repeat(1000)}`;
  const multipart = await rawRequest(
    h.server.url,
    `POST /v1/files HTTP/1.1\r\nhost: ${host}\r\nx-api-key: ${h.key}\r\nanthropic-beta: files-api-2025-04-14\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${truncated.length + 5000}`,
    truncated,
  );
  out.push({ name: 'truncated-multipart-is-500-or-unshaped', succeeded: multipart.status !== 400 || !apiShaped(multipart.body), detail: `${multipart.status} ${multipart.body.slice(0, 120)}` });
  const longParam = await rawRequest(h.server.url, `GET /v1/agents/${'a'.repeat(2000)} HTTP/1.1\r\nhost: ${host}\r\nx-api-key: ${h.key}`);
  out.push({ name: 'long-path-parameter-unshaped', succeeded: !apiShaped(longParam.body) || longParam.status === 414, detail: `${longParam.status} ${longParam.body.slice(0, 120)}` });
  const nul = await rawRequest(h.server.url, `GET /v1/agents HTTP/1.1\r\nhost: ${host}\r\nx-api-key: ${h.key}\r\nx-evil: a\u0000b`);
  out.push({ name: 'nul-in-header-unshaped', succeeded: !apiShaped(nul.body), detail: `${nul.status} ${nul.body.slice(0, 120)}` });
  const unknown = await fetch(`${h.server.url}/_stainless_unknown_path`, { headers: { 'x-api-key': h.key, accept: 'application/json' } });
  out.push({ name: 'unknown-path-answers-html', succeeded: unknown.status !== 404 || !apiShaped(await unknown.text()) });
  for (const mib of [40, 200]) {
    const client = new Anthropic({ baseURL: h.server.url, apiKey: h.key, maxRetries: 0, timeout: 300_000 });
    const outcome = await client.beta.agents
      .create({ name: 'big', model: 'claude-sonnet-4-5', system: 'x'.repeat(mib * 1024 * 1024) })
      .then(() => 'created', (error: unknown) => (error instanceof Anthropic.APIError ? String(error.status) : String(error)));
    out.push({ name: `body-${mib}MiB-not-413`, succeeded: outcome !== '413', detail: outcome });
  }
  return out;
}

/** Webhook endpoints and triggers: what a tenant registers must not aim the server at itself or flood a session. */
export async function registrationAttempts(h: OpsServer): Promise<Attempt[]> {
  const out: Attempt[] = [];
  const create = async (url: string) => {
    const res = await fetch(`${h.server.url}/v1/webhooks`, { method: 'POST', headers: { 'x-api-key': h.key, 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
    await res.body?.cancel();
    return res.status;
  };
  for (const [name, url] of [
    ['loopback', 'http://127.0.0.1:4100/v1/agents'],
    ['localhost', 'http://localhost/hook'],
    ['metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['private', 'http://10.0.0.1/hook'],
    ['ipv6-loopback', 'http://[::1]/hook'],
    ['mapped-ipv4', 'http://[::ffff:127.0.0.1]/hook'],
    ['userinfo', 'https://user:pass@example.com/hook'],
    ['not-http', 'file:///etc/passwd'],
    ['7MiB-url', `https://example.com/${'a'.repeat(7 * 1024 * 1024)}`],
  ] as const) {
    const status = await create(url);
    out.push({ name: `webhook-${name}-accepted`, succeeded: status < 300, detail: String(status) });
  }
  const other = await h.newClient('security-api-endpoints');
  let accepted = 0;
  for (let i = 0; i < 60; i++) {
    const res = await fetch(`${h.server.url}/v1/webhooks`, { method: 'POST', headers: { 'x-api-key': other.key, 'content-type': 'application/json' }, body: JSON.stringify({ url: `https://example.com/${i}` }) });
    await res.body?.cancel();
    if (res.status < 300) accepted++;
  }
  out.push({ name: 'webhook-endpoints-uncapped', succeeded: accepted === 60, detail: `${accepted} of 60` });

  const agent = await h.client.beta.agents.create({ name: 'cron', model: 'claude-sonnet-4-5' });
  const env = await h.client.beta.environments.create({ name: 'cron', config: { type: 'cloud' } });
  const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  for (const schedule of ['* * * * * *', '*/5 * * * * *', '0-59/10 * * * * *']) {
    const res = await fetch(`${h.server.url}/v1/sessions/${session.id}/triggers`, {
      method: 'POST',
      headers: { 'x-api-key': h.key, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'cron', schedule, message: 'tick' }),
    });
    await res.body?.cancel();
    out.push({ name: `cron-${schedule.replaceAll(' ', '_')}-accepted`, succeeded: res.status < 300, detail: String(res.status) });
  }
  const hook = (await (
    await fetch(`${h.server.url}/v1/sessions/${session.id}/triggers`, {
      method: 'POST',
      headers: { 'x-api-key': h.key, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'webhook' }),
    })
  ).json()) as { id: string };
  const unsigned = async (id: string) => {
    const res = await fetch(`${h.server.url}/hooks/${id}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    return `${res.status} ${await res.text()}`.replace(/"request_id":"[^"]*"/, '').replace(/req_\w+/g, '');
  };
  const known = await unsigned(hook.id);
  const unknownId = await unsigned(`trg_${randomBytes(12).toString('hex')}`);
  out.push({ name: 'hook-ids-distinguishable', succeeded: known !== unknownId, detail: `${known} / ${unknownId}` });
  return out;
}

/** Text each database would store differently (or one would refuse): rejected on both with a 400. */
export async function textAttempts(h: OpsServer): Promise<Attempt[]> {
  const out: Attempt[] = [];
  for (const [name, text] of [
    ['nul', 'a\u0000b'],
    ['lone-surrogate', 'a\ud800b'],
    ['escape', 'a\u001b[31mb'],
    ['rtl-override', 'invoice\u202Efdp.exe'],
    ['crlf', 'a\r\nb'],
  ] as const) {
    const outcome = await h.client.beta.agents
      .create({ name: text, model: 'claude-sonnet-4-5' })
      .then(() => 'stored', (error: unknown) => (error instanceof Anthropic.APIError ? String(error.status) : String(error)));
    out.push({ name: `agent-name-${name}-stored`, succeeded: outcome !== '400', detail: outcome });
  }
  const nulPrompt = await h.client.beta.agents
    .create({ name: 'ok', model: 'claude-sonnet-4-5', system: 'x\u0000y' })
    .then(() => 'stored', (error: unknown) => (error instanceof Anthropic.APIError ? String(error.status) : String(error)));
  out.push({ name: 'system-prompt-nul-stored', succeeded: nulPrompt !== '400', detail: nulPrompt });
  return out;
}

/** A key revoked in the store must be refused within a second. */
export async function keyAttempts(h: OpsServer): Promise<Attempt[]> {
  const { key, workspaceId, record } = await createApiKey(h.server.store, 'security-api-revoked');
  const res = await fetch(`${h.server.url}/v1/agents`, { headers: { 'x-api-key': key } });
  await res.body?.cancel();
  await h.server.store.revokeApiKey(workspaceId, record.id, new Date().toISOString());
  await new Promise((r) => setTimeout(r, 1_000));
  const after = await fetch(`${h.server.url}/v1/agents`, { headers: { 'x-api-key': key } });
  await after.body?.cancel();
  return [{ name: 'revoked-key-works-after-1s', succeeded: after.status !== 401, detail: String(after.status) }];
}

/**
 * Slow clients from other addresses than the health check's: a few hundred
 * connections that send headers, or a body, a byte at a time. The server must
 * close them within its bounds, refuse what one address opens past its cap,
 * and keep answering /healthz throughout.
 */
export async function connectionAttempts(h: OpsServer, o: { perAddress: number; headerTimeoutMs: number; bodyIdleTimeoutMs: number }): Promise<Attempt[]> {
  const { hostname, port } = new URL(h.server.url);
  const open = (localAddress: string, first: string): Promise<net.Socket | null> =>
    new Promise((resolve) => {
      const s = net.connect({ host: hostname, port: Number(port), localAddress });
      s.once('connect', () => {
        s.write(first);
        resolve(s);
      });
      s.once('error', () => resolve(null));
      s.on('error', () => {});
    });
  const sockets: net.Socket[] = [];
  const closedAt = new Map<net.Socket, number>();
  const start = Date.now();
  const health: number[] = [];
  let healthFailures = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t = Date.now();
      try {
        const r = await fetch(`${h.server.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await r.body?.cancel();
        if (r.status !== 200) healthFailures++;
      } catch {
        healthFailures++;
      }
      health.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  // Half send headers slowly, half a body slowly, spread over four addresses, past each address's cap.
  const per = o.perAddress + 20;
  for (const [i, address] of SLOW_SOURCES.entries()) {
    for (let n = 0; n < per; n++) {
      const slowBody = (n + i) % 2 === 0;
      const s = await open(
        address,
        slowBody ? `POST /hooks/trg_${n} HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\na` : 'GET /healthz HTTP/1.1\r\nhost: x\r\n',
      );
      if (!s) continue;
      sockets.push(s);
      s.once('close', () => closedAt.set(s, Date.now() - start));
    }
  }
  const drip = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('a');
  }, 1_000);
  const bound = Math.max(o.headerTimeoutMs, o.bodyIdleTimeoutMs) * 3 + 5_000;
  await new Promise((r) => setTimeout(r, bound));
  clearInterval(drip);
  probing = false;
  await probe;
  const stillOpen = sockets.filter((s) => !s.destroyed && !closedAt.has(s)).length;
  for (const s of sockets) s.destroy();
  const worst = Math.max(...health);
  return [
    { name: 'slow-clients-held-past-bounds', succeeded: stillOpen > 0, detail: `${stillOpen} of ${sockets.length} open after ${bound} ms` },
    { name: 'healthz-failed-during-flood', succeeded: healthFailures > 0, detail: `${healthFailures} failures, worst ${worst} ms` },
    { name: 'healthz-slower-than-1s-during-flood', succeeded: worst > 1_000, detail: `worst ${worst} ms of ${health.length}` },
  ];
}
