/**
 * Runs async operations one at a time per key (a session id): each starts
 * after every earlier one for its key has settled, whether it resolved or
 * rejected. Keys with nothing queued hold no memory.
 */
export class SerialQueue {
  private readonly chains = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }
}
