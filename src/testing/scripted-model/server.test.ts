import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startScriptedModel, type ScriptedModel } from './server.js';

describe('scripted model server, through the official client', () => {
  let model: ScriptedModel;
  let client: Anthropic;
  const base = { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user' as const, content: 'hi' }] };

  before(async () => {
    model = await startScriptedModel();
    client = new Anthropic({ baseURL: model.url, apiKey: 'test-key', maxRetries: 0 });
  });
  after(() => model.close());
  beforeEach(() => {
    model.requests.length = 0;
  });

  it('answers a plain JSON request with text and scripted usage, and records the request', async () => {
    model.setScript([{ text: 'Hello there', usage: { input_tokens: 12, output_tokens: 4 } }]);
    const message = await client.messages.create(base);
    assert.deepEqual(message.content, [{ type: 'text', text: 'Hello there' }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.model, 'claude-test');
    assert.equal(message.usage.input_tokens, 12);
    assert.equal(message.usage.output_tokens, 4);
    const [recorded] = model.requests;
    // @anthropic-ai/sdk 1.x sends the api key as a bearer token; the CLI's bundled client sends x-api-key.
    assert.equal(recorded?.headers.authorization, 'Bearer test-key');
    assert.equal((recorded?.body as { model: string }).model, 'claude-test');
    assert.equal(recorded?.step, 0);
    assert.equal(model.pending, 0);
  });

  it('streams text in several deltas', async () => {
    model.setScript([{ text: ['one ', 'two ', 'three'] }]);
    const stream = client.messages.stream(base);
    const deltas: string[] = [];
    stream.on('text', (text) => deltas.push(text));
    const message = await stream.finalMessage();
    assert.deepEqual(deltas, ['one ', 'two ', 'three']);
    assert.deepEqual(message.content, [{ type: 'text', text: 'one two three' }]);
  });

  it('streams tool_use with leading text and parses the input', async () => {
    const input = { command: 'echo hello > out.txt', description: 'write a file' };
    model.setScript([{ text: 'Let me do that.', tool_use: { name: 'Bash', input } }]);
    const message = await client.messages.stream({ ...base, tools: [{ name: 'Bash', input_schema: { type: 'object' } }] }).finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.content[0]?.type, 'text');
    const toolUse = message.content[1];
    assert.equal(toolUse?.type, 'tool_use');
    if (toolUse?.type !== 'tool_use') return;
    assert.equal(toolUse.name, 'Bash');
    assert.deepEqual(toolUse.input, input);
    assert.match(toolUse.id, /^toolu_/);
  });

  it('streams thinking with its signature before the text', async () => {
    model.setScript([{ thinking: 'Let me think.', text: 'Done thinking.' }]);
    const message = await client.messages.stream(base).finalMessage();
    const [thinking, text] = message.content;
    assert.equal(thinking?.type, 'thinking');
    if (thinking?.type !== 'thinking') return;
    assert.equal(thinking.thinking, 'Let me think.');
    assert.ok(thinking.signature.length > 0);
    assert.deepEqual(text, { type: 'text', text: 'Done thinking.' });
  });

  it('returns scripted errors so the client throws the matching class', async () => {
    model.setScript([
      { error: { status: 429, message: 'slow down', retryAfterMs: 5 } },
      { error: { status: 500 } },
      { error: { status: 529 } },
      { error: { status: 400, type: 'invalid_request_error', message: 'bad' } },
    ]);
    await assert.rejects(client.messages.create(base), (error: unknown) => {
      assert.ok(error instanceof Anthropic.RateLimitError);
      assert.equal((error.error as { type?: string } | undefined)?.type, 'error');
      assert.match(error.message, /slow down/);
      assert.equal(error.headers?.get('retry-after-ms'), '5');
      return true;
    });
    await assert.rejects(client.messages.stream(base).finalMessage(), Anthropic.InternalServerError);
    await assert.rejects(client.messages.create(base), Anthropic.OverloadedError);
    await assert.rejects(client.messages.create(base), Anthropic.BadRequestError);
  });

  it('waits delayMs before answering', async () => {
    model.setScript([{ text: 'late', delayMs: 150 }]);
    const started = Date.now();
    await client.messages.create(base);
    assert.ok(Date.now() - started >= 140);
  });

  it('gives unmatched requests the default reply without consuming the script, and loops repeat steps', async () => {
    model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'true' } }, repeat: true },
    ]);
    const side = await client.messages.create(base);
    assert.deepEqual(side.content, [{ type: 'text', text: 'OK' }]);
    const withTools = { ...base, tools: [{ name: 'Bash', input_schema: { type: 'object' as const } }] };
    for (let i = 0; i < 3; i++) {
      const message = await client.messages.create(withTools);
      assert.equal(message.stop_reason, 'tool_use');
    }
    assert.deepEqual(
      model.messageRequests().map((r) => r.step),
      [null, 0, 0, 0],
    );
    assert.equal(model.pending, 1);
  });

  it('counts tokens and answers unknown paths with a 404 in the error shape', async () => {
    const count = await client.messages.countTokens(base);
    assert.ok(count.input_tokens > 0);
    const response = await fetch(`${model.url}/v1/nothing`);
    assert.equal(response.status, 404);
    const body = (await response.json()) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'not_found_error');
    await assert.rejects(client.models.list(), Anthropic.NotFoundError);
  });

  it('rejects invalid scripts in setScript', () => {
    assert.throws(() => model.setScript([{ repeat: true }]), /exactly one reply/);
  });
});
