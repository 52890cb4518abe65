import type { SessionStatus } from '../store/store.js';

/** The status of a session whose log has no status event yet. */
export const INITIAL_STATUS: SessionStatus = 'idle';

/** The status each `session.status_*` event puts a session in. */
const STATUS_OF_EVENT: Readonly<Record<string, SessionStatus>> = {
  'session.status_running': 'running',
  'session.status_idle': 'idle',
  'session.status_rescheduled': 'rescheduling',
  'session.status_terminated': 'terminated',
};

/**
 * The session state machine: the status of a session in `status` after
 * `events` (in order) are appended to its log. Each status event moves it to
 * its status; other events leave it. `terminated` is final: nothing after it
 * brings a session back.
 *
 * The event log applies this to every append, in the same transaction as the
 * events; nothing else writes a session's status.
 */
export function statusAfter(status: SessionStatus, events: readonly { type: string }[]): SessionStatus {
  let next = status;
  for (const event of events) {
    if (next === 'terminated') break;
    next = STATUS_OF_EVENT[event.type] ?? next;
  }
  return next;
}

/** Whether any of these events can change a session's status. */
export function changesStatus(events: readonly { type: string }[]): boolean {
  return events.some((e) => STATUS_OF_EVENT[e.type] !== undefined);
}
