import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Anthropic, { APIError, toFile } from '@anthropic-ai/sdk';
import { BIN, freePort, startServe, type Serve } from './helpers/processes.js';

/**
 * Every answer in the API's shape, with the class the official client maps
 * it to (issue 16 item 7, issue 17 item 7): what node's HTTP parser refuses,
 * what Fastify's router refuses, truncated uploads, unknown paths, and bodies
 * over the limits at any size up to 1 GiB, which must reach the client as
 * 413 every time and never as a reset connection. The server is
 * `agenthost serve` in its own process, as the client meets it in use.
 */

const FILE_LIMIT = 1024 * 1024;
const MiB = 1024 * 1024;

type ErrorBody = { type: string; error: { type: string; message: string }; request_id?: string };

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** Everything the server sent before it closed. */
  text: string;
}

/**
 * Sends `bytes` as they are on a new connection (then half-closes, if asked)
 * and reads until the first answer is complete or, with `untilClose`, until
 * the server closes.
 */
function raw(url: string, bytes: string | Buffer, o: { halfClose?: boolean; untilClose?: boolean } = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(bytes);
      if (o.halfClose) socket.end();
    });
    let text = '';
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer; so far: ${JSON.stringify(text)}`)));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // One answer is all these requests get; stop at its end.
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: *(\d+)/i.exec(text.slice(0, end));
      if (!o.untilClose && end >= 0 && length && text.length >= end + 4 + Number(length[1])) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const end = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, headers: text.slice(0, end), body: end >= 0 ? text.slice(end + 4) : '', text });
    });
  });
}

function assertShape(answer: RawAnswer, status: number, type: string, message?: RegExp): ErrorBody {
  assert.equal(answer.status, status, `${answer.headers}\n\n${answer.body}`);
  assert.match(answer.headers, /content-type: application\/json/i);
  const body = JSON.parse(answer.body) as ErrorBody;
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, type);
  assert.equal(typeof body.error.message, 'string');
  if (message) assert.match(body.error.message, message);
  return body;
}

async function rejects(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (value) => assert.fail(`expected a failure, got ${JSON.stringify(value)?.slice(0, 200)}`),
    (error: unknown) => error,
  );
}

/** The official client got exactly a 413 `request_too_large` (ContentTooLargeError), not a connection error. */
function assertTooLarge(error: unknown, what: string): void {
  assert.ok(error instanceof APIError && error.status === 413, `${what}: ${String(error)} (cause: ${String((error as { cause?: unknown }).cause)})`);
  assert.equal(error.constructor.name, 'ContentTooLargeError', what);
  assert.equal((error.error as ErrorBody).error.type, 'request_too_large', what);
}

describe('every answer in the API shape', { timeout: 600_000 }, () => {
  let dataDir: string;
  let serve: Serve;
  let key: string;
  // What the tests below use of a running server: its URL and a client with a key.
  const h = { server: { url: '' }, client: undefined as unknown as Anthropic };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agenthost-http-'));
    const env = { AGENTHOST_DATA_DIR: dataDir, AGENTHOST_LOG_LEVEL: 'warn', AGENTHOST_FILE_SIZE_LIMIT: String(FILE_LIMIT) };
    serve = await startServe({ ...env, AGENTHOST_PORT: String(await freePort()) });
    const { stdout } = await promisify(execFile)(BIN, ['keys', 'create', '--workspace', 'http'], { env: { ...process.env, ...env }, timeout: 60_000 });
    key = stdout.trim().split(/\s+/).at(-1) ?? '';
    h.server.url = serve.url;
    h.client = new Anthropic({ baseURL: serve.url, apiKey: key, maxRetries: 0, timeout: 300_000 });
  });
  after(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('unknown paths', () => {
    it('an API client gets the 404 JSON; a browser gets the console', async () => {
      const error = await rejects(h.client.get('/_stainless_unknown_path'));
      assert.ok(error instanceof Anthropic.NotFoundError, String(error));
      assert.equal((error.error as ErrorBody).error.type, 'not_found_error');
      for (const accept of ['application/json', '*/*', undefined]) {
        const res = await fetch(`${h.server.url}/_stainless_unknown_path`, { headers: accept ? { accept } : {} });
        assert.equal(res.status, 404, `accept ${accept}`);
        assert.equal(((await res.json()) as ErrorBody).error.type, 'not_found_error');
      }
      // As a browser asks for a page: the console (or the page saying it is not built).
      const page = await fetch(`${h.server.url}/sessions`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(page.status === 200 || page.status === 503, String(page.status));
    });
  });

  describe('what the router refuses', () => {
    it('a path parameter longer than any id is 404 in the API shape, not Fastify 414', async () => {
      const long = 'a'.repeat(150);
      const hook = await fetch(`${h.server.url}/hooks/${long}`, { method: 'POST', body: '{}' });
      const body = (await hook.json()) as ErrorBody;
      assert.equal(hook.status, 404, JSON.stringify(body));
      assert.equal(body.error.type, 'not_found_error');
      assert.match(body.request_id ?? '', /^req_/);
      for (const call of [() => h.client.beta.agents.retrieve(long), () => h.client.beta.sessions.events.send(long, { events: [] })]) {
        const error = await rejects(call());
        assert.ok(error instanceof Anthropic.NotFoundError, String(error));
        assert.equal((error.error as ErrorBody).error.type, 'not_found_error');
      }
    });

    it('a path that is not valid percent-encoding is 400', async () => {
      const res = await fetch(`${h.server.url}/v1/agents/%zz`, { headers: { 'x-api-key': key } });
      const body = (await res.json()) as ErrorBody;
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error.type, 'invalid_request_error');
    });
  });

  describe("what node's HTTP parser refuses", () => {
    it('a NUL or a control character in a header is 400', async () => {
      for (const value of ['a\0b', 'a\x01b', 'a\x7fb']) {
        const answer = await raw(h.server.url, `GET /v1/agents HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\nx-note: ${value}\r\n\r\n`);
        assertShape(answer, 400, 'invalid_request_error', /malformed HTTP request/);
      }
    });

    it('headers over 16 KiB are 413, garbage is 400', async () => {
      assertShape(await raw(h.server.url, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`), 413, 'request_too_large');
      assertShape(await raw(h.server.url, 'NOT HTTP AT ALL\r\n\r\n'), 400, 'invalid_request_error');
      assertShape(await raw(h.server.url, 'POST /v1/agents HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'), 400, 'invalid_request_error');
    });
  });

  describe('truncated uploads', () => {
    const part = '--xyz\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\nhello world';

    it('a multipart body that ends before its closing boundary is 400, not 500', async () => {
      const res = await fetch(`${h.server.url}/v1/files`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'multipart/form-data; boundary=xyz' },
        body: part,
      });
      const body = (await res.json()) as ErrorBody;
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, /multipart/);
    });

    it('a body cut short of its content-length is 400', async () => {
      const head = `POST /v1/files HTTP/1.1\r\nhost: x\r\nx-api-key: ${key}\r\ncontent-type: multipart/form-data; boundary=xyz\r\ncontent-length: 5000\r\n\r\n`;
      assertShape(await raw(h.server.url, head + part, { halfClose: true }), 400, 'invalid_request_error');
    });

    it('a request answered before its body came (no key: 401), then cut short, gets that one answer only', async () => {
      const head = 'POST /v1/files HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=xyz\r\ncontent-length: 5000\r\n\r\n';
      const answer = await raw(h.server.url, head + part, { halfClose: true, untilClose: true });
      assert.equal(answer.text.match(/^HTTP\/1\.1 /gm)?.length, 1, answer.text);
      assertShape(answer, 401, 'authentication_error');
    });
  });

  describe('bodies over the limits reach the official client as 413', () => {
    // A gigabyte of zeros, shared by every size below (only what is sent is touched).
    const zeros = new Uint8Array(1024 * MiB);
    const chunks = (size: number) => {
      let sent = 0;
      const chunk = new Uint8Array(MiB);
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= size) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
    };

    it('a JSON body over AGENTHOST_BODY_LIMIT, with a content-length, at 9 MiB to 1 GiB, again and again', async () => {
      for (const mib of [9, 20, 40, 40, 40, 40, 40, 100, 100, 256, 1024, 1024]) {
        const error = await rejects(h.client.post('/v1/agents', { body: zeros.subarray(0, mib * MiB), headers: { 'content-type': 'application/json' } }));
        assertTooLarge(error, `${mib} MiB`);
      }
    });

    it('a JSON body over the limit sent in chunks, and one the client built itself', async () => {
      for (const mib of [40, 40, 1024]) {
        const error = await rejects(h.client.post('/v1/agents', { body: chunks(mib * MiB), headers: { 'content-type': 'application/json' } }));
        assertTooLarge(error, `${mib} MiB in chunks`);
      }
      for (let i = 0; i < 3; i++) {
        const error = await rejects(h.client.beta.agents.create({ name: 'big', model: 'claude-sonnet-4-5', system: 'y'.repeat(40 * MiB) }));
        assertTooLarge(error, `a 40 MiB system prompt (run ${i + 1})`);
      }
    });

    it('a file over AGENTHOST_FILE_SIZE_LIMIT, up to 1 GiB', async () => {
      for (const mib of [2, 40, 40, 40, 1024]) {
        const error = await rejects(h.client.beta.files.upload({ file: await toFile(zeros.subarray(0, mib * MiB), 'big.bin', { type: 'application/octet-stream' }) }));
        assertTooLarge(error, `a ${mib} MiB file`);
      }
      // The connection pool is unharmed: a small upload still goes through.
      const small = await h.client.beta.files.upload({ file: await toFile(Buffer.from('fine'), 'small.txt', { type: 'text/plain' }) });
      assert.equal(small.size_bytes, 4);
    });
  });
});
