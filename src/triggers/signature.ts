import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode } from '../errors.js';

/**
 * Webhook signatures, in the scheme Stripe uses:
 *
 *   X-Agenthost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
 *
 * where the HMAC is over `<t>.<raw body>` keyed with the trigger's whole
 * secret string (UTF-8, `whsec_` prefix included). Several `v1=` entries may
 * be sent; one matching is enough. A signature whose `t` is more than
 * `TOLERANCE_S` from the server's clock is refused, which bounds how long a
 * replay record has to be kept.
 */

export const SIGNATURE_HEADER = 'x-agenthost-signature';

/** How far a signature's timestamp may be from now, either way. */
export const TOLERANCE_S = 300;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The 401 message of a signature that matches nothing (also what an unknown trigger id gets). */
export const SIGNATURE_MISMATCH = 'signature does not match the body';

/** The header value for `body` signed at `t` (unix seconds). */
export function signWebhook(secret: string, body: string | Buffer, t: number): string {
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

export interface VerifiedSignature {
  /** The signed timestamp, unix seconds. */
  t: number;
  /** The `v1` value that matched, lower-case hex: the delivery's identity for replay detection. */
  signature: string;
}

/**
 * Checks a signature header against the raw body. Throws a 401 AppError
 * saying what is wrong (absent, malformed, stale, no match); returns the
 * timestamp and the matching signature otherwise. Comparison is constant-time.
 */
export function verifyWebhook(secret: string, header: string | undefined, body: Buffer, nowMs: number): VerifiedSignature {
  if (!header) throw unauthorized(`missing ${SIGNATURE_HEADER} header`);
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1') candidates.push(value.toLowerCase());
  }
  if (t === undefined || candidates.length === 0) {
    throw unauthorized(`malformed ${SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex HMAC-SHA256>`);
  }
  if (Math.abs(nowMs / 1000 - t) > TOLERANCE_S) {
    throw unauthorized(`signature timestamp is more than ${TOLERANCE_S} seconds from the server's clock`);
  }
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  // Every candidate is compared, so timing says nothing about which matched.
  let match: string | undefined;
  for (const candidate of candidates) {
    if (!HEX_SHA256.test(candidate)) continue;
    if (timingSafeEqual(Buffer.from(candidate, 'hex'), expected)) match ??= candidate;
  }
  if (match === undefined) throw unauthorized(SIGNATURE_MISMATCH);
  return { t, signature: match };
}

function hmac(secret: string, t: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

const unauthorized = (message: string): AppError => new AppError(ErrorCode.authentication, message);
