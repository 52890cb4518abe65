import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventLog } from '../../sessions/event-log.js';
import type { SessionService } from '../../sessions/service.js';
import type { EventRecord, SessionRecord } from '../../store/store.js';

/** A subscriber further behind than this is disconnected; it can resume with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 500;

export interface StreamOptions {
  request: FastifyRequest;
  reply: FastifyReply;
  session: SessionRecord;
  /** Resume after this event: every later event is sent, then live ones. */
  lastEventId: string | undefined;
  sessions: SessionService;
  events: EventLog;
}

/** Each event's SSE frame, serialized once however many streams carry it. */
const frames = new WeakMap<EventRecord, string>();

function frame(event: EventRecord): string {
  let text = frames.get(event);
  if (text === undefined) {
    text = `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event.body)}\n\n`;
    frames.set(event, text);
  }
  return text;
}

/**
 * Streams a session's events as SSE. Live events are subscribed to before the
 * replay from the store starts and are held until it ends, and every event is
 * written at most once and in seq order: a resuming client sees no gap and no
 * duplicate.
 */
export async function streamSessionEvents(o: StreamOptions): Promise<void> {
  const { request, reply, session } = o;
  let lastSeq = 0;
  if (o.lastEventId) lastSeq = (await o.sessions.getEvent(request.auth.workspaceId, session.id, o.lastEventId)).seq;

  const res = reply.raw;
  let closed = false;
  let replaying = true;
  const held: EventRecord[] = [];

  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    res.end();
  };

  /** Writes the events not sent yet in one write: one syscall per commit, not per event. */
  const write = (events: readonly EventRecord[]) => {
    if (closed) return;
    let text = '';
    let last = false;
    for (const event of events) {
      if (event.seq <= lastSeq) continue;
      lastSeq = event.seq;
      text += frame(event);
      last = event.type === 'session.status_terminated' || event.type === 'session.deleted';
      if (last) break;
    }
    if (text === '') return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      request.log.warn({ sessionId: session.id }, 'SSE subscriber too slow; disconnecting');
      res.destroy();
      close();
      return;
    }
    if (last) close();
  };

  const unsubscribe = o.events.subscribe(session.id, (events) => {
    if (replaying) held.push(...events);
    else write(events);
  });

  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'request-id': request.id,
  });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  request.raw.on('close', close);
  res.on('error', close);

  try {
    if (o.lastEventId) {
      for (;;) {
        const page = await o.sessions.listEvents(request.auth.workspaceId, session.id, { limit: REPLAY_PAGE, order: 'asc', afterSeq: lastSeq });
        write(page.items);
        if (!page.hasMore || closed) break;
      }
    }
  } catch (error) {
    request.log.warn({ err: error, sessionId: session.id }, 'SSE replay failed');
    close();
    return;
  }
  replaying = false;
  write(held.splice(0));
}
