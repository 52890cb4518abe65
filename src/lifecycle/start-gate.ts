/**
 * Bounds how many sandboxes and Claude Code processes start at once. On a
 * small host, eight CLI start-ups at once take four times as long each as
 * one: a burst of creations is better served one or two at a time, in order.
 *
 * Two priorities: sessions someone is waiting for go before warm-pool
 * refills, which only ever use a slot nobody asked for.
 */
export class StartGate {
  private active = 0;
  private readonly waiting: { urgent: Array<() => void>; background: Array<() => void> } = { urgent: [], background: [] };

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`start concurrency must be a positive integer, got ${limit}`);
  }

  /** Starts in progress now. */
  get running(): number {
    return this.active;
  }

  /** Starts waiting for a slot. */
  get queued(): number {
    return this.waiting.urgent.length + this.waiting.background.length;
  }

  /** Runs `fn` once a slot is free; the slot is released when it settles. */
  async run<T>(fn: () => Promise<T>, priority: 'urgent' | 'background' = 'urgent'): Promise<T> {
    await this.acquire(priority);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(priority: 'urgent' | 'background'): Promise<void> {
    if (this.active < this.limit && this.queued === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting[priority].push(resolve));
  }

  private release(): void {
    // The slot passes straight to the next waiter, so `active` stays as it is.
    const next = this.waiting.urgent.shift() ?? this.waiting.background.shift();
    if (next) next();
    else this.active--;
  }
}
