import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Preview, PreviewService } from '../../ops/previews.js';

type Params = { id: string; previewId: string };

/** `POST`, `GET /v1/sessions/{id}/ports` and `DELETE /v1/sessions/{id}/ports/{previewId}`. */
export function registerPreviewRoutes(app: FastifyInstance, previews: PreviewService): void {
  app.post<{ Params: Params }>('/v1/sessions/:id/ports', async (request) =>
    previews.render(await previews.create(request.auth.workspaceId, request.params.id, request.body)),
  );
  app.get<{ Params: Params }>('/v1/sessions/:id/ports', async (request) => {
    const list = await previews.list(request.auth.workspaceId, request.params.id);
    return { data: list.map((p) => previews.render(p)) };
  });
  app.delete<{ Params: Params }>('/v1/sessions/:id/ports/:previewId', async (request) => {
    await previews.revoke(request.auth.workspaceId, request.params.id, request.params.previewId);
    return { id: request.params.previewId, type: 'port_preview_deleted' };
  });
}

const TOKEN = /^[0-9a-f]{40}$/;

interface Target {
  token: string;
  /** The path to request inside the sandbox; undefined when a path-style URL lacks its slash. */
  path: string | undefined;
  /** The path prefix the preview is served under (path-style URLs). */
  prefix: string;
}

/** Which preview a request is for: `<token>.<domain>` hosts, or `/previews/<token>/...` paths. */
export function previewTarget(url: string, host: string | undefined, domain: string | undefined): Target | undefined {
  if (domain && host) {
    const name = host.toLowerCase().replace(/:\d+$/, '');
    if (name.endsWith(`.${domain}`)) {
      const token = name.slice(0, -(domain.length + 1));
      if (TOKEN.test(token)) return { token, path: url.startsWith('/') ? url : `/${url}`, prefix: '' };
    }
  }
  const m = /^\/previews\/([^/?#]+)(\/[^]*)?$/.exec(url);
  if (!m) return undefined;
  const rest = m[2];
  return { token: m[1]!, path: rest, prefix: `/previews/${m[1]!}` };
}

/** Request headers for the sandbox: its own Host, no agenthost credential. */
function upstreamHeaders(headers: IncomingHttpHeaders, preview: Preview, target: Target): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers, host: `127.0.0.1:${preview.port}` };
  delete out['x-api-key'];
  out['x-forwarded-host'] = headers.host;
  if (target.prefix) out['x-forwarded-prefix'] = target.prefix;
  return out;
}

function plain(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${message}\n`);
}

async function proxyHttp(req: IncomingMessage, res: ServerResponse, preview: Preview, target: Target, previews: PreviewService, log: Logger): Promise<void> {
  let socketPath: string;
  try {
    socketPath = await previews.upstream(preview);
  } catch (error) {
    plain(res, 502, `preview unavailable: ${(error as Error).message}`);
    return;
  }
  const upstream = httpRequest({ socketPath, method: req.method, path: target.path, headers: upstreamHeaders(req.headers, preview, target) });
  upstream.once('response', (answer) => {
    const headers = { ...answer.headers };
    // Redirects to absolute paths stay under a path-style preview.
    if (target.prefix && typeof headers.location === 'string' && headers.location.startsWith('/') && !headers.location.startsWith('//')) {
      headers.location = `${target.prefix}${headers.location}`;
    }
    res.writeHead(answer.statusCode ?? 502, headers);
    pipeline(answer, res, () => {});
  });
  upstream.once('error', (error) => {
    log.debug({ err: error, previewId: preview.id }, 'preview upstream failed');
    plain(res, 502, `nothing answered on port ${preview.port} inside the session's sandbox`);
  });
  pipeline(req, upstream, () => {});
}

function proxyUpgrade(req: IncomingMessage, client: Socket, head: Buffer, preview: Preview, target: Target, socketPath: string): void {
  const upstream = createConnection(socketPath);
  const fail = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.once('connect', () => {
    const headers = upstreamHeaders(req.headers, preview, target);
    const lines = [`${req.method ?? 'GET'} ${target.path ?? '/'} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.once('error', fail);
  client.once('error', fail);
  upstream.once('close', () => client.destroy());
  client.once('close', () => upstream.destroy());
}

/**
 * Serves previews on the API's listener: HTTP through a root `onRequest` hook
 * that takes the request before any route, auth or body parsing; WebSocket
 * and other upgrades through the server's `upgrade` event. An unknown,
 * revoked or expired token gets 404 and nothing is contacted.
 */
export function registerPreviewProxy(app: FastifyInstance, previews: PreviewService, o: { domain?: string | undefined; log: Logger }): void {
  app.addHook('onRequest', async (request, reply) => {
    const target = previewTarget(request.raw.url ?? '/', request.headers.host, o.domain);
    if (!target) return;
    const preview = previews.resolve(target.token);
    if (!preview) throw new AppError(ErrorCode.notFound, 'no such preview (it may have expired or been revoked)');
    if (target.path === undefined) return reply.redirect(`${target.prefix}/`, 308);
    reply.hijack();
    await proxyHttp(request.raw, reply.raw, preview, target, previews, o.log);
    return reply;
  });

  app.server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = previewTarget(req.url ?? '/', req.headers.host, o.domain);
    const preview = target?.path !== undefined ? previews.resolve(target.token) : undefined;
    if (!target || !preview) {
      client.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    client.on('error', () => client.destroy());
    previews.upstream(preview).then(
      (socketPath) => proxyUpgrade(req, client, head, preview, target, socketPath),
      (error: unknown) => {
        const body = `preview unavailable: ${(error as Error).message}\n`;
        client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      },
    );
  });
}
