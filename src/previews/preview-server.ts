import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { ConnectionGuard } from '../api/connection-guard.js';
import type { Logger } from '../logger.js';
import { opaqueOriginPreflight, previewTarget, requestHeaders, responseHeaders, type PreviewMode, type Target } from './preview-headers.js';
import type { Preview, PreviewService } from './previews.js';

export interface PreviewServer {
  /** The port it listens on. */
  port: number;
  /** Stops listening and drops every connection, upgraded ones included. */
  close(): Promise<void>;
}

export interface PreviewServerOptions {
  previews: PreviewService;
  mode: PreviewMode;
  host: string;
  /** 0: any free port. */
  port: number;
  /** Values that never reach a sandbox in a request header or cookie, besides agenthost keys (the metrics token). */
  secrets: readonly string[];
  log: Logger;
  /** Caps connections and bounds slow clients, with the API listener's. */
  connections?: ConnectionGuard;
}

/** Answers of the listener itself (no preview, or none reachable): text that nothing renders or sniffs. */
function plain(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
  });
  res.end(`${message}\n`);
}

const NO_PREVIEW = 'no such preview (it may have expired or been revoked)';

function headLines(statusLine: string, headers: OutgoingHttpHeaders): string {
  const lines = [statusLine];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * The preview listener: its own port, so its origin is never the API's or
 * the console's, and it serves nothing but previews (no API, no console).
 * HTTP is proxied request by request; WebSocket and other upgrades through
 * the `upgrade` event. An unknown, revoked or expired token gets 404 and
 * nothing is contacted.
 */
export async function startPreviewServer(o: PreviewServerOptions): Promise<PreviewServer> {
  const upgraded = new Set<Socket>();
  const server = createServer({ headersTimeout: 30_000 }, (req, res) => {
    void handle(req, res).catch((error: unknown) => {
      o.log.warn({ err: error }, 'preview request failed');
      plain(res, 502, 'preview unavailable');
    });
  });
  o.connections?.attach(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = previewTarget(req.url ?? '/', req.headers.host, o.mode);
    const preview = target ? o.previews.resolve(target.token) : undefined;
    if (!target || !preview) return plain(res, 404, NO_PREVIEW);
    if (target.path === undefined) {
      res.writeHead(308, { location: `${target.prefix}/`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const preflight = opaqueOriginPreflight(req.method, req.headers, o.mode);
    if (preflight) {
      res.writeHead(204, preflight);
      res.end();
      return;
    }
    let socketPath: string;
    try {
      socketPath = await o.previews.upstream(preview);
    } catch (error) {
      return plain(res, 502, `preview unavailable: ${(error as Error).message}`);
    }
    const upstream = httpRequest({ socketPath, method: req.method, path: target.path, headers: requestHeaders(req.headers, { port: preview.port, target, mode: o.mode, secrets: o.secrets }) });
    upstream.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, responseHeaders(answer.headers, { target, mode: o.mode, requestOrigin: origin(req.headers) }));
      pipeline(answer, res, () => {});
    });
    upstream.once('error', (error) => {
      o.log.debug({ err: error, previewId: preview.id }, 'preview upstream failed');
      plain(res, 502, `nothing answered on port ${preview.port} inside the session's sandbox`);
    });
    pipeline(req, upstream, () => {});
  }

  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => client.destroy());
    const target = previewTarget(req.url ?? '/', req.headers.host, o.mode);
    const preview = target?.path !== undefined ? o.previews.resolve(target.token) : undefined;
    if (!target || !preview) {
      client.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    upgraded.add(client);
    client.once('close', () => upgraded.delete(client));
    o.previews.upstream(preview).then(
      (socketPath) => proxyUpgrade(req, client, head, preview, target, socketPath),
      (error: unknown) => {
        const body = `preview unavailable: ${(error as Error).message}\n`;
        client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      },
    );
  });

  function proxyUpgrade(req: IncomingMessage, client: Socket, head: Buffer, preview: Preview, target: Target, socketPath: string): void {
    const headers = requestHeaders(req.headers, { port: preview.port, target, mode: o.mode, secrets: o.secrets });
    const upstream = httpRequest({ socketPath, method: req.method, path: target.path, headers });
    const answerHeaders = (h: IncomingHttpHeaders) => responseHeaders(h, { target, mode: o.mode, requestOrigin: origin(req.headers) });
    upstream.once('upgrade', (answer, socket, upstreamHead) => {
      client.write(headLines(`HTTP/1.1 ${answer.statusCode ?? 101} ${answer.statusMessage ?? 'Switching Protocols'}`, answerHeaders(answer.headers)));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) socket.write(head);
      socket.on('error', () => client.destroy());
      client.once('close', () => socket.destroy());
      socket.once('close', () => client.destroy());
      socket.pipe(client);
      client.pipe(socket);
    });
    // The app refused the upgrade: its answer, then the connection ends (the body is as long as the app sends).
    upstream.once('response', (answer) => {
      const h = answerHeaders(answer.headers);
      delete h['transfer-encoding'];
      delete h['content-length'];
      h.connection = 'close';
      client.write(headLines(`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`, h));
      pipeline(answer, client, () => {});
    });
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await closed;
    },
  };
}

function origin(headers: IncomingHttpHeaders): string | undefined {
  return typeof headers.origin === 'string' ? headers.origin : undefined;
}
