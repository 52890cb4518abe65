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

function frame(event: EventRecord): string {
  return `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event.body)}\n\n`;
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

  const write = (event: EventRecord) => {
    if (closed || event.seq <= lastSeq) return;
    lastSeq = event.seq;
    res.write(frame(event));
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      request.log.warn({ sessionId: session.id }, 'SSE subscriber too slow; disconnecting');
      res.destroy();
      close();
      return;
    }
    if (event.type === 'session.status_terminated' || event.type === 'session.deleted') close();
  };

  const unsubscribe = o.events.subscribe(session.id, (event) => {
    if (replaying) held.push(event);
    else write(event);
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
        for (const event of page.items) write(event);
        if (!page.hasMore || closed) break;
      }
    }
  } catch (error) {
    request.log.warn({ err: error, sessionId: session.id }, 'SSE replay failed');
    close();
    return;
  }
  replaying = false;
  for (const event of held.splice(0)) write(event);
}
