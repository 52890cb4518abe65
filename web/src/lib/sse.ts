/**
 * An incremental parser for `text/event-stream`, as the HTML spec defines it:
 * lines end in CRLF, LF or CR (also split across chunks), `:` lines are
 * comments (the server's heartbeats), `data:` lines accumulate, a blank line
 * dispatches, and the last `id:` persists across messages (it is what a
 * reconnect sends back as `Last-Event-ID`).
 */

export interface SseMessage {
  /** `event:` field, or "message" when absent. */
  event: string;
  data: string;
  /** The last event id seen so far (persists across messages, per the spec). */
  id: string | undefined;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private hasData = false;
  private event = '';
  private lastId: string | undefined;
  /** A `retry:` value in ms, if the server sent one. */
  retry: number | undefined;

  /** Feeds decoded text; returns the messages it completed. */
  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (c === '\r' && i === this.buffer.length - 1) break;
      const line = this.buffer.slice(start, i);
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
      const message = this.line(line);
      if (message) out.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The id a reconnect should send as `Last-Event-ID`. */
  get lastEventId(): string | undefined {
    return this.lastId;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const message = this.hasData ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId } : undefined;
    this.data = [];
    this.hasData = false;
    this.event = '';
    return message;
  }
}
