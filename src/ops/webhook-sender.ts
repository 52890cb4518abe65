import { lookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { forbiddenAddress } from '../egress/policy.js';

export interface SendResult {
  /** The response status, or null when no response came. */
  status: number | null;
  /** Why it failed, when it did (a refused address, a timeout, a connection error). */
  error: string | null;
}

/**
 * Resolves `host` and refuses loopback, private, link-local and other
 * non-public addresses unless `allowPrivate`. The address checked is the
 * address connected to (it is pinned), so a name that re-resolves elsewhere
 * between check and connect gains nothing.
 */
async function pinnedAddress(host: string, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const bare = host.replace(/^\[|\]$/g, '');
  const found = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await lookup(bare, { all: true });
  if (found.length === 0) throw new Error(`${host} does not resolve`);
  if (!allowPrivate) {
    for (const a of found) {
      const why = forbiddenAddress(a.address);
      if (why) throw new Error(`${host} resolves to ${a.address} (${why}); webhooks go to public addresses only`);
    }
  }
  return found[0]!;
}

/** POSTs `body` to `url` with `headers`; resolves with the status or the failure, never rejects. */
export async function sendWebhook(url: string, body: string, headers: Record<string, string>, o: { allowPrivate: boolean; timeoutMs: number }): Promise<SendResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { status: null, error: `invalid URL ${url}` };
  }
  let pinned: { address: string; family: number };
  try {
    pinned = await pinnedAddress(target.hostname, o.allowPrivate);
  } catch (error) {
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
  return new Promise<SendResult>((resolve) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? null, error: null }));
      res.once('error', (error) => resolve({ status: res.statusCode ?? null, error: error.message }));
    });
    req.once('timeout', () => req.destroy(new Error(`no response within ${o.timeoutMs} ms`)));
    req.once('error', (error) => resolve({ status: null, error: error.message }));
    req.end(body);
  });
}
