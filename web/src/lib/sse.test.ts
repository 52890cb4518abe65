import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('parses the frames agenthost writes', () => {
    const p = new SseParser();
    const out = p.feed('event: agent.message\nid: sevt_1\ndata: {"id":"sevt_1"}\n\n');
    expect(out).toEqual([{ event: 'agent.message', id: 'sevt_1', data: '{"id":"sevt_1"}' }]);
    expect(p.lastEventId).toBe('sevt_1');
  });

  it('handles frames split anywhere, including inside CRLF', () => {
    const text = 'event: a\r\nid: 1\r\ndata: x\r\n\r\nevent: b\r\nid: 2\r\ndata: y\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const out = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      expect(out.map((m) => `${m.event}:${m.id}:${m.data}`)).toEqual(['a:1:x', 'b:2:y']);
    }
  });

  it('accepts bare CR line endings', () => {
    const p = new SseParser();
    expect(p.feed('data: one\r\rdata: two\r')).toEqual([{ event: 'message', id: undefined, data: 'one' }]);
    // A trailing CR may begin a CRLF, so the second message completes with the next chunk.
    expect(p.feed('\r\n')).toEqual([{ event: 'message', id: undefined, data: 'two' }]);
  });

  it('ignores comments (heartbeats) and blank lines without data', () => {
    const p = new SseParser();
    expect(p.feed(': ping\n\n: ping\n\n\n')).toEqual([]);
  });

  it('joins multi-line data and strips one leading space only', () => {
    const p = new SseParser();
    expect(p.feed('data:  a\ndata:b\ndata\n\n')[0]!.data).toBe(' a\nb\n');
  });

  it('keeps the last id across messages and ignores ids with NUL', () => {
    const p = new SseParser();
    p.feed('id: 7\ndata: x\n\n');
    const [m] = p.feed('id: bad\0id\ndata: y\n\n');
    expect(m!.id).toBe('7');
    expect(p.lastEventId).toBe('7');
  });

  it('does not dispatch an unterminated message', () => {
    const p = new SseParser();
    expect(p.feed('data: partial\n')).toEqual([]);
  });

  it('reads retry', () => {
    const p = new SseParser();
    p.feed('retry: 2500\n\n');
    expect(p.retry).toBe(2500);
  });
});
