import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures in the Standard Webhooks scheme, so its libraries verify them:
 * the secret is `whsec_<base64 key>`; the signature header is
 * `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`.
 */

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export function signWebhook(secret: string, id: string, timestampS: number, body: string): string {
  return `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/** Whether any `v1,` signature in a (space-separated) `webhook-signature` header matches. */
export function verifyWebhook(secret: string, id: string, timestampS: number, body: string, header: string): boolean {
  const expected = Buffer.from(signWebhook(secret, id, timestampS, body));
  return header.split(' ').some((candidate) => {
    const presented = Buffer.from(candidate);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  });
}
