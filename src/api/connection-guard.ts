import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { addressKey, type ConnectionLimits } from './connection-limits.js';

/**
 * Where a connection stands: waiting for a request's headers (new, or kept
 * alive after an answer: `headers`, `idle`), receiving a body (`body`), or
 * with a whole request in the server's hands (`busy`: handlers, SSE streams,
 * upgraded sockets), which no rule here limits.
 */
type Phase = 'headers' | 'idle' | 'body' | 'busy';

interface Conn {
  socket: Socket;
  key: string;
  phase: Phase;
  /** When the phase began, ms. */
  since: number;
  /** `socket.bytesRead` when the phase began (idle) or at the last look (body). */
  mark: number;
  /**
   * A body's time credit, ms: it starts at `bodyTimeoutMs`, each byte earns
   * 1/`bodyMinBytesPerS` s up to that much again, and time passing spends
   * it, except while the server itself is not reading. None left: closed.
   */
  credit: number;
  lastTick: number;
  req: IncomingMessage | undefined;
  res: ServerResponse | undefined;
}

/** Why a connection was refused or closed; the label of `agenthost_limited_requests_total`. */
export type ConnectionLimit = 'connections' | 'connections_per_address' | 'slow_headers' | 'slow_body';

/** Body connections looked at, oldest first, for the one with the least credit to close when the server is full. */
const EVICTION_SCAN = 64;
const SUMMARY_INTERVAL_MS = 10_000;

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Keeps unauthenticated clients from holding the API's listener: caps open
 * connections per address and in total, closes connections whose headers
 * take longer than `headersTimeoutMs` and bodies that fall more than
 * `bodyTimeoutMs` behind `bodyMinBytesPerS` (time the server is not reading
 * does not count), and when the server is full makes room for a new
 * connection by closing one that has waited for headers longest or, if all
 * are new, the body closest to its limit. So a flood of slow connections cannot
 * take the descriptors `/healthz`, the store and the sandboxes need.
 *
 * A body answered early (a 413) and drained afterwards stays under the body
 * rule until it is complete. Closed connections get no answer: a client that
 * slow would not read one.
 */
