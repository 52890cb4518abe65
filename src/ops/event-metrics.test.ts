import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventRecord, JsonObject } from '../store/store.js';
import { EventMetrics } from './event-metrics.js';
import { NoopMetrics } from './metrics.js';

class Recorder extends NoopMetrics {
  turns: Array<{ stopReason: string; seconds: number }> = [];
  tools: Array<{ tool: string; outcome: string }> = [];
  lags: number[] = [];
  override turnEnded(r: { stopReason: string; seconds: number }): void {
    this.turns.push(r);
  }
  override toolCall(r: { tool: string; outcome: 'ok' | 'error' | 'denied' }): void {
    this.tools.push(r);
  }
  override eventFanOut(lag: number): void {
    this.lags.push(lag);
  }
}

let seq = 0;
function event(type: string, atMs: number, fields: JsonObject = {}, id = `sevt_${++seq}`): EventRecord {
  const createdAt = new Date(atMs).toISOString();
  return { id, sessionId: 's', seq, type, createdAt, body: { id, type, ...fields, processed_at: createdAt } };
}

describe('EventMetrics', () => {
  it('a turn paused for a confirmation is one turn; a denied call counts as denied', () => {
    const r = new Recorder();
    const m = new EventMetrics(r, () => 10_500);
    m.observe('s', event('session.status_running', 1_000));
    m.observe('s', event('agent.tool_use', 2_000, { name: 'bash' }, 'use1'));
    m.observe('s', event('session.status_idle', 2_100, { stop_reason: { type: 'requires_action', event_ids: ['use1'] } }));
    m.observe('s', event('user.tool_confirmation', 5_000, { tool_use_id: 'use1', result: 'deny' }));
    m.observe('s', event('session.status_running', 5_001));
    m.observe('s', event('agent.tool_result', 5_002, { tool_use_id: 'use1', is_error: true }));
    m.observe('s', event('agent.tool_use', 6_000, { name: 'read' }, 'use2'));
    m.observe('s', event('agent.tool_result', 6_500, { tool_use_id: 'use2', is_error: false }));
    m.observe('s', event('session.status_idle', 10_000, { stop_reason: { type: 'end_turn' } }));
    assert.deepEqual(r.turns, [{ stopReason: 'end_turn', seconds: 9 }]);
    assert.deepEqual(r.tools, [
      { tool: 'bash', outcome: 'denied' },
      { tool: 'read', outcome: 'ok' },
    ]);
    assert.equal(r.lags.length, 9);
    assert.equal(r.lags.at(-1), 0.5);
  });

  it('a tool use whose result never came is dropped when the turn ends', () => {
    const r = new Recorder();
    const m = new EventMetrics(r);
    m.observe('s', event('session.status_running', 1_000));
    m.observe('s', event('agent.tool_use', 1_100, { name: 'bash' }, 'lost'));
    m.observe('s', event('session.status_idle', 1_200, { stop_reason: { type: 'end_turn' } }));
    m.observe('s', event('agent.tool_result', 1_300, { tool_use_id: 'lost', is_error: false }));
    assert.deepEqual(r.tools, []);
    assert.equal(r.turns.length, 1);
  });
});
