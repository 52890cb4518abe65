import { describe, expect, it } from 'vitest';
import { addEvents, emptyTranscript, mergeHistory, pendingConfirmations, statusFromEvents, transcriptItems, type AnyEvent } from './transcript';

let n = 0;
const ev = (type: string, fields: Record<string, unknown> = {}): AnyEvent => ({ id: `sevt_${++n}`, type, processed_at: '2026-01-01T00:00:00Z', ...fields });
const text = (t: string) => [{ type: 'text', text: t }];

describe('addEvents', () => {
  it('appends in arrival order and drops events it has seen', () => {
    const a = ev('user.message', { content: text('hi') });
    const b = ev('session.status_running');
    const c = ev('agent.message', { content: text('hello') });
    let s = addEvents(emptyTranscript, [a, b]);
    s = addEvents(s, [b, c]);
    s = addEvents(s, [a, b, c]);
    expect(s.events.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    expect(s.lastEventId).toBe(c.id);
  });

  it('returns the same state when nothing is new (no re-render)', () => {
    const a = ev('user.message');
    const s = addEvents(emptyTranscript, [a]);
    expect(addEvents(s, [a])).toBe(s);
    expect(addEvents(s, [])).toBe(s);
  });

  it('dedupes within one batch', () => {
    const a = ev('user.message');
    expect(addEvents(emptyTranscript, [a, a]).events).toHaveLength(1);
  });

  it('does not mutate the previous state', () => {
    const s1 = addEvents(emptyTranscript, [ev('user.message')]);
    const before = s1.events.length;
    addEvents(s1, [ev('agent.message')]);
    expect(s1.events.length).toBe(before);
    expect(emptyTranscript.events).toHaveLength(0);
  });
});

describe('mergeHistory', () => {
  it('orders the listing first, then live events it does not have', () => {
    const [a, b, c, d] = [ev('user.message'), ev('session.status_running'), ev('agent.message'), ev('session.status_idle')];
    // The stream delivered c and d before the listing (a, b, c) came back.
    const live = addEvents(emptyTranscript, [c!, d!]);
    const merged = mergeHistory(live, [a!, b!, c!]);
    expect(merged.events.map((e) => e.id)).toEqual([a!.id, b!.id, c!.id, d!.id]);
    expect(merged.lastEventId).toBe(d!.id);
  });

  it('keeps the state when the listing adds nothing', () => {
    const s = addEvents(emptyTranscript, [ev('user.message')]);
    expect(mergeHistory(s, s.events)).toBe(s);
  });
});

describe('transcriptItems', () => {
  it('joins a tool call with its result and hides spans', () => {
    const use = ev('agent.tool_use', { name: 'bash', input: { command: 'ls' }, evaluated_permission: 'allow' });
    const events = [
      ev('user.message', { content: text('list') }),
      ev('session.status_running'),
      ev('span.model_request_start'),
      use,
      ev('agent.tool_result', { tool_use_id: use.id, content: text('a.txt\n'), is_error: false }),
      ev('agent.message', { content: text('One file.') }),
      ev('session.status_idle', { stop_reason: { type: 'end_turn' } }),
    ];
    const items = transcriptItems(events);
    expect(items.map((i) => i.kind)).toEqual(['user', 'status', 'tool', 'agent', 'status']);
    const tool = items[2]!;
    expect(tool.kind === 'tool' && tool.result).toEqual({ text: 'a.txt\n', isError: false });
    expect(tool.kind === 'tool' && tool.pending).toBe(false);
    expect(items[4]).toMatchObject({ kind: 'status', status: 'idle', detail: 'turn ended' });
  });

  it('collapses consecutive thinking', () => {
    const items = transcriptItems([ev('agent.thinking'), ev('agent.thinking'), ev('agent.message', { content: text('x') }), ev('agent.thinking')]);
    expect(items.map((i) => (i.kind === 'thinking' ? `thinking×${i.count}` : i.kind))).toEqual(['thinking×2', 'agent', 'thinking×1']);
  });

  it('shows errors, interrupts and unknown events', () => {
    const items = transcriptItems([
      ev('session.error', { error: { type: 'model_overloaded_error', message: 'busy' } }),
      ev('user.interrupt'),
      ev('session.thread_created'),
    ]);
    expect(items).toMatchObject([
      { kind: 'error', errorType: 'model_overloaded_error', message: 'busy' },
      { kind: 'interrupt' },
      { kind: 'other', type: 'session.thread_created' },
    ]);
  });

  it('records a denial on its tool call', () => {
    const use = ev('agent.tool_use', { name: 'bash', input: {}, evaluated_permission: 'ask' });
    const items = transcriptItems([
      use,
      ev('session.status_idle', { stop_reason: { type: 'requires_action', event_ids: [use.id] } }),
      ev('user.tool_confirmation', { tool_use_id: use.id, result: 'deny', deny_message: 'no' }),
      ev('agent.tool_result', { tool_use_id: use.id, content: text('denied: no'), is_error: true }),
    ]);
    expect(items[0]).toMatchObject({ kind: 'tool', pending: false, confirmation: { result: 'deny', message: 'no' }, result: { isError: true } });
  });
});

describe('pendingConfirmations', () => {
  const ask = () => ev('agent.tool_use', { name: 'bash', input: { command: 'touch x' }, evaluated_permission: 'ask' });

  it('lists the calls of the last requires_action idle', () => {
    const a = ask();
    const b = ask();
    const events = [a, b, ev('session.status_idle', { stop_reason: { type: 'requires_action', event_ids: [a.id, b.id] } })];
    expect(pendingConfirmations(events).map((e) => e.id)).toEqual([a.id, b.id]);
    expect(transcriptItems(events).filter((i) => i.kind === 'tool' && i.pending)).toHaveLength(2);
  });

  it('drops calls already confirmed', () => {
    const a = ask();
    const b = ask();
    const events = [
      a,
      b,
      ev('session.status_idle', { stop_reason: { type: 'requires_action', event_ids: [a.id, b.id] } }),
      ev('user.tool_confirmation', { tool_use_id: a.id, result: 'allow' }),
    ];
    expect(pendingConfirmations(events).map((e) => e.id)).toEqual([b.id]);
  });

  it('is empty once the session runs again or ended the turn otherwise', () => {
    const a = ask();
    const idle = ev('session.status_idle', { stop_reason: { type: 'requires_action', event_ids: [a.id] } });
    expect(pendingConfirmations([a, idle, ev('session.status_running')])).toEqual([]);
    // An interrupt while waiting ends the turn: nothing is pending any more.
    expect(pendingConfirmations([a, idle, ev('user.interrupt'), ev('session.status_idle', { stop_reason: { type: 'end_turn' } })])).toEqual([]);
  });

  it('statusFromEvents reads the last status event', () => {
    expect(statusFromEvents([ev('session.status_running'), ev('agent.message')])).toBe('running');
    expect(statusFromEvents([])).toBeUndefined();
  });
});
