import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:web` writes the console. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** Paths that belong to the API and other server routes: never answered with the console. */
const SERVER_PREFIXES = ['/v1/', '/hooks/'];
const SERVER_PATHS = new Set(['/v1', '/hooks', '/healthz', '/readyz', '/metrics']);

// The page talks to its own origin only, and nothing may frame it.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MISSING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agenthost: console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The console has not been built</h1>
<p>This agenthost serves its web console from <code>web/dist</code>, which is missing.
Build it with <code>npm run build:web</code> (<code>scripts/install.sh</code> does this), then reload.</p>
<p>The API is unaffected: <code>/v1</code> answers as usual.</p>
</body></html>
`;

export interface ConsoleOptions {
  /** The built console; default `web/dist` of this package. */
  dir?: string;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/**
 * True when the request's `Accept` names HTML (as browsers' page loads do).
 * API clients ask for JSON (the official client sends `application/json`), and
 * a path they call that does not exist must get the API's 404, not the page.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (type === 'text/html' || type === 'application/xhtml+xml') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * The web console at `/`: a static single-page app that uses the public API
 * like any client (it has no routes of its own). Hashed files under
 * `/assets/` are cached for a year; every other path without a file
 * extension gets index.html (the app's client-side routes), revalidated on
 * each load, when the request accepts HTML. API paths, and any path asked
 * for by a client that does not accept HTML, get the API's JSON 404.
 * Registered outside the authenticated `/v1` scope: the page holds no data.
 */
export async function registerConsoleRoutes(app: FastifyInstance, options: ConsoleOptions = {}): Promise<void> {
  const dir = options.dir ?? CONSOLE_DIST;
  await app.register(async (scope) => {
    // serve: false: only `reply.sendFile`, so the wildcard route below decides
    // (and no root: a missing build is reported per request, not at startup).
    await scope.register(fastifyStatic, { serve: false, cacheControl: false, etag: true, lastModified: true });

    scope.get('/*', async (request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      if (SERVER_PATHS.has(path) || SERVER_PREFIXES.some((p) => path.startsWith(p))) return reply.callNotFound();

      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        return reply.callNotFound();
      }
      if (decoded.includes('\0') || decoded.split('/').includes('..')) return reply.callNotFound();

      if (extname(decoded) !== '') {
        // A file: hashed assets are immutable; anything else (favicon) revalidates.
        if (!(await isFile(join(dir, decoded)))) return reply.callNotFound();
        const hashed = decoded.startsWith('/assets/');
        reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
        return reply.sendFile(decoded.slice(1), dir);
      }

      if (!acceptsHtml(request.headers.accept)) return reply.callNotFound();
      securityHeaders(reply);
      if (!(await isFile(join(dir, 'index.html')))) {
        return reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(MISSING);
      }
      reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html', dir);
    });
  });
}
