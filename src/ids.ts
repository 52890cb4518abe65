import { randomBytes } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * Base58 id with the API's prefixes (`agent_`, `env_`, `sesn_`, `sevt_`, ...).
 * The leading time component keeps ids roughly sortable by creation, which
 * makes them pleasant to read in logs; uniqueness comes from 16 random bytes.
 */
export function newId(prefix: IdPrefix): string {
  const time = Date.now().toString(36).padStart(9, '0');
  const bytes = randomBytes(16);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return `${prefix}_${time}${out}`;
}

export type IdPrefix = 'agent' | 'env' | 'sesn' | 'sevt' | 'wrkspc' | 'key' | 'file' | 'req' | 'trg' | 'sesrsc' | 'whep' | 'whdel' | 'prv' | 'msg';

/** A random secret, URL-safe. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
