import { lookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { forbiddenAddress } from '../egress/policy.js';

export interface SendResult {
  /** The response status, or null when no response came. */
  status: number | null;
  /**
   * Why it failed, when it did, in words the workspace may read (it is shown
   * as the delivery's `last_error`): never an address a name resolved to.
   */
  error: string | null;
  /** What the server logs beside `error`: the addresses and the underlying error. */
  detail?: string;
  /** True when retrying cannot help (the name resolves nowhere webhooks may go). */
  permanent?: boolean;
}

/** A refusal that names the host the workspace gave but not what it resolved to. */
class RefusedTarget extends Error {
  constructor(
    readonly publicMessage: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * Resolves `host` and refuses loopback, private, link-local and other
 * non-public addresses unless `allowPrivate`. The address checked is the
 * address connected to (it is pinned), so a name that re-resolves elsewhere
 * between check and connect gains nothing. A name that does not exist and a
 * name that resolves to a refused address get one message, so deliveries
 * cannot be used to map the server's internal names.
 */
async function pinnedAddress(host: string, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const bare = host.replace(/^\[|\]$/g, '');
  const refused = `refused: ${host} does not resolve to an address webhooks may reach (public addresses only)`;
  let found: Array<{ address: string; family: number }>;
  try {
    found = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await lookup(bare, { all: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    // A temporary resolver failure is worth a retry; a name that does not exist is not.
    if (code === 'EAI_AGAIN') throw new Error(`name resolution of ${host} failed temporarily`);
    throw new RefusedTarget(refused, (error as Error).message);
  }
  if (found.length === 0) throw new RefusedTarget(refused, `${host} resolves to no address`);
  if (!allowPrivate) {
    for (const a of found) {
      const why = forbiddenAddress(a.address);
      if (why) throw new RefusedTarget(refused, `${host} resolves to ${a.address} (${why})`);
    }
  }
  return found[0]!;
}

/** Connection errors in words that name no address. */
const CONNECT_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed while sending',
  HPE_INVALID_CONSTANT: 'the response was not HTTP',
};

function publicError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  if (CONNECT_ERRORS[code]) return CONNECT_ERRORS[code]!;
  if (/CERT|SSL|TLS/i.test(code)) return `TLS handshake failed (${code})`;
  if (code.startsWith('HPE_')) return `invalid HTTP response (${code})`;
  return code ? `connection failed (${code})` : 'connection failed';
}

/** POSTs `body` to `url` with `headers`; resolves with the status or the failure, never rejects. */
export async function sendWebhook(url: string, body: string, headers: Record<string, string>, o: { allowPrivate: boolean; timeoutMs: number }): Promise<SendResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { status: null, error: 'invalid URL', permanent: true };
  }
  let pinned: { address: string; family: number };
  try {
    pinned = await pinnedAddress(target.hostname, o.allowPrivate);
  } catch (error) {
    if (error instanceof RefusedTarget) return { status: null, error: error.publicMessage, detail: error.detail, permanent: true };
    return { status: null, error: (error as Error).message };
  }
  const pinnedLookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'agenthost-webhooks' },
    lookup: pinnedLookup,
    timeout: o.timeoutMs,
  };
  const timedOut = `no response within ${o.timeoutMs} ms`;
  return new Promise<SendResult>((resolve) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? null, error: null }));
      res.once('error', (error) => resolve({ status: res.statusCode ?? null, error: 'the response broke off', detail: error.message }));
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error(timedOut), { code: 'AGENTHOST_TIMEOUT' })));
    req.once('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: null, error: error.code === 'AGENTHOST_TIMEOUT' ? timedOut : publicError(error), detail: `${error.message} (${pinned.address})` }),
    );
    req.end(body);
  });
}
