import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildReply, encodeSse, errorBody, errorTypeForStatus, replyEvents, replyMessage, splitEvery } from './frames.js';

const ids = (): ((prefix: 'msg' | 'toolu') => string) => {
  let n = 0;
  return (prefix) => `${prefix}_${++n}`;
};
const request = { model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] };

describe('scripted model frames', () => {
  it('streams text chunks as one text_delta each, between the message envelope events', () => {
    const reply = buildReply([{ type: 'text', text: ['Hel', 'lo'] }], request, ids(), {
      usage: { input_tokens: 7, output_tokens: 3 },
    });
    const events = replyEvents(reply);
    assert.deepEqual(
      events.map((e) => e.event),
      ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
    );
    const start = events[0]!.data as { message: { usage: Record<string, number>; model: string } };
    assert.equal(start.message.model, 'claude-test');
    assert.equal(start.message.usage.input_tokens, 7);
    assert.deepEqual(events[3]!.data, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } });
    assert.deepEqual(events[6]!.data, {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3 },
    });
    assert.deepEqual(replyMessage(reply).content, [{ type: 'text', text: 'Hello' }]);
  });

  it('emits tool input as input_json_delta pieces that concatenate to the input, and stops for tool_use', () => {
    const input = { command: 'echo a very long command line that needs several pieces', timeout: 5 };
    const reply = buildReply([{ type: 'text', text: 'Running.' }, { type: 'tool_use', name: 'Bash', input }], request, ids());
    assert.equal(reply.stop_reason, 'tool_use');
    const events = replyEvents(reply);
    const partials = events
      .map((e) => e.data as { index?: number; delta?: { type: string; partial_json?: string } })
      .filter((d) => d.index === 1 && d.delta?.type === 'input_json_delta')
      .map((d) => d.delta!.partial_json);
    assert.ok(partials.length > 1);
    assert.deepEqual(JSON.parse(partials.join('')), input);
    const blockStart = events.find((e) => e.event === 'content_block_start' && (e.data as { index: number }).index === 1);
    assert.deepEqual((blockStart!.data as { content_block: unknown }).content_block, { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {} });
  });

  it('sends thinking as thinking_delta then signature_delta', () => {
    const reply = buildReply([{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'yes' }], request, ids());
    const deltas = replyEvents(reply)
      .filter((e) => e.event === 'content_block_delta' && (e.data as { index: number }).index === 0)
      .map((e) => (e.data as { delta: unknown }).delta);
    assert.deepEqual(deltas, [
      { type: 'thinking_delta', thinking: 'hmm' },
      { type: 'signature_delta', signature: 'sig' },
    ]);
  });

  it('estimates usage when the step gives none', () => {
    const reply = buildReply([{ type: 'text', text: 'x'.repeat(40) }], request, ids());
    assert.equal(reply.usage.output_tokens, 10);
    assert.ok(reply.usage.input_tokens > 0);
    assert.equal(reply.usage.cache_read_input_tokens, 0);
  });

  it('encodes SSE frames and error bodies in the wire format', () => {
    assert.equal(encodeSse({ event: 'ping', data: { type: 'ping' } }), 'event: ping\ndata: {"type":"ping"}\n\n');
    assert.deepEqual(errorBody('rate_limit_error', 'slow'), { type: 'error', error: { type: 'rate_limit_error', message: 'slow' } });
    assert.equal(errorTypeForStatus(429), 'rate_limit_error');
    assert.equal(errorTypeForStatus(529), 'overloaded_error');
    assert.equal(errorTypeForStatus(502), 'api_error');
    assert.equal(errorTypeForStatus(418), 'invalid_request_error');
    assert.deepEqual(splitEvery('abcde', 2), ['ab', 'cd', 'e']);
    assert.deepEqual(splitEvery('', 2), ['']);
  });
});
