import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createLogger } from '../logger.js';
import { startScriptedModel, type ScriptedModel } from '../testing/scripted-model/index.js';
import { createModelGateway, type ModelGateway } from './gateway.js';
import type { ModelRequestInfo, ModelResponseInfo } from './proxy.js';
import { REHEARSAL_REPLY } from './rehearsal.js';

const REAL_KEY = 'sk-ant-real-upstream-key';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds after the request at which each body chunk arrived. */
  chunkTimes: number[];
}

/** One request over TCP (`base` is a URL) or a Unix socket (`base` is a socket path). */
function call(base: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const target = base.startsWith('http') ? { host: new URL(base).hostname, port: new URL(base).port } : { socketPath: base };
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const req = request(
      {
        ...target,
        path,
        method: options.method ?? 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const chunkTimes: number[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          chunkTimes.push(Date.now() - started);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), chunkTimes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const messages = (stream = false) => ({ model: 'claude-test', max_tokens: 50, stream, messages: [{ role: 'user', content: 'hi' }] });

describe('model gateway', () => {
  let model: ScriptedModel;
  let gateway: ModelGateway;
  let socketDir: string;
  let logs = '';
  const started: ModelRequestInfo[] = [];
  const ended: ModelResponseInfo[] = [];

  before(async () => {
    model = await startScriptedModel();
    socketDir = await mkdtemp(join(tmpdir(), 'gw-'));
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    gateway = await createModelGateway({
      upstreamBaseUrl: model.url,
      upstreamApiKey: REAL_KEY,
      socketDir,
      log: createLogger({ level: 'trace', destination }),
      onRequest: (info) => started.push(info),
      onResponse: (info) => ended.push(info),
    });
  });
  after(async () => {
    await gateway.close();
    await model.close();
    await rm(socketDir, { recursive: true, force: true });
    assert.ok(!logs.includes(REAL_KEY), 'the real key was logged');
  });
  beforeEach(() => {
    model.requests.length = 0;
    started.length = 0;
    ended.length = 0;
  });

  it('requires a valid token on the TCP port, in the Anthropic error shape', async () => {
    model.setScript([{ text: 'never' }]);
    const missing = await call(gateway.url, '/v1/messages', { body: messages() });
    assert.equal(missing.status, 401);
    assert.deepEqual(JSON.parse(missing.body), { type: 'error', error: { type: 'authentication_error', message: 'missing gateway token' } });
    const wrong = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': 'not-a-token' }, body: messages() });
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).error.type, 'authentication_error');
    assert.equal(model.requests.length, 0);
    assert.equal(started.length, 0);
  });

  it('forwards with the real key, never the session token, and reports usage (TCP, x-api-key, JSON)', async () => {
    const session = await gateway.openSession('sesn_tcp');
    assert.equal(session.url, gateway.url);
    model.setScript([{ text: 'hello', usage: { input_tokens: 21, output_tokens: 3, cache_read_input_tokens: 8 } }]);
    const reply = await call(gateway.url, '/v1/messages?beta=true', { headers: { 'x-api-key': session.token }, body: messages() });
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.body).content, [{ type: 'text', text: 'hello' }]);
    for (const value of Object.values(reply.headers)) assert.ok(!String(value).includes(REAL_KEY));

    const [upstream] = model.requests;
    assert.equal(upstream?.path, '/v1/messages?beta=true');
    assert.equal(upstream?.headers['x-api-key'], REAL_KEY);
    assert.equal(upstream?.headers.authorization, undefined);
    assert.ok(!JSON.stringify(upstream?.headers).includes(session.token));
    assert.equal(upstream?.headers['anthropic-version'], '2023-06-01');

    assert.equal(started.length, 1);
    assert.deepEqual({ ...started[0], startedAt: undefined }, {
      sessionId: 'sesn_tcp',
      requestId: started[0]?.requestId,
      path: '/v1/messages',
      model: 'claude-test',
      startedAt: undefined,
    });
    assert.match(started[0]!.requestId, /^req_/);
    assert.equal(ended.length, 1);
    const end = ended[0]!;
    assert.equal(end.requestId, started[0]!.requestId);
    assert.equal(end.status, 200);
    assert.equal(end.model, 'claude-test');
    assert.deepEqual(end.usage, { input_tokens: 21, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 8 });
    assert.equal(end.error, undefined);
    assert.ok(end.durationMs >= 0);
    await gateway.closeSession('sesn_tcp');
  });

  it('streams through the official client with a bearer token, event by event', async () => {
    const session = await gateway.openSession('sesn_stream');
    const client = new Anthropic({ baseURL: session.url, apiKey: session.token, maxRetries: 0 });
    model.setScript([{ text: ['a', 'b', 'c', 'd'], chunkDelayMs: 60, usage: { input_tokens: 5, output_tokens: 4 } }]);
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const times: number[] = [];
    const t0 = Date.now();
    stream.on('text', () => times.push(Date.now() - t0));
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [{ type: 'text', text: 'abcd' }]);
    assert.equal(times.length, 4);
    // Deltas arrive spread out as the upstream sends them, not all at the end.
    assert.ok(times[3]! - times[0]! >= 150, `deltas arrived at ${times.join(', ')} ms`);
    assert.equal(model.requests[0]?.headers['x-api-key'], REAL_KEY);
    assert.deepEqual(ended[0]?.usage, { input_tokens: 5, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    assert.equal(ended[0]?.error, undefined);
    await gateway.closeSession('sesn_stream');
  });

  it('serves each session on its own socket and rejects other sessions\' tokens there', async () => {
    const a = await gateway.openSession('sesn_a');
    const b = await gateway.openSession('sesn_b');
    assert.equal(a.socketPath, join(socketDir, 'sesn_a.sock'));
    assert.equal((await stat(a.socketPath)).mode & 0o777, 0o666);

    model.setScript([{ text: ['x', 'y'], chunkDelayMs: 50 }]);
    const ok = await call(a.socketPath, '/v1/messages', { headers: { authorization: `Bearer ${a.token}` }, body: messages(true) });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['content-type']), /text\/event-stream/);
    assert.match(ok.body, /event: message_stop/);
    assert.ok(ok.chunkTimes.length > 1 && ok.chunkTimes.at(-1)! - ok.chunkTimes[0]! >= 100, `chunks at ${ok.chunkTimes.join(', ')}`);
    assert.equal(ended[0]?.sessionId, 'sesn_a');

    const crossed = await call(a.socketPath, '/v1/messages', { headers: { 'x-api-key': b.token }, body: messages() });
    assert.equal(crossed.status, 401);
    const none = await call(b.socketPath, '/v1/messages', { body: messages() });
    assert.equal(none.status, 401);
    assert.equal(model.requests.length, 1);
    await gateway.closeSession('sesn_a');
    await gateway.closeSession('sesn_b');
  });

  it('answers a rehearsing session itself: nothing upstream, nothing metered, a message the client parses', async () => {
    const session = await gateway.openSession('sesn_rehearse');
    model.setScript([{ text: 'from upstream', repeat: true }]);
    const client = new Anthropic({ baseURL: gateway.url, apiKey: session.token, maxRetries: 0 });
    const params = { model: 'claude-test', max_tokens: 50, messages: [{ role: 'user' as const, content: 'hi' }] };

    gateway.rehearse('sesn_rehearse', true);
    const json = await client.messages.create(params);
    assert.deepEqual(json.content, [{ type: 'text', text: REHEARSAL_REPLY }]);
    assert.equal(json.model, 'claude-test');
    assert.equal(json.usage.input_tokens, 0);
    const streamed = await client.messages.stream(params).finalMessage();
    assert.deepEqual(streamed.content, [{ type: 'text', text: REHEARSAL_REPLY }]);
    assert.equal(streamed.stop_reason, 'end_turn');
    const counted = await client.messages.countTokens(params);
    assert.equal(counted.input_tokens, 0);
    const other = await call(session.socketPath, '/v1/models', { method: 'GET', headers: { 'x-api-key': session.token } });
    assert.equal(other.status, 404);
    assert.equal(model.requests.length, 0, 'nothing reached the upstream');
    assert.deepEqual([started.length, ended.length], [0, 0], 'nothing was metered');
    const outsider = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': 'not-a-token' }, body: messages() });
    assert.equal(outsider.status, 401, 'a rehearsal does not skip authentication');

    gateway.rehearse('sesn_rehearse', false);
    const forwarded = await client.messages.create(params);
    assert.deepEqual(forwarded.content, [{ type: 'text', text: 'from upstream' }]);
    assert.deepEqual([model.requests.length, started.length, ended.length], [1, 1, 1]);
    gateway.rehearse('sesn_unknown', true); // no such session: nothing happens
    await gateway.closeSession('sesn_rehearse');
  });

  it('revokes on closeSession: token refused, socket removed, streams in flight cut', async () => {
    const session = await gateway.openSession('sesn_close');
    model.setScript([{ text: 'slow', delayMs: 5_000 }]);
    const inFlight = assert.rejects(call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages(true) }));
    while (model.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await gateway.closeSession('sesn_close');
    assert.equal(ended.length, 1, 'closeSession waits for the aborted request to be reported');
    await gateway.closeSession('sesn_close');
    await inFlight;
    await assert.rejects(stat(session.socketPath), { code: 'ENOENT' });
    const after = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages() });
    assert.equal(after.status, 401);
    assert.equal(ended.length, 1);
    assert.equal(ended[0]?.error?.type, 'client_closed');
    const reopened = await gateway.openSession('sesn_close');
    assert.notEqual(reopened.token, session.token);
    await gateway.closeSession('sesn_close');
  });

  it('reports client_closed when the sandbox hangs up mid-stream', async () => {
    const session = await gateway.openSession('sesn_hangup');
    model.setScript([{ text: ['a', 'b', 'c', 'd', 'e'], chunkDelayMs: 100 }]);
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: new URL(gateway.url).hostname, port: new URL(gateway.url).port, path: '/v1/messages', method: 'POST', headers: { 'x-api-key': session.token } },
        (res) => res.once('data', () => {
          req.destroy();
          resolve();
        }),
      );
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end(JSON.stringify(messages(true)));
      setTimeout(() => reject(new Error('no data')), 3_000).unref();
    });
    while (ended.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ended[0]?.status, 200);
    assert.equal(ended[0]?.error?.type, 'client_closed');
    await gateway.closeSession('sesn_hangup');
  });

  it('passes upstream errors through and reports them', async () => {
    const session = await gateway.openSession('sesn_err');
    model.setScript([{ error: { status: 429, message: 'slow down' } }, { error: { status: 529 } }]);
    const limited = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages() });
    assert.equal(limited.status, 429);
    assert.equal(JSON.parse(limited.body).error.type, 'rate_limit_error');
    const overloaded = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages(true) });
    assert.equal(overloaded.status, 529);
    assert.deepEqual(ended.map((e) => [e.status, e.error?.type]), [[429, 'rate_limit_error'], [529, 'overloaded_error']]);
    await gateway.closeSession('sesn_err');
  });

  it('cuts the upstream key out of an upstream error that echoes it', async () => {
    const session = await gateway.openSession('sesn_echo');
    model.setScript([{ error: { status: 401, type: 'authentication_error', message: `invalid x-api-key ${REAL_KEY} (${REAL_KEY})` } }]);
    const refused = await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages(true) });
    assert.equal(refused.status, 401);
    assert.ok(!refused.body.includes(REAL_KEY), refused.body);
    assert.equal(JSON.parse(refused.body).error.message, 'invalid x-api-key [redacted] ([redacted])');
    assert.equal(refused.headers['content-length'], String(Buffer.byteLength(refused.body)));
    assert.deepEqual(ended.map((e) => [e.status, e.error?.type]), [[401, 'authentication_error']]);
    await gateway.closeSession('sesn_echo');
  });

  it('proxies count_tokens without metering, and refuses paths outside the allow-list', async () => {
    const session = await gateway.openSession('sesn_paths');
    const counted = await call(gateway.url, '/v1/messages/count_tokens', { headers: { 'x-api-key': session.token }, body: messages() });
    assert.equal(counted.status, 200);
    assert.ok(JSON.parse(counted.body).input_tokens > 0);
    assert.equal(model.requests[0]?.headers['x-api-key'], REAL_KEY);
    const refused = await call(gateway.url, '/v1/files', { method: 'GET', headers: { 'x-api-key': session.token } });
    assert.equal(refused.status, 404);
    assert.equal(JSON.parse(refused.body).error.type, 'not_found_error');
    assert.equal(started.length, 0);
    assert.equal(ended.length, 0);
    assert.equal(model.requests.length, 1);
    await gateway.closeSession('sesn_paths');
  });

  it('rejects session ids that are not safe socket names', async () => {
    await assert.rejects(gateway.openSession('../evil'), /invalid session id/);
  });
});

