import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../logger.js';
import { ConnectionGuard } from './connection-guard.js';
import type { ConnectionLimits } from './connection-limits.js';

interface Client {
  socket: Socket;
  /** Resolves with ms from connect to close (by either side) and what the server answered. */
  closed: Promise<{ afterMs: number; answer: string }>;
  isOpen(): boolean;
  answer(): string;
}

function open(port: number, localAddress = '127.0.0.1'): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  const t0 = Date.now();
  let answer = '';
  let isOpen = true;
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => {
    isOpen = false;
    return { afterMs: Date.now() - t0, answer };
  });
  return once(socket, 'connect').then(() => ({ socket, closed, isOpen: () => isOpen, answer: () => answer }));
}

/** True when the server closed the connection within `ms` (the client never closes it here). */
async function closedWithin(c: Client, ms: number): Promise<boolean> {
  return Promise.race([c.closed.then(() => true), sleep(ms).then(() => false)]);
}

async function serve(limits: ConnectionLimits, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; guard: ConnectionGuard }> {
  const server = createServer(handler);
  const guard = new ConnectionGuard(limits, { log: silentLogger() });
  guard.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, guard };
}

const GET = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n';

describe('ConnectionGuard', () => {
  let server: Server;
  let port: number;
  let guard: ConnectionGuard;
  const clients: Client[] = [];
  const client = async (localAddress?: string) => {
    const c = await open(port, localAddress);
    clients.push(c);
    return c;
  };

  before(async () => {
    ({ server, port, guard } = await serve({ max: 6, perAddress: 3, headersTimeoutMs: 400, bodyMinBytesPerS: 1024, bodyTimeoutMs: 400 }, (req, res) => {
      if (req.url === '/late-reader') {
        // Reads nothing for longer than the body timeout: the client is not to blame.
        setTimeout(() => {
          let n = 0;
          req.on('data', (d: Buffer) => (n += d.length));
          req.on('end', () => res.end(`read ${n}`));
        }, 1200);
        return;
      }
      if (req.url === '/early') {
        res.writeHead(413, { 'content-type': 'application/json' }).end('{"type":"error"}');
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    }));
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    server.closeAllConnections();
    server.close();
  });

  it('refuses connections over the per-address cap, not those of other addresses', async () => {
    const held = [await client('127.0.0.2'), await client('127.0.0.2'), await client('127.0.0.2')];
    const fourth = await client('127.0.0.2');
    assert.ok(await closedWithin(fourth, 1000), 'the fourth connection from 127.0.0.2 is closed');
    const other = await client('127.0.0.3');
    other.socket.write(GET);
    await sleep(200);
    assert.ok(other.isOpen());
    assert.match(other.answer(), /^HTTP\/1\.1 200/);
    for (const c of [...held, other]) c.socket.destroy();
    await Promise.all([...held, other].map((c) => c.closed));
  });

  it('at the total cap, makes room by closing the connection that waited longest for its headers', async () => {
    const waiting: Client[] = [];
    for (let i = 0; i < 6; i++) waiting.push(await client(`127.0.1.${i + 1}`));
    await sleep(20);
    assert.equal(guard.open, 6);
    const late = await client('127.0.0.1');
    assert.ok(await closedWithin(waiting[0]!, 1000), 'the oldest waiting connection is closed');
    late.socket.write(GET);
    await sleep(200);
    assert.match(late.answer(), /^HTTP\/1\.1 200/);
    for (const c of [...waiting, late]) c.socket.destroy();
    await Promise.all([...waiting, late].map((c) => c.closed));
  });

  it('closes slow headers and slow bodies within their bounds', async () => {
    const slowHeaders = await client('127.0.2.1');
    const slowBody = await client('127.0.2.2');
    slowHeaders.socket.write('POST / HTTP/1.1\r\nhost: x\r\n');
    slowBody.socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n');
    const drip = setInterval(() => {
      slowHeaders.socket.write('x');
      slowBody.socket.write('x');
    }, 100);
    try {
      const [h, b] = await Promise.all([slowHeaders.closed, slowBody.closed]);
      // Bounds plus a sweep tick (100 ms) and slack for a loaded machine.
      assert.ok(h.afterMs >= 400 && h.afterMs < 2000, `slow headers closed after ${h.afterMs} ms`);
      assert.ok(b.afterMs >= 400 && b.afterMs < 2000, `slow body closed after ${b.afterMs} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  it('leaves bodies alone that arrive fast enough, or that the server is slow to read', async () => {
    const steady = await client('127.0.3.1');
    const size = 16 * 1024 * 30;
    steady.socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${size}\r\n\r\n`);
    // 16 KiB every 100 ms for 3 s: well above 1 KiB/s, for much longer than the body timeout.
    for (let i = 0; i < 30; i++) {
      steady.socket.write(Buffer.alloc(16 * 1024, 97));
      await sleep(100);
    }
    await sleep(200);
    assert.ok(steady.isOpen());
    assert.match(steady.answer(), /^HTTP\/1\.1 200/);

    const unread = await client('127.0.3.2');
    const big = 8 * 1024 * 1024;
    unread.socket.write(`POST /late-reader HTTP/1.1\r\nhost: x\r\ncontent-length: ${big}\r\nconnection: close\r\n\r\n`);
    unread.socket.end(Buffer.alloc(big, 97));
    const { answer } = await unread.closed;
    assert.match(answer, /read 8388608/);
    steady.socket.destroy();
  });

  it('keeps a body answered early under the body rule while it drains', async () => {
    const c = await client('127.0.4.1');
    c.socket.write('POST /early HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n');
    await sleep(200);
    const stall = await c.closed;
    assert.match(stall.answer, /^HTTP\/1\.1 413/);
    assert.ok(stall.afterMs < 2000, `a stalled drain closed after ${stall.afterMs} ms`);
  });
});
