/**
 * The real Claude Code CLI calling the model through the gateway, the way a
 * sandbox does: it holds only its session token and reaches the gateway over
 * the session's Unix socket (ANTHROPIC_UNIX_SOCKET), with no TCP route to it.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { silentLogger } from '../logger.js';
import { startScriptedModel, type ScriptedModel } from '../testing/scripted-model/index.js';
import { createModelGateway, type ModelGateway } from './gateway.js';
import type { ModelRequestInfo, ModelResponseInfo } from './proxy.js';

const REAL_KEY = 'sk-ant-real-upstream-key';

describe('model gateway with the real Claude Code CLI', () => {
  let model: ScriptedModel;
  let gateway: ModelGateway;
  let root: string;
  const started: ModelRequestInfo[] = [];
  const ended: ModelResponseInfo[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gw-cli-'));
    model = await startScriptedModel({
      script: [
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo hello > out.txt', description: 'Write out.txt' } }, usage: { input_tokens: 100, output_tokens: 10 } },
        { when: 'tools', text: 'Done.', usage: { input_tokens: 120, output_tokens: 2, cache_read_input_tokens: 90 } },
      ],
    });
    gateway = await createModelGateway({
      upstreamBaseUrl: model.url,
      upstreamApiKey: REAL_KEY,
      socketDir: join(root, 'sockets'),
      log: silentLogger(),
      onRequest: (info) => started.push(info),
      onResponse: (info) => ended.push(info),
    });
  });
  after(async () => {
    await gateway.close();
    await model.close();
    await rm(root, { recursive: true, force: true });
  });

  it('runs a turn over the session socket with only the session token', { timeout: 60_000 }, async (t) => {
    const session = await gateway.openSession('sesn_cli');
    const [home, config, tmp, cwd] = ['home', 'config', 'tmp', 'work'].map((d) => join(root, d)) as [string, string, string, string];
    await Promise.all([home, config, tmp, cwd].map((d) => mkdir(d, { recursive: true })));
    const messages: SDKMessage[] = [];
    let stderr = '';
    const t0 = performance.now();
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
          // With ANTHROPIC_UNIX_SOCKET the CLI sends model calls over the socket, but it still
          // needs an http base URL: without one it hangs silently before its first request.
          ANTHROPIC_UNIX_SOCKET: session.socketPath,
          ANTHROPIC_BASE_URL: 'http://localhost',
          ANTHROPIC_API_KEY: session.token,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          IS_SANDBOX: '1',
        },
        stderr: (data) => {
          stderr += data;
        },
      },
    })) {
      messages.push(message);
    }
    t.diagnostic(`query() wall time: ${Math.round(performance.now() - t0)} ms`);
    const result = messages.at(-1);
    assert.equal(result?.type, 'result', stderr);
    assert.equal(result.subtype, 'success', stderr);
    assert.equal(await readFile(join(cwd, 'out.txt'), 'utf8'), 'hello\n');

    const upstream = model.messageRequests();
    assert.equal(upstream.length, 2);
    for (const r of upstream) {
      assert.equal(r.headers['x-api-key'], REAL_KEY);
      assert.ok(!JSON.stringify(r.headers).includes(session.token));
    }
    assert.equal(started.length, 2);
    assert.deepEqual(
      ended.map((e) => [e.sessionId, e.status, e.usage.input_tokens, e.usage.output_tokens, e.usage.cache_read_input_tokens, e.error]),
      [
        ['sesn_cli', 200, 100, 10, 0, undefined],
        ['sesn_cli', 200, 120, 2, 90, undefined],
      ],
    );
    assert.equal(ended[0]?.model, started[0]?.model);
  });
});
