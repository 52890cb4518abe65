/**
 * The model gateway. A sandbox never holds the upstream credential: the
 * Claude Code CLI inside it calls the model with a per-session token, and the
 * gateway swaps that token for the real credential and forwards upstream.
 *
 * Two ways in:
 * - one loopback TCP port (`url`), for providers without network isolation;
 *   any open session's token is accepted there;
 * - one Unix socket per session (`<socketDir>/<sessionId>.sock`), mounted into
 *   that session's sandbox; only that session's token is accepted on it.
 *   The CLI talks to it directly when ANTHROPIC_UNIX_SOCKET names the socket
 *   and ANTHROPIC_BASE_URL is any http URL (e.g. http://localhost); see claude-cli.test.ts.
 *
 * While a session rehearses (`rehearse`), the gateway answers its model calls
 * itself (rehearsal.ts): nothing goes upstream and nothing is metered.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { Agent as HttpAgent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import type { UpstreamCredential } from './headers.js';
import { presentedToken } from './headers.js';
import {
  defaultPathAllowed,
  proxyRequest,
  sendError,
  type ModelRequestInfo,
  type ModelResponseInfo,
  type ProxyContext,
} from './proxy.js';
import { answerRehearsal } from './rehearsal.js';
import { SessionTokens } from './tokens.js';

export interface ModelGatewayOptions {
  /** Where requests go, e.g. `https://api.anthropic.com`; a path prefix is kept. */
  upstreamBaseUrl: string;
  /** Sent upstream as `x-api-key`. Takes precedence over `upstreamAuthToken`. */
  upstreamApiKey?: string | undefined;
  /** Sent upstream as `Authorization: Bearer`. */
  upstreamAuthToken?: string | undefined;
  /** Directory for the per-session sockets; created (mode 0711) when missing. */
  socketDir: string;
  /** Loopback address for the TCP listener. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  log: Logger;
  /** Which requests may pass (method, path without query). Default: messages, count_tokens, models. */
  pathAllowed?: (method: string, path: string) => boolean;
  /** Called before a POST /v1/messages is forwarded. Must not throw (a throw is logged and ignored). */
  onRequest?: (info: ModelRequestInfo) => void;
  /** Called once per POST /v1/messages, after its response has ended or failed. */
  onResponse?: (info: ModelResponseInfo) => void;
}

export interface GatewaySession {
  /** The secret the sandbox presents as `x-api-key` or `Authorization: Bearer`. */
  token: string;
  /** Unix socket accepting only this session's token. */
  socketPath: string;
  /** The gateway's loopback TCP URL (also accepts this token), for ANTHROPIC_BASE_URL. */
  url: string;
}

export interface ModelGateway {
  /** Loopback TCP base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /**
   * Issues a token for the session and starts its socket listener. Throws if
   * the session is already open (close it first to rotate the token).
   */
  openSession(sessionId: string): Promise<GatewaySession>;
  /**
   * Revokes the session's token, aborts its requests in flight (and waits
   * for their onResponse), stops its socket listener and removes the socket
   * file. Idempotent.
   */
  closeSession(sessionId: string): Promise<void>;
  /**
   * While on, the session's model calls are answered by the gateway itself
   * (a minimal complete message, zero usage) and never reach the upstream or
   * the onRequest/onResponse callbacks. No-op for a session that is not open.
   */
  rehearse(sessionId: string, on: boolean): void;
  /** Closes every session and the TCP listener. */
  close(): Promise<void>;
}

/**
 * How long idle keep-alive connections stay open. With node's 5 s default a
 * client can reuse a connection just as the gateway closes it, and the model
 * call fails; a long timeout leaves closing idle connections to the client.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

interface OpenSession {
  server: Server;
  socketPath: string;
  aborts: Set<() => void>;
  /** Requests not yet over (see proxyRequest), on the socket or the TCP port. */
  inflight: Set<Promise<void>>;
  /** Model calls are answered here, not upstream (see `rehearse`). */
  rehearsing: boolean;
}

