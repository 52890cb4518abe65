import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelOf } from './proxy.js';

const body = (text: string) => Buffer.from(text);

describe('modelOf', () => {
  it('reads a leading model from the first bytes, as the CLI writes bodies', () => {
    const big = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x'.repeat(300_000) }] });
    assert.equal(modelOf(body(big)), 'claude-sonnet-4-5');
    assert.equal(modelOf(body('{ "model" : "claude-opus-4-1@2025", "max_tokens": 1 }')), 'claude-opus-4-1@2025');
  });

  it('agrees with JSON.parse wherever the first bytes could mislead', () => {
    const cases = [
      '{"model":"cheap","messages":[],"model":"dear"}', // JSON.parse takes the last
      '{"model":"a","metadata":{"model":"b"}}',
      '{"messages":[],"model":"late"}',
      '{"model":"with \\"quote\\"","x":1}',
      '{"model":"a","messages":[{"role":"user","content":"say \\"model\\": b"}]}',
      '{"model":42}',
    ];
    for (const text of cases) {
      const parsed = (JSON.parse(text) as { model?: unknown }).model;
      assert.equal(modelOf(body(text)), typeof parsed === 'string' ? parsed : undefined, text);
    }
  });

  it('is undefined for bodies that are not JSON objects with a string model', () => {
    for (const text of ['', 'not json', '{"model":"unterminated', '[]', '{}']) assert.equal(modelOf(body(text)), undefined, text);
  });
});
