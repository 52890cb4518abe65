import { createHash, timingSafeEqual } from 'node:crypto';
import { newSecret } from '../ids.js';

/**
 * Per-session gateway tokens. Only SHA-256 digests are kept. Lookups go by
 * digest, so the time a lookup takes depends on the digest of what was
 * presented, never on how much of a real token it shares; the final check
 * compares digests in constant time.
 */
export class SessionTokens {
  readonly #sessionByDigest = new Map<string, string>();
  readonly #digestBySession = new Map<string, Buffer>();

  /** Issues a fresh 32-byte token for a session. Throws if the session already has one. */
  issue(sessionId: string): string {
    if (this.#digestBySession.has(sessionId)) throw new Error(`session ${sessionId} already has a gateway token`);
    const token = newSecret(32);
    const digest = digestOf(token);
    this.#digestBySession.set(sessionId, digest);
    this.#sessionByDigest.set(digest.toString('hex'), sessionId);
    return token;
  }

  /** The session a token belongs to, or null. */
  resolve(token: string): string | null {
    const digest = digestOf(token);
    const sessionId = this.#sessionByDigest.get(digest.toString('hex'));
    if (sessionId === undefined) return null;
    const expected = this.#digestBySession.get(sessionId);
    return expected && timingSafeEqual(expected, digest) ? sessionId : null;
  }

  /** True when the token is this session's. */
  verify(sessionId: string, token: string): boolean {
    const expected = this.#digestBySession.get(sessionId);
    return expected !== undefined && timingSafeEqual(expected, digestOf(token));
  }

  has(sessionId: string): boolean {
    return this.#digestBySession.has(sessionId);
  }

  /** Forgets a session's token. Idempotent. */
  revoke(sessionId: string): void {
    const digest = this.#digestBySession.get(sessionId);
    if (!digest) return;
    this.#digestBySession.delete(sessionId);
    this.#sessionByDigest.delete(digest.toString('hex'));
  }
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