describe('model gateway upstream variants', () => {
  let socketDir: string;
  before(async () => {
    socketDir = await mkdtemp(join(tmpdir(), 'gw-'));
  });
  after(() => rm(socketDir, { recursive: true, force: true }));

  it('answers 502 api_error when the upstream is unreachable, and reports it', async () => {
    const dead = await startScriptedModel();
    await dead.close();
    const ended: ModelResponseInfo[] = [];
    const gateway = await createModelGateway({
      upstreamBaseUrl: dead.url,
      upstreamApiKey: REAL_KEY,
      socketDir,
      log: createLogger({ level: 'silent' }),
      onResponse: (info) => ended.push(info),
    });
    try {
      const session = await gateway.openSession('sesn_dead');
      const reply = await call(session.socketPath, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages(true) });
      assert.equal(reply.status, 502);
      assert.equal(JSON.parse(reply.body).error.type, 'api_error');
      assert.ok(!reply.body.includes(REAL_KEY));
      assert.equal(ended[0]?.status, 502);
      assert.equal(ended[0]?.error?.type, 'api_error');
    } finally {
      await gateway.close();
    }
  });

  it('sends an auth token as a bearer credential, under the base URL\'s path prefix', async () => {
    const model = await startScriptedModel({ script: [{ text: 'hi' }] });
    const gateway = await createModelGateway({
      upstreamBaseUrl: `${model.url}/prefix/`,
      upstreamAuthToken: 'real-bearer',
      socketDir,
      log: createLogger({ level: 'silent' }),
    });
    try {
      const session = await gateway.openSession('sesn_bearer');
      await call(gateway.url, '/v1/messages', { headers: { 'x-api-key': session.token }, body: messages() });
      assert.equal(model.requests[0]?.path, '/prefix/v1/messages');
      assert.equal(model.requests[0]?.headers.authorization, 'Bearer real-bearer');
      assert.equal(model.requests[0]?.headers['x-api-key'], undefined);
    } finally {
      await gateway.close();
      await model.close();
    }
  });
});
