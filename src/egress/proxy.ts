/**
 * The egress proxy: the only way out of a sandbox besides the model gateway.
 * One Unix socket per session (`<socketDir>/<sessionId>.sock`), bridged into
 * the sandbox as an HTTP proxy, speaking CONNECT (for TLS and anything else)
 * and plain HTTP with absolute URLs. Each request is decided by name
 * (`policy.ts`), the name is resolved here, and the connection goes to the
 * one address that was checked, so a name cannot be re-resolved somewhere
 * forbidden between check and connect. Every decision is logged.
 */
import { lookup } from 'node:dns/promises';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { forbiddenAddress, nameAllowed, type EgressPolicy } from './policy.js';

export interface EgressProxyOptions {
  /** Directory for the per-session sockets; created when missing. */
  socketDir: string;
  log: Logger;
  /** Name resolution; default: the host's resolver, every address. */
  resolve?: (host: string) => Promise<string[]>;
  /** Opens the upstream TCP connection to a checked address; default net.connect. */
  connect?: (address: string, port: number) => Socket;
  /** Addresses of this host besides its interfaces' (e.g. a public IP behind NAT). */
  ownAddresses?: string[];
  /** How long a connection attempt may take. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface EgressProxy {
  /** Starts the session's socket with its policy. Throws if the session is open. */
  openSession(sessionId: string, policy: EgressPolicy): Promise<{ socketPath: string }>;
  /** Stops the socket and cuts the session's connections. Idempotent. */
  closeSession(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

type Verdict = { allow: true; address: string } | { allow: false; reason: string };

export async function createEgressProxy(o: EgressProxyOptions): Promise<EgressProxy> {
  const resolve = o.resolve ?? (async (host: string) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address));
  const dial = o.connect ?? ((address: string, port: number) => netConnect({ host: address, port }));
  const own = new Set([...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)), ...(o.ownAddresses ?? [])]);
  const sessions = new Map<string, { server: Server; socketPath: string; sockets: Set<Duplex> }>();
  await mkdir(o.socketDir, { recursive: true, mode: 0o711 });

  async function decide(policy: EgressPolicy, host: string, port: number): Promise<Verdict> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { allow: false, reason: 'invalid port' };
    const byName = nameAllowed(policy, host, port);
    if (!byName.allow) return byName;
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch (error) {
      return { allow: false, reason: `does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    if (addresses.length === 0) return { allow: false, reason: 'does not resolve' };
    // Every address must be public: a name with one forbidden address is a rebinding risk.
    for (const address of addresses) {
      const why = forbiddenAddress(address, own);
      if (why) return { allow: false, reason: `resolves to ${address} (${why})` };
    }
    return { allow: true, address: addresses[0]! };
  }

  function logDecision(sessionId: string, method: string, host: string, port: number, verdict: Verdict): void {
    const fields = { sessionId, method, host, port, decision: verdict.allow ? 'allow' : 'deny', ...(verdict.allow ? { address: verdict.address } : { reason: verdict.reason }) };
    if (verdict.allow) o.log.info(fields, 'egress allowed');
    else o.log.warn(fields, 'egress denied');
  }

  function handleConnect(sessionId: string, policy: EgressPolicy, sockets: Set<Duplex>) {
    return (req: IncomingMessage, client: Duplex, head: Buffer): void => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => client.destroy());
      const target = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? '');
      const host = target?.[1] ?? '';
      const port = Number(target?.[2]);
      void decide(policy, host, port).then((verdict) => {
        logDecision(sessionId, 'CONNECT', host, port, verdict);
        if (!verdict.allow) {
          client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nagenthost egress: ${host}:${port} denied: ${verdict.reason}\n`);
          return;
        }
        const upstream = dial(verdict.address, port);
        sockets.add(upstream);
        upstream.setTimeout(o.connectTimeoutMs ?? 10_000, () => upstream.destroy(new Error('connect timeout')));
        upstream.once('connect', () => {
          upstream.setTimeout(0);
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        upstream.on('error', (error) => {
          if (!client.destroyed && upstream.connecting !== false) client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\nagenthost egress: ${error.message}\n`);
          else client.destroy();
        });
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
      });
    };
  }

  function handleRequest(sessionId: string, policy: EgressPolicy) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      let url: URL;
      try {
        url = new URL(req.url ?? '');
        if (url.protocol !== 'http:') throw new Error('not http');
      } catch {
        req.resume();
        res.writeHead(400, { 'content-type': 'text/plain' }).end('agenthost egress: send an absolute http:// URL, or CONNECT for anything else\n');
        return;
      }
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port || 80);
      void decide(policy, host, port).then((verdict) => {
        logDecision(sessionId, req.method ?? 'GET', host, port, verdict);
        if (!verdict.allow) {
          req.resume();
          res.writeHead(403, { 'content-type': 'text/plain' }).end(`agenthost egress: ${host}:${port} denied: ${verdict.reason}\n`);
          return;
        }
        const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: url.host };
        delete headers['proxy-connection'];
        delete headers['proxy-authorization'];
        const upstream = httpRequest(
          { createConnection: () => dial(verdict.address, port), method: req.method, path: `${url.pathname}${url.search}`, headers },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', (error) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`agenthost egress: ${error.message}\n`);
          else res.destroy();
        });
        req.pipe(upstream);
      });
    };
  }

  async function closeSession(sessionId: string): Promise<void> {
    const session = sessions.get(sessionId);
    if (!session) return;
    sessions.delete(sessionId);
    for (const s of session.sockets) s.destroy();
    await new Promise<void>((r) => {
      session.server.close(() => r());
      session.server.closeAllConnections();
    });
    await rm(session.socketPath, { force: true });
  }

  return {
    async openSession(sessionId, policy) {
      if (!SESSION_ID.test(sessionId)) throw new Error(`invalid session id for a socket name: ${JSON.stringify(sessionId)}`);
      if (sessions.has(sessionId)) throw new Error(`egress session ${sessionId} is already open`);
      const socketPath = join(o.socketDir, `${sessionId}.sock`);
      const sockets = new Set<Duplex>();
      const server = createServer(handleRequest(sessionId, policy));
      server.on('connect', handleConnect(sessionId, policy, sockets));
      server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      sessions.set(sessionId, { server, socketPath, sockets });
      try {
        await rm(socketPath, { force: true });
        await new Promise<void>((resolveListen, reject) => {
          server.once('error', reject);
          server.listen(socketPath, () => resolveListen());
        });
        // The sandbox user may be another uid; the socket is per session and reachable only by its sandbox's mount.
        await chmod(socketPath, 0o666);
      } catch (error) {
        await closeSession(sessionId);
        throw error;
      }
      o.log.debug({ sessionId, policy: policy.type }, 'egress session opened');
      return { socketPath };
    },
    closeSession,
    async close() {
      await Promise.all([...sessions.keys()].map((id) => closeSession(id)));
    },
  };
}
