import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventRecord, JsonObject } from '../store/store.js';
import { inputCommitted, redeliveryContent, undeliveredMessages, withInputCommitted } from './redeliver.js';
import { withInternal } from './session-body.js';

let seq = 0;
function event(type: string, body: JsonObject = {}): EventRecord {
  seq++;
  return { id: `sevt_${seq}`, sessionId: 'sesn_1', seq, type, body: { id: `sevt_${seq}`, type, ...body }, createdAt: new Date(seq * 1000).toISOString() };
}
const message = (text: string) => event('user.message', { content: [{ type: 'text', text }] });
const idle = (stop: string) => event('session.status_idle', { stop_reason: { type: stop } });
const userEntry = (...texts: string[]) => ({ type: 'user', uuid: texts.join('|'), message: { role: 'user', content: texts.map((text) => ({ type: 'text', text })) } });

describe('undeliveredMessages', () => {
  it('returns messages the transcript lacks, in order, since the last finished turn', () => {
    const done = message('first, answered');
    const log = [done, event('session.status_running'), idle('end_turn'), message('lost one'), message('lost two'), event('session.error'), idle('retries_exhausted')];
    const through = log.at(-1)!.seq;
    const transcript = [userEntry('first, answered'), { type: 'assistant', message: { content: [{ type: 'text', text: 'lost one' }] } }];
    const got = undeliveredMessages(log, transcript, through);
    assert.deepEqual(got.map((b) => (b.content as Array<{ text: string }>)[0]!.text), ['lost one', 'lost two'], 'assistant text does not count as delivered');
  });

  it('a message the transcript has (alone, as a string, or inside a larger entry) is delivered', () => {
    const log = [message('alpha'), message('beta'), message('gamma')];
    const transcript = [userEntry('note', 'alpha', 'beta'), { type: 'user', message: { content: 'prefix gamma suffix' } }];
    assert.deepEqual(undeliveredMessages(log, transcript, log.at(-1)!.seq), []);
  });

  it('ignores messages after the restart and messages without text; no transcript means none delivered', () => {
    const before = message('before the crash');
    const image = event('user.message', { content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] });
    const through = image.seq;
    const after = message('after the restart');
    const got = undeliveredMessages([after, image, before], null, through);
    assert.deepEqual(got.map((b) => b.id), [before.id]);
  });

  it('a message sent twice with the same text counts as delivered once the text is there', () => {
    const log = [message('yes'), idle('end_turn'), message('yes')];
    assert.deepEqual(undeliveredMessages(log, [userEntry('yes')], log.at(-1)!.seq), []);
  });
});

describe('redeliveryContent', () => {
  it('is empty for no messages, else a note and every block in order', () => {
    assert.deepEqual(redeliveryContent([]), []);
    const content = redeliveryContent([
      { content: [{ type: 'text', text: 'a' }] },
      { content: [{ type: 'text', text: 'b' }, { type: 'text', text: 'c' }] },
    ]);
    assert.equal(content.length, 4);
    assert.match((content[0] as { text: string }).text, /restarted before these 2 earlier messages reached you/);
    assert.deepEqual(content.slice(1).map((b) => (b as { text: string }).text), ['a', 'b', 'c']);
  });
});

describe('session marks', () => {
  it('marks a committed message without touching the rest of the body, and clears the mark by name', () => {
    const body: JsonObject = { title: 't', internal: { claude_session_id: 'c1' } };
    assert.equal(inputCommitted(body), false);
    const marked = withInputCommitted(body);
    assert.equal(inputCommitted(marked), true);
    assert.deepEqual(marked, { title: 't', internal: { claude_session_id: 'c1', input_committed: true } });
    assert.deepEqual(body, { title: 't', internal: { claude_session_id: 'c1' } }, 'the original is not changed');
    assert.deepEqual(withInternal(marked, { input_committed: undefined, redeliver_through: 7 }), { title: 't', internal: { claude_session_id: 'c1', redeliver_through: 7 } });
    assert.equal(inputCommitted({}), false, 'a body without internal fields');
  });
});