export class ConnectionGuard {
  private readonly conns = new Map<Socket, Conn>();
  /** Connections waiting for headers, in the order they began to wait: the first is evicted first. */
  private readonly waiting = new Map<Socket, Conn>();
  /** Connections receiving a body, in the order their bodies began. */
  private readonly bodies = new Map<Socket, Conn>();
  private readonly perAddress = new Map<string, number>();
  private readonly closed = { refused: 0, refusedPerAddress: 0, evicted: 0, slowHeaders: 0, slowBodies: 0 };
  private lastSummary = 0;
  private timer: NodeJS.Timeout | undefined;
  /** How long a new connection is spared eviction while others can go. */
  private readonly youngMs: number;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly o: { log: Logger; metrics?: Metrics | undefined; now?: () => number },
  ) {
    this.youngMs = Math.min(1000, limits.headersTimeoutMs / 2);
  }

  /** Open connections, for tests and logs. */
  get open(): number {
    return this.conns.size;
  }

  /**
   * Watches `server`'s connections. One guard may watch several listeners
   * (the API's and the previews'): they share one process's descriptors, so
   * they share its caps.
   */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.accept(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.request(req, res));
    // An upgraded socket (a preview's WebSocket) belongs to its handler. Hooked
    // once listening, so that it never is the only `upgrade` listener: node
    // would then leave upgrades nobody handles hanging instead of closing them.
    server.once('listening', () => {
      if (server.listenerCount('upgrade') > 0) server.prependListener('upgrade', (req: IncomingMessage) => this.upgraded(req.socket));
    });
    if (this.timer) return;
    const tick = Math.max(50, Math.min(1000, this.limits.headersTimeoutMs / 4, this.limits.bodyTimeoutMs / 4));
    this.timer = setInterval(() => this.sweep(), tick);
    this.timer.unref();
  }

  /** Stops watching (the listeners' connections close with them). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  private accept(socket: Socket): void {
    const key = addressKey(socket.remoteAddress);
    const fromAddress = this.perAddress.get(key) ?? 0;
    if (this.limits.perAddress > 0 && fromAddress >= this.limits.perAddress) {
      this.closed.refusedPerAddress += 1;
      this.refuse(socket, 'connections_per_address');
      return;
    }
    if (this.conns.size >= this.limits.max && !this.evictOne()) {
      this.closed.refused += 1;
      this.refuse(socket, 'connections');
      return;
    }
    const now = this.now();
    const c: Conn = { socket, key, phase: 'headers', since: now, mark: 0, credit: 0, lastTick: now, req: undefined, res: undefined };
    this.conns.set(socket, c);
    this.perAddress.set(key, fromAddress + 1);
    this.enter(c, 'headers');
    socket.once('close', () => this.forget(c));
  }

  private refuse(socket: Socket, limit: ConnectionLimit): void {
    this.o.metrics?.limited({ limit });
    socket.destroy();
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    const c = this.conns.get(req.socket);
    if (!c) return;
    c.req = req;
    c.res = res;
    this.enter(c, hasBody(req) && !req.complete ? 'body' : 'busy');
    res.once('finish', () => this.answered(c, req));
  }

  private answered(c: Conn, req: IncomingMessage): void {
    // Answered before the whole body arrived, it stays a body (drained by the app) until complete.
    if (req.complete && c.req === req && this.conns.has(c.socket)) this.enter(c, 'idle');
  }

  private upgraded(socket: Socket): void {
    const c = this.conns.get(socket);
    if (c) this.enter(c, 'busy');
  }

  private enter(c: Conn, phase: Phase): void {
    const now = this.now();
    this.waiting.delete(c.socket);
    this.bodies.delete(c.socket);
    c.phase = phase;
    c.since = now;
    if (phase === 'headers' || phase === 'idle') {
      c.mark = c.socket.bytesRead;
      this.waiting.set(c.socket, c);
    } else if (phase === 'body') {
      c.mark = c.socket.bytesRead;
      c.credit = this.limits.bodyTimeoutMs;
      c.lastTick = now;
      this.bodies.set(c.socket, c);
    }
  }

  private forget(c: Conn): void {
    if (!this.conns.delete(c.socket)) return;
    this.waiting.delete(c.socket);
    this.bodies.delete(c.socket);
    const left = (this.perAddress.get(c.key) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(c.key);
    else this.perAddress.set(c.key, left);
  }

  private close(c: Conn, limit: ConnectionLimit): void {
    this.o.metrics?.limited({ limit });
    this.forget(c);
    c.socket.destroy();
  }

  /**
   * Makes room for a new connection: closes the one that has waited longest
   * for headers, unless it only just came (a flood of new connections must
   * not push out a client before it could send its request), else the body
   * with the least credit among the oldest, else the oldest waiting one.
   */
  private evictOne(): boolean {
    const now = this.now();
    const oldestWaiting = this.waiting.values().next().value as Conn | undefined;
    let victim = oldestWaiting && now - oldestWaiting.since >= this.youngMs ? oldestWaiting : undefined;
    if (!victim) {
      let seen = 0;
      for (const c of this.bodies.values()) {
        if (!victim || c.credit < victim.credit) victim = c;
        if (++seen >= EVICTION_SCAN) break;
      }
    }
    victim ??= oldestWaiting;
    if (!victim) return false;
    this.closed.evicted += 1;
    this.close(victim, 'connections');
    return true;
  }

  private sweep(): void {
    const now = this.now();
    for (const c of this.conns.values()) {
      if (c.phase === 'idle') {
        // The next request's first bytes: its headers are now on the clock.
        if (c.socket.bytesRead !== c.mark) this.enter(c, 'headers');
      } else if (c.phase === 'headers') {
        if (now - c.since > this.limits.headersTimeoutMs) {
          this.closed.slowHeaders += 1;
          this.close(c, 'slow_headers');
        }
      } else if (c.phase === 'body') {
        this.checkBody(c, now);
      }
    }
    this.summarize(now);
  }

  private checkBody(c: Conn, now: number): void {
    if (!c.req || c.req.complete) {
      this.enter(c, c.res?.writableFinished ? 'idle' : 'busy');
      return;
    }
    const received = c.socket.bytesRead - c.mark;
    c.mark = c.socket.bytesRead;
    // A paused socket is the server not reading (its buffer is full): not the client's time.
    if (!c.socket.isPaused()) c.credit -= now - c.lastTick;
    c.lastTick = now;
    c.credit = Math.min(this.limits.bodyTimeoutMs, c.credit + (received * 1000) / this.limits.bodyMinBytesPerS);
    if (c.credit <= 0) {
      this.closed.slowBodies += 1;
      this.close(c, 'slow_body');
    }
  }

  /** One log line per interval while connections are refused or closed, not one per connection. */
  private summarize(now: number): void {
    const total = Object.values(this.closed).reduce((a, b) => a + b, 0);
    if (total === 0 || now - this.lastSummary < SUMMARY_INTERVAL_MS) return;
    this.lastSummary = now;
    this.o.log.warn({ ...this.closed, open: this.conns.size, max: this.limits.max }, 'refused or closed connections over the connection limits');
    for (const k of Object.keys(this.closed) as Array<keyof typeof this.closed>) this.closed[k] = 0;
  }
}
