import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readdir } from 'node:fs/promises';

/**
 * The slow-client attack of issue 16: many connections from other loopback
 * addresses that send a request's headers (or a body) one byte at a time,
 * and the probes that watch the server meanwhile.
 */

export type SlowKind = 'headers' | 'body';

interface Held {
  socket: Socket;
  kind: SlowKind;
  openedAt: number;
  closedAt: number | undefined;
}

export interface SlowAttackReport {
  /** Connections the server accepted (the TCP handshake completed). */
  opened: number;
  /** Connections that never opened (refused, reset or timed out while connecting). */
  failed: number;
  /** Still open when the report was made: the server is holding them. */
  open: number;
  /** The longest any connection was held before the server closed it (or until now, if still open), ms. */
  longestHeldMs: number;
  /** How many connections were held at once, at most (as the attacker saw it). */
  mostHeldAtOnce: number;
}

export interface SlowAttack {
  report(): SlowAttackReport;
  /** Resolves when the server has closed every connection, or after `ms`. */
  settled(ms: number): Promise<void>;
  /** Closes whatever is still open. */
  stop(): void;
}

/**
 * Opens `connections` connections to `port`, spread over `addresses`
 * (e.g. 127.0.0.2...), half of them slow headers and half slow bodies to
 * `path` (content-length 100000), each dripping one byte every `dripMs`.
 */
export async function slowAttack(o: { port: number; connections: number; addresses: string[]; path: string; dripMs: number }): Promise<SlowAttack> {
  const held: Held[] = [];
  let failed = 0;
  let atOnce = 0;
  let mostAtOnce = 0;
  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const kind: SlowKind = i % 2 === 0 ? 'headers' : 'body';
      const socket = connect({ port: o.port, host: '127.0.0.1', localAddress: o.addresses[i % o.addresses.length] });
      let connected = false;
      socket.setTimeout(10_000, () => socket.destroy());
      socket.on('error', () => undefined);
      socket.once('connect', () => {
        connected = true;
        socket.setTimeout(0);
        const h: Held = { socket, kind, openedAt: Date.now(), closedAt: undefined };
        held.push(h);
        mostAtOnce = Math.max(mostAtOnce, ++atOnce);
        socket.write(
          kind === 'headers'
            ? `POST ${o.path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`
            : `POST ${o.path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n`,
        );
        socket.once('close', () => {
          h.closedAt = Date.now();
          atOnce -= 1;
        });
        resolve();
      });
      socket.once('close', () => {
        if (!connected) failed += 1;
        resolve();
      });
    });
  for (let i = 0; i < o.connections; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, o.connections - i) }, (_, k) => openOne(i + k)));
  }
  const drip = setInterval(() => {
    for (const h of held) if (h.closedAt === undefined) h.socket.write('x');
  }, o.dripMs);
  const report = (): SlowAttackReport => {
    const now = Date.now();
    return {
      opened: held.length,
      failed,
      open: held.filter((h) => h.closedAt === undefined).length,
      longestHeldMs: Math.max(0, ...held.map((h) => (h.closedAt ?? now) - h.openedAt)),
      mostHeldAtOnce: mostAtOnce,
    };
  };
  return {
    report,
    settled: async (ms) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && held.some((h) => h.closedAt === undefined)) await new Promise((r) => setTimeout(r, 100));
    },
    stop: () => {
      clearInterval(drip);
      for (const h of held) h.socket.destroy();
    },
  };
}

export interface ProbeReport {
  probes: number;
  failures: string[];
  worstMs: number;
}

/** GETs `url` on a new connection from 127.0.0.1 every `everyMs` until stopped; each must answer `status` within `timeoutMs`. */
export function probeLoop(url: string, everyMs: number, timeoutMs: number, status = 200): { stop(): Promise<ProbeReport> } {
  const report: ProbeReport = { probes: 0, failures: [], worstMs: 0 };
  let running = true;
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = Date.now();
      let settled = false;
      const done = (failure?: string) => {
        if (settled) return;
        settled = true;
        report.probes += 1;
        report.worstMs = Math.max(report.worstMs, Date.now() - t0);
        if (failure) report.failures.push(failure);
        resolve();
      };
      const req = get(url, { agent: false, localAddress: '127.0.0.1', timeout: timeoutMs }, (res) => {
        res.resume();
        res.once('end', () => done(res.statusCode === status ? undefined : `status ${res.statusCode}`));
        res.once('close', () => done('closed before the answer ended'));
      });
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', (error) => done(`${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`));
      req.once('close', () => done('closed without an answer'));
    });
  const loop = (async () => {
    while (running) {
      await Promise.all([once(), new Promise((r) => setTimeout(r, everyMs))]);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return report;
    },
  };
}

/** Samples how many descriptors `pid` holds every `everyMs`; `stop` returns the most seen. */
export function descriptorWatch(pid: number, everyMs: number): { stop(): number } {
  let most = 0;
  const timer = setInterval(() => {
    readdir(`/proc/${pid}/fd`).then(
      (fds) => (most = Math.max(most, fds.length)),
      () => undefined,
    );
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return most;
    },
  };
}
