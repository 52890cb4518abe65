import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runScriptedModelCli } from './cli.js';

function capture(): { stream: PassThrough; text: () => string; line: () => Promise<string> } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return {
    stream,
    text: () => text,
    line: () =>
      new Promise((resolve) => {
        const check = (): void => {
          if (text.includes('\n')) {
            stream.off('data', check);
            resolve(text.split('\n')[0]!);
          }
        };
        stream.on('data', check);
        check();
      }),
  };
}

describe('agenthost scripted-model', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scripted-model-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('serves a script file, prints the URL, and stops on SIGTERM', async () => {
    const file = join(dir, 'script.json');
    await writeFile(file, JSON.stringify({ steps: [{ text: 'from file' }] }));
    const out = capture();
    const err = capture();
    const exit = runScriptedModelCli(['--script', file, '--port', '0'], { stdout: out.stream, stderr: err.stream });
    const url = await out.line();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await response.json()) as { content: unknown };
    assert.deepEqual(body.content, [{ type: 'text', text: 'from file' }]);
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await exit, 0);
    assert.equal(err.text(), '');
  });

  it('exits non-zero with a message for a missing flag, a bad port, or an invalid script', async () => {
    const err = capture();
    const io = { stdout: capture().stream, stderr: err.stream };
    assert.equal(await runScriptedModelCli([], io), 2);
    assert.match(err.text(), /--script is required/);
    assert.equal(await runScriptedModelCli(['--script', 'x.json', '--port', 'abc'], io), 2);
    assert.match(err.text(), /--port must be an integer/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ text: 'a', tool_use: { input: {} } }]));
    assert.equal(await runScriptedModelCli(['--script', bad], io), 1);
    assert.match(err.text(), /0\.tool_use\.name/);
  });
});
