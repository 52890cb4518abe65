/**
 * Follows a session's live events over `GET /v1/sessions/{id}/events/stream`.
 * EventSource cannot send the API key, so this reads the SSE body with fetch.
 * When the connection drops it reconnects with `Last-Event-ID` set to the
 * last event it delivered: the server replays everything after that event,
 * so nothing is lost; the transcript reducer drops anything seen twice.
 */
import { SseParser } from '../lib/sse';
import type { AnyEvent } from '../lib/transcript';
import type { ApiClient } from './client';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface FollowOptions {
  /** Resume after this event (the last one the caller already has). */
  lastEventId: string | undefined;
  onEvents(events: AnyEvent[]): void;
  onState(state: StreamState, detail?: string): void;
  /** Each time the server accepted the stream (after its headers). */
  onOpen?(): void;
}

/** The server sends `: ping` every 15 s; this much silence means the connection is dead. */
const SILENCE_MS = 40_000;
const ENDING_EVENTS = new Set(['session.status_terminated', 'session.deleted']);

export function followSession(client: ApiClient, sessionId: string, o: FollowOptions): { close(): void } {
  const stop = new AbortController();
  let lastId = o.lastEventId;
  let attempt = 0;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });

  async function once(): Promise<'ended' | 'retry'> {
    const conn = new AbortController();
    const abort = () => conn.abort();
    stop.signal.addEventListener('abort', abort, { once: true });
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const pet = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(abort, SILENCE_MS);
    };
    try {
      pet();
      const res = await fetch(`${client.baseUrl}/v1/sessions/${encodeURIComponent(sessionId)}/events/stream`, {
        headers: client.headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }),
        cache: 'no-store',
        signal: conn.signal,
      });
      if (res.status === 401) {
        client.onUnauthorized?.();
        return 'ended';
      }
      if (res.status === 404) {
        o.onState('ended', 'this session no longer exists');
        return 'ended';
      }
      if (!res.ok || !res.body) return 'retry';
      attempt = 0;
      o.onState('live');
      o.onOpen?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      let ended = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pet();
        const batch: AnyEvent[] = [];
        for (const message of parser.feed(value)) {
          try {
            const event = JSON.parse(message.data) as AnyEvent;
            batch.push(event);
            lastId = message.id ?? event.id;
            if (ENDING_EVENTS.has(event.type)) ended = true;
          } catch {
            // Not an event (never sent by agenthost): skip it.
          }
        }
        if (batch.length) o.onEvents(batch);
      }
      return ended ? 'ended' : 'retry';
    } catch {
      return 'retry';
    } finally {
      clearTimeout(watchdog);
      stop.signal.removeEventListener('abort', abort);
    }
  }

  void (async () => {
    o.onState('connecting');
    while (!stop.signal.aborted) {
      const outcome = await once();
      if (stop.signal.aborted) return;
      if (outcome === 'ended') {
        o.onState('ended');
        return;
      }
      attempt++;
      const delay = Math.min(8_000, 250 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
      o.onState('reconnecting', `retrying in ${Math.round(delay / 100) / 10}s`);
      await sleep(delay);
    }
  })();

  return { close: () => stop.abort() };
}
