/**
 * The scripted model against the real Claude Code CLI (through the Agent SDK's
 * `query()`), no mocks.
 *
 * What the CLI (2.1.330, bundled with agent-sdk 0.3.330) sends, as observed:
 * - every model call is `POST /v1/messages?beta=true` with `stream: true`,
 *   `x-api-key: <ANTHROPIC_API_KEY>` (not a bearer token), `anthropic-version: 2023-06-01`,
 *   a long `anthropic-beta` list, `x-app: cli`, `x-claude-code-session-id`, and
 *   `user-agent: claude-cli/<version> (external, sdk-ts, agent-sdk/<version>)`;
 * - model `claude-opus-5-5` unless `options.model` says otherwise; `max_tokens` 128000;
 *   body keys: model, messages, system, tools, metadata, max_tokens, thinking,
 *   context_management, output_config, stream. `messages` may contain a `role: "system"`
 *   message (the environment block) after the user's prompt;
 * - with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 there are no side requests: one request
 *   per model turn. Without it the CLI first sends `HEAD /api/hello` (no credential header)
 *   and a title-generation request with `tools: []` and the prompt wrapped in `<session>`,
 *   concurrently with the first main request. Hence `when: "tools"` on every step below.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { startScriptedModel, type ScriptedModel } from './server.js';

describe('scripted model with the real Claude Code CLI', () => {
  let model: ScriptedModel;
  let root: string;

  before(async () => {
    model = await startScriptedModel();
    root = await mkdtemp(join(tmpdir(), 'agenthost-cli-'));
  });
  after(async () => {
    await model.close();
    await rm(root, { recursive: true, force: true });
  });

  it('runs a Bash tool call and finishes with a success result', { timeout: 120_000 }, async (t) => {
    const [home, config, tmp, cwd] = ['home', 'config', 'tmp', 'work'].map((d) => join(root, d)) as [string, string, string, string];
    await Promise.all([home, config, tmp, cwd].map((d) => mkdir(d, { recursive: true })));
    model.setScript([
      { when: 'tools', text: 'I will write the file.', tool_use: { name: 'Bash', input: { command: 'echo hello > out.txt', description: 'Write out.txt' } } },
      { when: 'tools', text: ['Wrote ', 'out.txt.'], usage: { input_tokens: 50, output_tokens: 5 } },
    ]);

    const started = performance.now();
    const messages: SDKMessage[] = [];
    let stderr = '';
    for await (const message of query({
      prompt: 'Write hello to out.txt',
      options: {
        cwd,
        permissionMode: 'bypassPermissions',
        allowDangerouslySkipPermissions: true,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          CLAUDE_CONFIG_DIR: config,
          CLAUDE_CODE_TMPDIR: tmp,
          ANTHROPIC_BASE_URL: model.url,
          ANTHROPIC_API_KEY: 'test-key',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          // As root the CLI refuses bypassPermissions unless it is told it runs in a sandbox.
          IS_SANDBOX: '1',
        },
        stderr: (data) => {
          stderr += data;
        },
      },
    })) {
      messages.push(message);
    }
    const wallMs = Math.round(performance.now() - started);
    t.diagnostic(`query() wall time: ${wallMs} ms`);

    const result = messages.at(-1);
    assert.equal(result?.type, 'result', stderr);
    assert.equal(result.subtype, 'success', stderr);
    if (result.subtype === 'success') assert.equal(result.result, 'Wrote out.txt.');
    assert.equal(await readFile(join(cwd, 'out.txt'), 'utf8'), 'hello\n');

    const calls = model.messageRequests();
    assert.deepEqual(calls.map((r) => r.step), [0, 1], 'one request per turn, no side requests');
    for (const call of calls) {
      assert.equal(call.headers['x-api-key'], 'test-key');
      assert.equal(call.path, '/v1/messages?beta=true');
      assert.equal((call.body as { stream?: boolean }).stream, true);
    }
    const second = JSON.stringify((calls[1]?.body as { messages: unknown[] }).messages.at(-1));
    assert.match(second, /tool_result/);
  });
});
