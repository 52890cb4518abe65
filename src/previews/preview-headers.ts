import type { IncomingHttpHeaders, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';

/**
 * How the preview listener addresses previews. Either way a preview never
 * shares an origin with the API or the console, which live on another
 * listener.
 * - `path`: `/previews/<token>/...` on the preview listener's one origin.
 *   Previews share that origin, so every page is put in an opaque origin
 *   (CSP `sandbox` without `allow-same-origin`): no storage, no
 *   `document.cookie`, no service workers, nothing one preview could read of
 *   another's.
 * - `host`: `<token>.<domain>`, an origin per preview (wildcard DNS).
 */
export type PreviewMode = { kind: 'path' } | { kind: 'host'; domain: string };

export interface Target {
  token: string;
  /** The path to request inside the sandbox; undefined when a path-style URL lacks its slash. */
  path: string | undefined;
  /** The path prefix the preview is served under (`/previews/<token>`; empty for host-style). */
  prefix: string;
}

/** Preview tokens: 160 random bits, lowercase hex (host names are case-insensitive). */
export const PREVIEW_TOKEN = /^[0-9a-f]{40}$/;

/**
 * Cookies a path-style preview sets are renamed with this prefix (and their
 * Path put under the preview's): on the way in, only cookies that carry it are
 * forwarded, without it. Scripts cannot see cookies in an opaque origin, so
 * the renaming is invisible to the app.
 */
export const PREVIEW_COOKIE_PREFIX = '__ahp_';

/**
 * What a path-style page may do in its opaque origin: run scripts, submit
 * forms, open windows (which leave the sandbox: they are other sites, or
 * previews that get this policy again), show dialogs, download.
 */
export const PATH_PREVIEW_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads allow-pointer-lock allow-presentation';

/** Which preview a request is for, or undefined (then it gets 404 and nothing is contacted). */
export function previewTarget(url: string, host: string | undefined, mode: PreviewMode): Target | undefined {
  if (mode.kind === 'host') {
    if (!host) return undefined;
    const name = host.toLowerCase().replace(/:\d+$/, '');
    if (!name.endsWith(`.${mode.domain}`)) return undefined;
    const token = name.slice(0, -(mode.domain.length + 1));
    return PREVIEW_TOKEN.test(token) ? { token, path: url.startsWith('/') ? url : `/${url}`, prefix: '' } : undefined;
  }
  const m = /^\/previews\/([^/?#]+)(\/[^]*)?$/.exec(url);
  if (!m || !PREVIEW_TOKEN.test(m[1]!)) return undefined;
  return { token: m[1]!, path: m[2], prefix: `/previews/${m[1]!}` };
}

const AGENTHOST_KEY = /sk-ah-/i;

/** Whether a header value carries an agenthost API key or another of the server's secrets (also inside Basic credentials). */
export function carriesCredential(value: string, secrets: readonly string[]): boolean {
  const found = (v: string) => AGENTHOST_KEY.test(v) || secrets.some((s) => s.length > 0 && v.includes(s));
  if (found(value)) return true;
  const basic = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
  return basic ? found(Buffer.from(basic[1]!, 'base64').toString('latin1')) : false;
}

/**
 * Request headers on their way into the sandbox: its own Host, and no
 * agenthost credential: `x-api-key` and `proxy-authorization` never pass,
 * nor any header or cookie that carries an agenthost key or secret (an
 * app's own `authorization` passes). Path-style previews get back only the
 * cookies they set; host-style ones get what the browser sends their origin.
 */
export function requestHeaders(headers: IncomingHttpHeaders, o: { port: number; target: Target; mode: PreviewMode; secrets: readonly string[] }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'x-api-key' || name === 'proxy-authorization' || name === 'cookie') continue;
    if ((Array.isArray(value) ? value : [value]).some((v) => carriesCredential(v, o.secrets))) continue;
    out[name] = value;
  }
  const cookie = headers.cookie === undefined ? undefined : forwardedCookies(headers.cookie, o.mode, o.secrets);
  if (cookie) out.cookie = cookie;
  out.host = `127.0.0.1:${o.port}`;
  if (headers.host !== undefined) out['x-forwarded-host'] = headers.host;
  if (o.target.prefix) out['x-forwarded-prefix'] = o.target.prefix;
  return out;
}

function forwardedCookies(header: string, mode: PreviewMode, secrets: readonly string[]): string | undefined {
  const kept: string[] = [];
  for (const pair of header.split(';')) {
    const trimmed = pair.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0 || carriesCredential(trimmed, secrets)) continue;
    const name = trimmed.slice(0, eq);
    if (mode.kind === 'host') kept.push(trimmed);
    else if (name.startsWith(PREVIEW_COOKIE_PREFIX) && name.length > PREVIEW_COOKIE_PREFIX.length) kept.push(trimmed.slice(PREVIEW_COOKIE_PREFIX.length));
  }
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/**
 * A Set-Cookie of the sandbox as the browser gets it: never with a Domain
 * (a cookie is its preview's host's only); for path-style previews, renamed
 * with PREVIEW_COOKIE_PREFIX and with its Path under the preview's prefix, so
 * the browser sends it to that preview alone (cookies ignore ports: without
 * this it would reach every preview and the API's host too). Undefined for a
 * cookie without a name.
 */
export function rewriteSetCookie(value: string, target: Target, mode: PreviewMode): string | undefined {
  const [pair = '', ...attributes] = value.split(';');
  const eq = pair.indexOf('=');
  const name = eq === -1 ? '' : pair.slice(0, eq).trim();
  if (!name) return undefined;
  const kept: string[] = [];
  for (const attribute of attributes) {
    const a = attribute.trim();
    const key = a.split('=')[0]!.trim().toLowerCase();
    if (key === 'domain' || (mode.kind === 'path' && key === 'path')) continue;
    if (a) kept.push(a);
  }
  if (mode.kind === 'host') return [`${name}=${pair.slice(eq + 1).trim()}`, ...kept].join('; ');
  const path = attributes.map((a) => /^\s*path\s*=\s*(\S*)\s*$/i.exec(a)?.[1]).findLast((p) => p !== undefined);
  // Without a (valid) Path the browser takes the request's directory, which is under the prefix already.
  const scoped = path?.startsWith('/') ? [`Path=${target.prefix}${path}`] : [];
  return [`${PREVIEW_COOKIE_PREFIX}${name}=${pair.slice(eq + 1).trim()}`, ...kept, ...scoped].join('; ');
}

/**
 * Response headers on their way to the browser: cookies rewritten (see
 * rewriteSetCookie); no Clear-Site-Data (it reaches the whole site's
 * cookies); for path-style previews, the opaque-origin CSP (on top of any
 * the app sends), redirects to absolute paths kept under the prefix, and
 * CORS for the opaque origin (`Origin: null`: the page's own fetches and
 * module scripts are cross-origin requests), without credentials.
 */
export function responseHeaders(headers: IncomingHttpHeaders, o: { target: Target; mode: PreviewMode; requestOrigin: string | undefined }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers };
  delete out['clear-site-data'];
  if (headers['set-cookie']) {
    const cookies = headers['set-cookie'].map((c) => rewriteSetCookie(c, o.target, o.mode)).filter((c): c is string => c !== undefined);
    if (cookies.length > 0) out['set-cookie'] = cookies;
    else delete out['set-cookie'];
  }
  if (o.mode.kind === 'host') return out;
  const csp: string | string[] | undefined = headers['content-security-policy'];
  // Every policy sent applies, so the app's own cannot loosen this one.
  (out as Record<string, OutgoingHttpHeader>)['content-security-policy'] = [...(csp === undefined ? [] : Array.isArray(csp) ? csp : [csp]), PATH_PREVIEW_CSP];
  const location = headers.location;
  if (typeof location === 'string' && location.startsWith('/') && !location.startsWith('//')) out.location = `${o.target.prefix}${location}`;
  if (o.requestOrigin === 'null' && headers['access-control-allow-origin'] === undefined) {
    out['access-control-allow-origin'] = 'null';
    delete out['access-control-allow-credentials'];
    out.vary = headers.vary ? `${headers.vary}, Origin` : 'Origin';
  }
  return out;
}

/**
 * The answer to a CORS preflight from a path-style page's opaque origin,
 * given by the proxy itself (the app expects same-origin requests and would
 * not answer it); undefined for any other request.
 */
export function opaqueOriginPreflight(method: string | undefined, headers: IncomingHttpHeaders, mode: PreviewMode): OutgoingHttpHeaders | undefined {
  if (mode.kind !== 'path' || method !== 'OPTIONS' || headers.origin !== 'null') return undefined;
  const requested = headers['access-control-request-method'];
  if (typeof requested !== 'string') return undefined;
  const allowHeaders = headers['access-control-request-headers'];
  return {
    'access-control-allow-origin': 'null',
    'access-control-allow-methods': requested,
    ...(typeof allowHeaders === 'string' ? { 'access-control-allow-headers': allowHeaders } : {}),
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}
