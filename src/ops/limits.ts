/**
 * Pure limiters (no I/O, clock passed in): a token bucket per key for
 * request rates, and a counter of open connections per key.
 */

/**
 * Token buckets, one per key: `ratePerS` tokens a second refill up to
 * `burst`; a request takes one. Keys are API key ids, so the map is bounded
 * by the keys that exist; buckets that have refilled are dropped on sweeps.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private lastSweepMs = 0;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `key`: 0 when the request may go, else seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.burst, atMs: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.atMs) / 1000) * this.ratePerS);
    b.atMs = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.ratePerS;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < 60_000) return;
    this.lastSweepMs = now;
    const full = (this.burst / this.ratePerS) * 1000;
    for (const [key, b] of this.buckets) if (now - b.atMs > full) this.buckets.delete(key);
  }
}

/** Open connections per key, at most `max` each. */
export class ConnectionLimiter {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** A release function (idempotent) when a connection may open; null when the key is at its limit. */
  acquire(key: string): (() => void) | null {
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return null;
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