export async function createModelGateway(options: ModelGatewayOptions): Promise<ModelGateway> {
  const upstream = new URL(options.upstreamBaseUrl);
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new Error(`upstreamBaseUrl must be http or https, got ${JSON.stringify(upstream.protocol)}`);
  }
  const credential: UpstreamCredential = options.upstreamApiKey
    ? { kind: 'api-key', value: options.upstreamApiKey }
    : options.upstreamAuthToken
      ? { kind: 'bearer', value: options.upstreamAuthToken }
      : { kind: 'none' };
  const { log } = options;
  const tokens = new SessionTokens();
  const sessions = new Map<string, OpenSession>();
  const agent = upstream.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const context: ProxyContext = {
    upstream,
    credential,
    secrets: [options.upstreamApiKey, options.upstreamAuthToken].filter((s): s is string => !!s),
    agent,
    log,
    pathAllowed: options.pathAllowed ?? defaultPathAllowed,
    onRequest: options.onRequest,
    onResponse: options.onResponse,
  };

  /** Builds a request handler; `authenticate` maps a presented token to its session. */
  const handler =
    (authenticate: (token: string) => string | null) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      const token = presentedToken(req.headers);
      const sessionId = token === null ? null : authenticate(token);
      if (sessionId === null) {
        req.resume();
        sendError(res, 401, 'authentication_error', token === null ? 'missing gateway token' : 'invalid gateway token');
        return;
      }
      const track = (abort: () => void): (() => void) => {
        const aborts = sessions.get(sessionId)?.aborts;
        if (!aborts) {
          // Closed while the request body was being read.
          abort();
          return () => {};
        }
        aborts.add(abort);
        return () => aborts.delete(abort);
      };
      if (sessions.get(sessionId)?.rehearsing) {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        if (req.method === 'POST' && (path === '/v1/messages' || path === '/v1/messages/count_tokens')) {
          answerRehearsal(req, res, path).catch(() => res.destroy());
        } else {
          req.resume();
          sendError(res, 404, 'not_found_error', `${req.method ?? 'GET'} ${path} is not available while the sandbox rehearses`);
        }
        return;
      }
      const done = proxyRequest(context, sessionId, req, res, track).catch((error: unknown) => {
        log.error({ err: error, sessionId }, 'model gateway request failed');
        sendError(res, 500, 'api_error', 'model gateway error');
      });
      const inflight = sessions.get(sessionId)?.inflight;
      inflight?.add(done);
      void done.finally(() => inflight?.delete(done));
    };

  const tcp = createServer({ noDelay: true, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler((token) => tokens.resolve(token)));
  await listen(tcp, (ready) => tcp.listen(options.port ?? 0, options.host ?? '127.0.0.1', ready));
  const address = tcp.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, upstream: upstream.origin, credential: credential.kind }, 'model gateway listening');

  await mkdir(options.socketDir, { recursive: true, mode: 0o711 });

  async function closeSession(sessionId: string): Promise<void> {
    tokens.revoke(sessionId);
    const session = sessions.get(sessionId);
    if (!session) return;
    sessions.delete(sessionId);
    for (const abort of session.aborts) abort();
    await Promise.all(session.inflight);
    await new Promise<void>((resolve) => {
      session.server.close(() => resolve());
      session.server.closeAllConnections();
    });
    await rm(session.socketPath, { force: true });
    log.debug({ sessionId }, 'gateway session closed');
  }

  return {
    url,
    async openSession(sessionId) {
      if (!SESSION_ID.test(sessionId)) throw new Error(`invalid session id for a socket name: ${JSON.stringify(sessionId)}`);
      const socketPath = join(options.socketDir, `${sessionId}.sock`);
      if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
        throw new Error(`socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter socketDir`);
      }
      // Issued (and the session registered) synchronously, so a concurrent second open fails.
      const token = tokens.issue(sessionId);
      const server = createServer(
        { noDelay: true, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS },
        handler((presented) => (tokens.verify(sessionId, presented) ? sessionId : null)),
      );
      sessions.set(sessionId, { server, socketPath, aborts: new Set(), inflight: new Set(), rehearsing: false });
      try {
        await rm(socketPath, { force: true }); // left by an earlier run that died
        await listen(server, (ready) => server.listen(socketPath, ready));
        // The sandboxed CLI may run as another uid; the token, not the mode, guards the socket.
        await chmod(socketPath, 0o666);
      } catch (error) {
        await closeSession(sessionId);
        throw error;
      }
      log.debug({ sessionId, socketPath }, 'gateway session opened');
      return { token, socketPath, url };
    },
    closeSession,
    rehearse(sessionId, on) {
      const session = sessions.get(sessionId);
      if (session) session.rehearsing = on;
    },
    async close() {
      await Promise.all([...sessions.keys()].map((id) => closeSession(id)));
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        tcp.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

function listen(server: Server, start: (ready: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start(() => {
      server.off('error', reject);
      resolve();
    });
  });
}
