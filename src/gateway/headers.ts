/**
 * Header rules of the model gateway, as pure functions: which credential the
 * sandbox presented, what goes upstream, what comes back.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** The real credential the gateway adds; exactly one kind is sent. */
export type UpstreamCredential = { kind: 'api-key'; value: string } | { kind: 'bearer'; value: string } | { kind: 'none' };

/** Connection-level headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers that carry the sandbox's credential (or anything like one); never forwarded. */
const CREDENTIALS = new Set(['x-api-key', 'authorization', 'cookie']);

/**
 * The token the sandbox presented: `x-api-key` (the CLI with
 * ANTHROPIC_API_KEY) or `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN).
 */
export function presentedToken(headers: IncomingHttpHeaders): string | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1]) return match[1];
  }
  return null;
}

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  const listed = new Set<string>();
  if (typeof value === 'string') for (const name of value.split(',')) listed.add(name.trim().toLowerCase());
  return listed;
}

/**
 * Headers for the upstream request: the client's, minus hop-by-hop and
 * credential headers, plus the real credential and the upstream's Host.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: { credential: UpstreamCredential; host: string; contentLength?: number; identityEncoding?: boolean },
): OutgoingHttpHeaders {
  const listed = connectionListed(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || CREDENTIALS.has(name) || listed.has(name) || name === 'host') continue;
    out[name] = value;
  }
  out.host = options.host;
  if (options.contentLength !== undefined) out['content-length'] = String(options.contentLength);
  // Usage is read from the bytes as they pass, so they must arrive uncompressed.
  if (options.identityEncoding) out['accept-encoding'] = 'identity';
  const { credential } = options;
  if (credential.kind === 'api-key') out['x-api-key'] = credential.value;
  else if (credential.kind === 'bearer') out.authorization = `Bearer ${credential.value}`;
  return out;
}

/**
 * Headers for the response to the sandbox: the upstream's, minus
 * hop-by-hop headers and any header whose value contains a secret (an
 * upstream never echoes the key, but a misbehaving proxy in front of it might).
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, secrets: readonly string[]): OutgoingHttpHeaders {
  const listed = connectionListed(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    const text = Array.isArray(value) ? value.join('\n') : String(value);
    if (secrets.some((secret) => secret.length > 0 && text.includes(secret))) continue;
    out[name] = value;
  }
  return out;
}
