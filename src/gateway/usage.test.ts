import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeSse, buildReply, replyEvents } from '../testing/scripted-model/frames.js';
import { observeJsonBody, SseUsageReader } from './usage.js';

const stream = (): string => {
  const reply = buildReply([{ type: 'text', text: ['héllo ', 'wörld'] }], { model: 'claude-x' }, (p) => `${p}_1`, {
    usage: { input_tokens: 11, output_tokens: 7, cache_creation_input_tokens: 3, cache_read_input_tokens: 5 },
  });
  return replyEvents(reply).map(encodeSse).join('');
};

describe('gateway usage observation', () => {
  it('reads usage and model from a stream split at every byte', () => {
    const bytes = Buffer.from(stream().replaceAll('\n', '\r\n'));
    const reader = new SseUsageReader();
    for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
    const observed = reader.result();
    assert.deepEqual(observed.usage, { input_tokens: 11, output_tokens: 7, cache_creation_input_tokens: 3, cache_read_input_tokens: 5 });
    assert.equal(observed.model, 'claude-x');
    assert.equal(observed.complete, true);
    assert.equal(observed.error, undefined);
  });

  it('lets message_delta usage override message_start, and notices a missing message_stop', () => {
    const reader = new SseUsageReader();
    reader.push('event: message_start\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}\n\n');
    reader.push('event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":9,"output_tokens":4,"cache_read_input_tokens":2}}\n\n');
    const observed = reader.result();
    assert.deepEqual(observed.usage, { input_tokens: 9, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 2 });
    assert.equal(observed.complete, false);
  });

  it('reports an error event in the stream', () => {
    const reader = new SseUsageReader();
    reader.push('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
    assert.deepEqual(reader.result().error, { type: 'overloaded_error', message: 'Overloaded' });
  });

  it('reads JSON messages and error bodies', () => {
    const ok = observeJsonBody(JSON.stringify({ type: 'message', model: 'm', usage: { input_tokens: 3, output_tokens: 2 } }), 200);
    assert.deepEqual(ok.usage, { input_tokens: 3, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    assert.equal(ok.complete, true);
    const failed = observeJsonBody(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow' } }), 429);
    assert.deepEqual(failed.error, { type: 'rate_limit_error', message: 'slow' });
    assert.equal(observeJsonBody('<html>', 502).error?.type, 'api_error');
  });
});
