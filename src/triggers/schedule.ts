import { Cron } from 'croner';
import { invalid } from '../errors.js';

/**
 * Cron schedules of triggers, evaluated with croner. Five fields
 * (`minute hour day-of-month month day-of-week`) or six with seconds first;
 * nicknames such as `@hourly` work too. Day-of-month and day-of-week combine
 * with OR, as in Vixie cron. Every time is computed in the trigger's IANA
 * time zone and returned as an instant.
 */

export const DEFAULT_TIMEZONE = 'UTC';

/** A parsed schedule. Creating one starts no timer: croner only evaluates it. */
export interface Schedule {
  schedule: string;
  timezone: string;
  /** The first fire strictly after `after`, or null when the schedule never fires again. */
  nextAfter(after: Date): Date | null;
}

/**
 * Parses `schedule` in `timezone`. Throws a 400 AppError naming the field
 * (`schedule: ...`, `timezone: ...`) when either is invalid.
 */
export function parseSchedule(schedule: string, timezone: string = DEFAULT_TIMEZONE): Schedule {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid(`timezone: ${JSON.stringify(timezone)} is not an IANA time zone such as "UTC" or "Europe/Berlin"`);
  }
  let cron: Cron;
  try {
    cron = new Cron(schedule.trim(), { timezone, mode: '5-or-6-parts' });
  } catch (error) {
    // croner prefixes its messages with the class that threw them.
    const reason = (error as Error).message.replace(/^Cron\w*:\s*/, '');
    throw invalid(`schedule: ${JSON.stringify(schedule)} is not a valid cron expression (${reason})`);
  }
  return { schedule, timezone, nextAfter: (after) => cron.nextRun(after) };
}

/**
 * The shortest time between consecutive fires among the schedule's next
 * `runs` fires after `from`, in ms; null when it fires fewer than twice.
 * Sixteen runs are enough: croner's fields are sets, so a schedule with two
 * seconds values shows its shortest gap inside its first fired minute, and
 * one with a single seconds value never fires twice within a minute.
 */
export function shortestInterval(schedule: Schedule, from: Date, runs = 16): number | null {
  let previous = schedule.nextAfter(from);
  let shortest: number | null = null;
  for (let i = 0; previous && i < runs; i++) {
    const next = schedule.nextAfter(previous);
    if (!next) break;
    const gap = next.getTime() - previous.getTime();
    if (shortest === null || gap < shortest) shortest = gap;
    previous = next;
  }
  return shortest;
}
