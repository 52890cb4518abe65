import { isIP } from 'node:net';
import { forbiddenAddress } from '../egress/policy.js';
import { notSingleLine } from '../text-rules.js';

/** Longest webhook endpoint URL accepted, in characters. */
export const WEBHOOK_URL_MAX = 2048;

/**
 * Why a webhook endpoint URL is refused when it is registered, or null when
 * it is accepted. Refused here is what every delivery would be refused:
 * anything but http(s), credentials in the URL, and, unless `allowPrivate`,
 * `localhost` names and IP literals that are loopback, private, link-local
 * or otherwise not public. A name is judged at each delivery instead, by the
 * address it resolves to then (see `webhook-sender.ts`).
 */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  if (raw.length > WEBHOOK_URL_MAX) return `longer than ${WEBHOOK_URL_MAX} characters`;
  const line = notSingleLine(raw);
  if (line) return line;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username || url.password) return 'credentials in the URL are not accepted; verify deliveries by their signature';
  if (allowPrivate) return null;
  // The URL parser has already normalized IPv4 forms such as 2130706433 or 0x7f.1.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is a loopback name; webhooks go to public addresses only`;
  if (isIP(host)) {
    const why = forbiddenAddress(host);
    if (why) return `${host} is not a public address (${why}); webhooks go to public addresses only`;
  }
  return null;
}
