import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { parseSchedule, shortestInterval } from './schedule.js';

const next = (schedule: string, after: string, timezone?: string): string | undefined =>
  parseSchedule(schedule, timezone).nextAfter(new Date(after))?.toISOString();

function rejects400(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

describe('cron schedules', () => {
  it('five fields: the next whole minute that matches, strictly after the reference', () => {
    assert.equal(next('*/5 * * * *', '2025-01-01T00:00:00.000Z'), '2025-01-01T00:05:00.000Z');
    assert.equal(next('*/5 * * * *', '2025-01-01T00:04:59.999Z'), '2025-01-01T00:05:00.000Z');
    assert.equal(next('*/5 * * * *', '2025-01-01T00:05:00.000Z'), '2025-01-01T00:10:00.000Z');
    assert.equal(next('0 9 * * 1-5', '2025-01-03T10:00:00.000Z'), '2025-01-06T09:00:00.000Z', 'Friday after nine: Monday');
    assert.equal(next('@hourly', '2025-01-01T00:30:00.000Z'), '2025-01-01T01:00:00.000Z');
  });

  it('six fields: seconds first', () => {
    assert.equal(next('* * * * * *', '2025-01-01T00:00:00.400Z'), '2025-01-01T00:00:01.000Z');
    assert.equal(next('* * * * * *', '2025-01-01T00:00:01.000Z'), '2025-01-01T00:00:02.000Z');
    assert.equal(next('30 * * * * *', '2025-01-01T00:00:31.000Z'), '2025-01-01T00:01:30.000Z');
  });

  it('runs in the given time zone, across daylight saving changes', () => {
    assert.equal(next('0 9 * * *', '2025-01-01T00:00:00.000Z', 'Europe/Berlin'), '2025-01-01T08:00:00.000Z', 'CET is UTC+1');
    assert.equal(next('0 9 * * *', '2025-07-01T00:00:00.000Z', 'Europe/Berlin'), '2025-07-01T07:00:00.000Z', 'CEST is UTC+2');
    assert.equal(next('0 9 * * *', '2025-01-01T00:00:00.000Z', 'America/New_York'), '2025-01-01T14:00:00.000Z');
    assert.equal(next('0 9 * * *', '2025-01-01T00:00:00.000Z'), '2025-01-01T09:00:00.000Z', 'UTC by default');
  });

  it('invalid schedules and time zones are 400s that name the field', () => {
    rejects400(() => parseSchedule('every five minutes'), /^schedule: "every five minutes" is not a valid cron expression/);
    rejects400(() => parseSchedule('61 * * * *'), /^schedule: .*minute/);
    rejects400(() => parseSchedule('* * * * * * *'), /^schedule: /);
    rejects400(() => parseSchedule('*/0 * * * *'), /^schedule: /);
    rejects400(() => parseSchedule('@reboot'), /^schedule: /);
    rejects400(() => parseSchedule('* * * * *', 'Mars/Olympus_Mons'), /^timezone: "Mars\/Olympus_Mons" is not an IANA time zone/);
  });

  it('a schedule that matches no date has no next fire', () => {
    assert.equal(next('0 0 30 2 *', '2025-01-01T00:00:00.000Z'), undefined);
  });

  it('the shortest interval between fires is found among the next runs', () => {
    const gap = (schedule: string, from = '2025-01-01T00:00:45.000Z', timezone?: string) => shortestInterval(parseSchedule(schedule, timezone), new Date(from));
    assert.equal(gap('* * * * * *'), 1_000);
    assert.equal(gap('*/30 * * * * *'), 30_000);
    assert.equal(gap('0,59 * * * * *'), 1_000, 'second 59 then second 0 of the next minute');
    assert.equal(gap('0,30 * 3 * * *'), 30_000, 'only during one hour of the day');
    assert.equal(gap('* * * * *'), 60_000);
    assert.equal(gap('15 * * * * *'), 60_000);
    assert.equal(gap('0 9 * * 1-5'), 24 * 3600_000);
    assert.equal(gap('30 1 * * *', '2025-10-25T00:00:00.000Z', 'Europe/Berlin'), 24 * 3600_000, 'days around the fall-back change: the 25-hour one is not the shortest');
    assert.equal(gap('0 0 30 2 *'), null, 'never fires');
  });
});

