import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastUserText, parseScript, ScriptCursor, stepBlocks } from './script.js';

const tools = [{ name: 'Bash', input_schema: { type: 'object' } }];

describe('scripted model script', () => {
  it('accepts an array or { steps } and expands shorthands in order', () => {
    const [step] = parseScript({ steps: [{ tool_use: { name: 'Bash' }, text: 'Running', thinking: 'plan' }] });
    assert.deepEqual(stepBlocks(step!), [
      { type: 'thinking', thinking: 'plan' },
      { type: 'text', text: 'Running' },
      { type: 'tool_use', name: 'Bash', input: {} },
    ]);
    assert.equal(parseScript([{ error: { status: 529 } }]).length, 1);
  });

  it('rejects steps with no reply, two kinds of reply, or unknown keys, naming the path', () => {
    assert.throws(() => parseScript([{ match: 'x' }]), /0: a step needs exactly one reply/);
    assert.throws(() => parseScript([{ text: 'a', error: { status: 500 } }]), /exactly one reply/);
    assert.throws(() => parseScript([{ text: 'a', wen: 'tools' }]), /0: Unrecognized key/);
    assert.throws(() => parseScript([{ error: { status: 200 } }]), /0\.error\.status/);
  });

  it('reads the last user message, including tool results, and skips other roles', () => {
    const body = {
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: [{ type: 'text', text: 'ignored' }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'hello from tool' }] },
            { type: 'text', text: 'and more' },
          ],
        },
        { role: 'system', content: [{ type: 'text', text: 'environment' }] },
      ],
    };
    assert.equal(lastUserText(body), 'hello from tool\nand more');
    assert.equal(lastUserText({}), '');
  });

  it('only the step at the cursor can match; others get the default reply without consuming', () => {
    const cursor = new ScriptCursor(
      parseScript([
        { when: 'tools', match: 'go', text: 'one' },
        { when: 'no_tools', text: 'two' },
        { text: 'loop', repeat: true },
      ]),
    );
    const side = { messages: [{ role: 'user', content: 'go' }], tools: [] };
    const main = { messages: [{ role: 'user', content: 'go now' }], tools };
    assert.equal(cursor.take(side), null, 'empty tools is not "tools"');
    assert.equal(cursor.take({ ...main, messages: [{ role: 'user', content: 'stop' }] }), null);
    assert.equal(cursor.take(main)?.index, 0);
    assert.equal(cursor.take(main), null, 'step 1 wants no tools');
    assert.equal(cursor.take(side)?.index, 1);
    assert.equal(cursor.take(main)?.index, 2);
    assert.equal(cursor.take(side)?.index, 2);
    assert.equal(cursor.pending, 1);
  });
});
