import type { Logger } from '../logger.js';
import type { Store, TriggerRecord } from '../store/store.js';
import { systemClock, type Clock } from './clock.js';
import { parseSchedule } from './schedule.js';

export interface TriggerSchedulerOptions {
  store: Store;
  /**
   * Sends one fire of `trigger` (already claimed in the store). A rejection
   * is logged; that fire is not retried.
   */
  fire: (trigger: TriggerRecord, at: Date) => Promise<void>;
  log: Logger;
  clock?: Clock;
  /**
   * Longest sleep between looks at the store, even with nothing due: picks
   * up triggers another server created in a shared database, and bounds the
   * effect of a wall-clock jump. Default one minute.
   */
  maxSleepMs?: number;
}

/** Due triggers handled per store read. */
const BATCH = 100;

/**
 * Fires cron triggers. The store is the schedule: one timer waits for the
 * soonest `nextFireAt` of any enabled trigger and is re-armed after every
 * pass and on `poke()` (a trigger was created or deleted).
 *
 * A pass claims each due trigger (`claimTriggerFire`) with its next time
 * computed from *now*, then fires it. So a trigger that missed several fires
 * while no server ran fires once when one starts, not once per missed time,
 * and of several servers on one database only one fires each due time.
 * Claiming before sending makes a fire at-most-once: a crash in between
 * loses that fire rather than sending it twice.
 */
export class TriggerScheduler {
  private readonly clock: Clock;
  private readonly maxSleepMs: number;
  private timer: { cancel(): void } | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: TriggerSchedulerOptions) {
    this.clock = o.clock ?? systemClock;
    this.maxSleepMs = o.maxSleepMs ?? 60_000;
  }

  /** Fires whatever is due now (missed while no server ran), then keeps the timer armed. */
  start(): Promise<void> {
    this.stopped = false;
    return this.poke();
  }

  /**
   * Runs a pass now and re-arms the timer. Calls during a pass run one more
   * pass after it, never two at once. Resolves when the passes are done.
   */
  poke(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
        await this.arm();
      } catch (error) {
        // The store may be briefly unreachable: look again after a while.
        this.o.log.warn({ err: error }, 'trigger scheduler pass failed');
        this.armIn(Math.min(this.maxSleepMs, 5_000));
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Resolves when no pass is running (a pass the timer started included). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Cancels the timer and waits for a running pass. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const now = new Date(this.clock.now());
      const due = await this.o.store.listDueTriggers(now.toISOString(), BATCH);
      for (const trigger of due) {
        if (this.stopped) return;
        await this.fireOne(trigger, now);
      }
      if (due.length < BATCH) return;
    }
  }

  private async fireOne(trigger: TriggerRecord, now: Date): Promise<void> {
    const log = this.o.log.child({ triggerId: trigger.id, sessionId: trigger.sessionId });
    let next: Date | null;
    try {
      const { schedule, timezone } = trigger.body as { schedule: string; timezone: string };
      next = parseSchedule(schedule, timezone).nextAfter(now);
    } catch (error) {
      // Validated at creation; a schedule that no longer parses (say, a time
      // zone the runtime dropped) would otherwise stay due forever.
      log.warn({ err: error }, 'trigger schedule no longer valid; disabling it');
      await this.o.store.disableTrigger(trigger.id, now.toISOString(), `schedule no longer valid: ${(error as Error).message}`);
      return;
    }
    const claimed = await this.o.store.claimTriggerFire(trigger.id, trigger.nextFireAt!, now.toISOString(), next?.toISOString() ?? null);
    if (!claimed) return;
    try {
      await this.o.fire(trigger, now);
    } catch (error) {
      log.warn({ err: error }, 'trigger fire failed');
    }
  }

  private async arm(): Promise<void> {
    const next = await this.o.store.nextTriggerFireAt();
    const wait = next === null ? this.maxSleepMs : Date.parse(next) - this.clock.now();
    this.armIn(Math.max(0, Math.min(wait, this.maxSleepMs)));
  }

  private armIn(ms: number): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.stopped) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.poke();
    }, ms);
  }
}
