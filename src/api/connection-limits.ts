import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';

/** What one client may hold of the API's listener, and for how long it may keep it waiting. */
export interface ConnectionLimits {
  /** Open connections at once, every address together; kept below the process's descriptor limit. */
  max: number;
  /** Open connections from one address (an IPv6 address counts as its /64); 0 is no cap. */
  perAddress: number;
  /** A request's headers must be complete this long after the server began waiting for them (connection, or first byte after an answer). */
  headersTimeoutMs: number;
  /** A request body must keep up this many bytes a second on average... */
  bodyMinBytesPerS: number;
  /** ...falling behind by at most this long (its first bytes included); time the server is not reading is free. */
  bodyTimeoutMs: number;
}

/** Descriptors kept for everything but API connections: the store, sandboxes' pipes, the gateway, files. */
export const RESERVED_DESCRIPTORS = 256;

/** The default total when none is configured and the descriptor limit allows more. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** The soft "Max open files" of `/proc/self/limits`; undefined when unknown or unlimited. */
export function parseDescriptorLimit(limits: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  const n = Number(soft);
  return soft !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** This process's soft descriptor limit (`ulimit -n`), when the platform says. */
export function descriptorLimit(): number | undefined {
  try {
    return parseDescriptorLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The total connection cap: the configured one, or three quarters of the
 * descriptor limit (at most DEFAULT_MAX_CONNECTIONS); never so high that
 * connections alone could leave the server without descriptors for its
 * store, sandboxes and files. `lowered` says a configured value did not fit.
 */
export function connectionCap(configured: number | undefined, fdLimit: number | undefined): { max: number; lowered: boolean } {
  const ceiling = fdLimit === undefined ? Number.POSITIVE_INFINITY : Math.max(16, fdLimit - RESERVED_DESCRIPTORS);
  if (configured !== undefined) return configured > ceiling ? { max: ceiling, lowered: true } : { max: configured, lowered: false };
  const preferred = fdLimit === undefined ? DEFAULT_MAX_CONNECTIONS : Math.min(DEFAULT_MAX_CONNECTIONS, Math.floor((fdLimit * 3) / 4));
  return { max: Math.min(preferred, ceiling), lowered: false };
}

/**
 * The key connections are counted under: the IPv4 address (IPv4-mapped IPv6
 * included), or the /64 of an IPv6 address, since one host commonly holds a
 * whole /64.
 */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  if (remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  if (!isIPv6(remote)) return remote;
  const [head = '', tail = ''] = remote.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = remote.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
