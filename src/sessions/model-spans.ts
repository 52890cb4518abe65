import type { Logger } from '../logger.js';
import { newId } from '../ids.js';
import { addCost, type CostMeter } from '../ops/cost.js';
import type { EventLog } from './event-log.js';
import type { LiveSessions } from './live-sessions.js';
import { withUsageAdded, type SessionUsage } from './session-body.js';

export interface ModelRequestStart {
  sessionId: string;
  requestId: string;
}

export interface ModelRequestEnd {
  sessionId: string;
  requestId: string;
  status: number;
  /** The model the response named, else the one requested. */
  model?: string | undefined;
  usage: SessionUsage;
  error?: string;
}

export interface ModelSpansOptions {
  /** The sessions this server runs: requests of any other sandbox (a warm one's) are not recorded. */
  sessions: LiveSessions;
  events: EventLog;
  log: Logger;
  /** Prices tokens; the session body keeps its running cost. */
  meter?: CostMeter | undefined;
}

/**
 * The model gateway's observer: each model request of a live session's
 * sandbox becomes a `span.model_request_start` / `span.model_request_end`
 * pair in its log, and its usage (tokens and their cost) counts toward the
 * session, in the same commit as the end event.
 */
export class ModelSpans {
  /** Request id → its start event's id, while the request runs. */
  private readonly open = new Map<string, string>();

  constructor(private readonly o: ModelSpansOptions) {}

  /** A model request from a session's sandbox has started. */
  async started(info: ModelRequestStart): Promise<void> {
    const ref = this.o.sessions.refOf(info.sessionId);
    if (!ref) return;
    // The id is known before the append resolves: a fast response may end
    // while the start is still being committed.
    const id = newId('sevt');
    this.open.set(info.requestId, id);
    await this.o.events.append(ref, [{ id, type: 'span.model_request_start' }]);
  }

  /** That request has finished; its usage counts toward the session. */
  async ended(info: ModelRequestEnd): Promise<void> {
    const ref = this.o.sessions.refOf(info.sessionId);
    const startId = this.open.get(info.requestId);
    this.open.delete(info.requestId);
    if (!ref || !startId) return;
    const u = info.usage;
    const usd = this.o.meter
      ? await this.o.meter.tokens(ref, info.model, u).catch((error: unknown) => {
          this.o.log.warn({ err: error, sessionId: ref.id }, 'could not record token usage');
          return 0;
        })
      : 0;
    await this.o.events.append(
      ref,
      [
        {
          type: 'span.model_request_end',
          fields: {
            model_request_start_id: startId,
            is_error: info.status >= 400 || info.error !== undefined,
            model_usage: {
              input_tokens: u.input_tokens,
              output_tokens: u.output_tokens,
              cache_creation_input_tokens: u.cache_creation_input_tokens,
              cache_read_input_tokens: u.cache_read_input_tokens,
            },
          },
        },
      ],
      (s) => ({ body: addCost(withUsageAdded(s.body, u), { tokens_usd: usd }) }),
    );
  }
}
