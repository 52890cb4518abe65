import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { newId } from '../ids.js';
import { silentLogger } from '../logger.js';
import { session, workspace } from '../store/contract/fixtures.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { TriggerRecord } from '../store/store.js';
import type { Clock } from './clock.js';
import { TriggerScheduler } from './scheduler.js';

/** A clock that moves only when told; timers run when it passes them. */
class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /** Milliseconds until the next live timer, if any. */
  nextTimerIn(): number | undefined {
    const live = this.timers.filter((x) => x.live).map((x) => x.at - this.t);
    return live.length ? Math.min(...live) : undefined;
  }

  /** Runs the earliest live timer due by `until`, moving time to it; false when none is. */
  runNext(until: number): boolean {
    const due = this.timers.filter((x) => x.live && x.at <= until).sort((a, b) => a.at - b.at)[0];
    if (!due) return false;
    due.live = false;
    this.t = Math.max(this.t, due.at);
    due.fn();
    return true;
  }

  set(t: number): void {
    this.t = t;
  }
}

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('TriggerScheduler', () => {
  let store: SqliteStore;
  let clock: FakeClock;
  let fired: { id: string; at: string }[];
  let schedulers: TriggerScheduler[];
  let failNext = false;

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    clock = new FakeClock(T0);
    fired = [];
    schedulers = [];
    failNext = false;
  });

  afterEach(async () => {
    for (const s of schedulers) await s.stop();
    await store.close();
  });

  function scheduler(maxSleepMs = 60_000): TriggerScheduler {
    const s = new TriggerScheduler({
      store,
      clock,
      log: silentLogger(),
      maxSleepMs,
      fire: async (trigger, at) => {
        if (failNext) {
          failNext = false;
          throw new Error('the session refused it');
        }
        fired.push({ id: trigger.id, at: at.toISOString() });
      },
    });
    schedulers.push(s);
    return s;
  }

  /** Moves the clock to `T0 + ms`, running every timer on the way and waiting for the passes they start. */
  async function advanceTo(ms: number): Promise<void> {
    while (clock.runNext(T0 + ms)) await Promise.all(schedulers.map((s) => s.idle()));
    clock.set(Math.max(clock.now(), T0 + ms));
  }

  async function cronTrigger(schedule: string, nextFireAt: number): Promise<TriggerRecord> {
    const ws = await workspace(store);
    const { session: s } = await session(store, ws);
    return store.createTrigger({
      id: newId('trg'),
      workspaceId: ws,
      sessionId: s.id,
      kind: 'cron',
      body: { schedule, timezone: 'UTC', message: 'tick' },
      secret: null,
      createdAt: iso(T0),
      updatedAt: iso(T0),
      lastFiredAt: null,
      nextFireAt: iso(nextFireAt),
      disabledAt: null,
      disabledReason: null,
    });
  }

  it('sleeps until the soonest due trigger, fires it, records the fire and the next time', async () => {
    const minutely = await cronTrigger('* * * * *', T0 + 60_000);
    const s = scheduler();
    await s.start();
    assert.equal(fired.length, 0);
    assert.equal(clock.nextTimerIn(), 60_000, 'one timer, for the soonest fire');

    await advanceTo(60_000);
    assert.deepEqual(fired, [{ id: minutely.id, at: iso(T0 + 60_000) }]);
    const after = await store.findTriggerById(minutely.id);
    assert.equal(after?.lastFiredAt, iso(T0 + 60_000));
    assert.equal(after?.nextFireAt, iso(T0 + 120_000));

    await advanceTo(180_000);
    assert.deepEqual(fired.map((f) => f.at), [iso(T0 + 60_000), iso(T0 + 120_000), iso(T0 + 180_000)]);
  });

  it('with nothing scheduled it looks again after maxSleepMs; a poke arms it for a new trigger', async () => {
    const s = scheduler(30_000);
    await s.start();
    assert.equal(clock.nextTimerIn(), 30_000);
    await cronTrigger('*/5 * * * * *', T0 + 5_000);
    await s.poke();
    assert.equal(clock.nextTimerIn(), 5_000);
    await advanceTo(10_000);
    assert.equal(fired.length, 2);
  });

  it('fires missed times once on start, not once per missed time, then keeps to the schedule', async () => {
    // Due ten minutes ago: the server was down for ten fires.
    const missed = await cronTrigger('* * * * *', T0 - 10 * 60_000);
    clock.set(T0 + 15_000);
    const s = scheduler();
    await s.start();
    assert.deepEqual(fired, [{ id: missed.id, at: iso(T0 + 15_000) }]);
    assert.equal((await store.findTriggerById(missed.id))?.nextFireAt, iso(T0 + 60_000), 'the next time after now');
    await advanceTo(60_000);
    assert.equal(fired.length, 2);
  });

  it('two schedulers on one store fire each due time once', async () => {
    const t = await cronTrigger('*/10 * * * * *', T0 + 10_000);
    const a = scheduler();
    const b = scheduler();
    await Promise.all([a.start(), b.start()]);
    await advanceTo(60_000);
    assert.deepEqual(
      fired.map((f) => f.at),
      [1, 2, 3, 4, 5, 6].map((i) => iso(T0 + i * 10_000)),
    );
    assert.ok(fired.every((f) => f.id === t.id));
  });

  it('a failing fire is not retried and does not stop later fires', async () => {
    await cronTrigger('* * * * *', T0 + 60_000);
    const s = scheduler();
    await s.start();
    failNext = true;
    await advanceTo(60_000);
    assert.equal(fired.length, 0);
    await advanceTo(120_000);
    assert.deepEqual(fired.map((f) => f.at), [iso(T0 + 120_000)]);
  });

  it('disabled and deleted triggers do not fire', async () => {
    const disabled = await cronTrigger('* * * * *', T0 + 60_000);
    const deleted = await cronTrigger('* * * * *', T0 + 60_000);
    const kept = await cronTrigger('*/2 * * * *', T0 + 120_000);
    const s = scheduler();
    await s.start();
    await store.disableTrigger(disabled.id, iso(T0), 'session archived');
    await store.deleteTrigger(deleted.workspaceId, deleted.id);
    await advanceTo(120_000);
    assert.deepEqual(fired, [{ id: kept.id, at: iso(T0 + 120_000) }]);
  });

  it('a schedule that no longer parses disables its trigger instead of staying due', async () => {
    const broken = await cronTrigger('not a schedule', T0 + 1_000);
    const s = scheduler();
    await s.start();
    await advanceTo(1_000);
    assert.equal(fired.length, 0);
    const after = await store.findTriggerById(broken.id);
    assert.ok(after?.disabledAt);
    assert.match(after.disabledReason ?? '', /schedule no longer valid/);
    assert.equal(clock.nextTimerIn(), 60_000, 'back to the long sleep');
  });

  it('stop cancels the timer', async () => {
    await cronTrigger('* * * * *', T0 + 60_000);
    const s = scheduler();
    await s.start();
    await s.stop();
    assert.equal(clock.nextTimerIn(), undefined);
    await advanceTo(120_000);
    assert.equal(fired.length, 0);
  });
});
