import type { Logger } from '../logger.js';
import { addCost, type CostMeter } from '../ops/cost.js';
import type { Metrics } from '../ops/metrics.js';
import type { EventLog, SessionRef } from './event-log.js';

export interface SandboxTimeOptions {
  events: EventLog;
  log: Logger;
  metrics: Metrics;
  /** Prices sandbox time; the session body keeps its running cost. Without it, only the metric counts. */
  meter: CostMeter | undefined;
}

/**
 * Counts each live sandbox's time: into the sandbox-time metric and, priced,
 * into its session's cost. A live session's body also carries the clock
 * (since when, at what price), so it shows its sandbox cost up to now.
 */
export class SandboxTime {
  /** Live sandboxes: their session, provider and the instant up to which their time was counted. */
  private readonly clocks = new Map<string, { ref: SessionRef; provider: string; sinceMs: number }>();

  constructor(private readonly o: SandboxTimeOptions) {}

  /** The session's sandbox runs from `sinceMs` on. */
  async started(ref: SessionRef, provider: string, sinceMs: number): Promise<void> {
    this.clocks.set(ref.id, { ref, provider, sinceMs });
    const meter = this.o.meter;
    if (!meter) return;
    const clock = { since: new Date(sinceMs).toISOString(), usd_per_hour: meter.sandboxUsdPerHour(provider) };
    await this.o.events.update(ref, (s) => ({ body: addCost(s.body, {}, clock) }));
  }

  /** Counts the time since it was last counted, when at least `minSeconds` have passed (the reaper's sweeps). */
  accrue(sessionId: string, minSeconds: number): Promise<void> {
    return this.count(sessionId, false, minSeconds);
  }

  /** Counts the time up to now: the sandbox goes. */
  stopped(sessionId: string): Promise<void> {
    return this.count(sessionId, true, 0);
  }

  private async count(sessionId: string, final: boolean, minSeconds: number): Promise<void> {
    const clock = this.clocks.get(sessionId);
    if (!clock) return;
    const now = Date.now();
    const seconds = Math.max(0, now - clock.sinceMs) / 1000;
    if (!final && seconds < minSeconds) return;
    if (final) this.clocks.delete(sessionId);
    clock.sinceMs = now;
    this.o.metrics.sandboxTime({ provider: clock.provider, seconds });
    const meter = this.o.meter;
    if (!meter) return;
    try {
      const usd = await meter.sandbox(clock.ref, clock.provider, seconds);
      const next = final ? null : { since: new Date(now).toISOString(), usd_per_hour: meter.sandboxUsdPerHour(clock.provider) };
      await this.o.events.update(clock.ref, (s) => ({ body: addCost(s.body, { sandbox_usd: usd }, next) }));
    } catch (error) {
      this.o.log.warn({ err: error, sessionId }, 'could not record sandbox time');
    }
  }
}
