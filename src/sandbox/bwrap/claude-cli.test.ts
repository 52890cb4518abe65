import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { silentLogger } from '../../logger.js';
import { collect } from '../contract.js';
import type { Sandbox, SandboxSpec } from '../provider.js';
import { BwrapProvider } from './provider.js';

/**
 * The real Claude Code CLI inside a bwrap sandbox: `--version`, then a whole
 * query() through spawnClaudeCodeProcess against a minimal Messages API on a
 * Unix socket (the sandbox reaches it only through its socat bridge).
 * Timings are printed as diagnostics.
 */

function findClaudeBinary(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve(`@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}/package.json`);
    return join(dirname(pkg), 'claude');
  } catch {
    return undefined;
  }
}

/** One text reply as Anthropic SSE, whatever was asked. */
function fakeMessagesApi(requests: string[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} key=${req.headers['x-api-key'] ?? ''}`);
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not here' } }));
        return;
      }
      const model = (JSON.parse(body) as { model?: string }).model ?? 'claude-test';
      const usage = { input_tokens: 10, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
      const message = { id: 'msg_sandbox_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage };
      const events: Array<[string, unknown]> = [
        ['message_start', { type: 'message_start', message }],
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hello from the sandbox' } }],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }],
        ['message_stop', { type: 'message_stop' }],
      ];
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_sandbox_1' });
      res.end(events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
    });
  };
}

describe('bwrap: the real Claude Code CLI', () => {
  const claude = findClaudeBinary();
  let base: string;
  let provider: BwrapProvider;
  let unavailable: string | undefined;
  const requests: string[] = [];
  const server = createServer(fakeMessagesApi(requests));
  let seq = 0;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'ahsb-cli-'));
    provider = new BwrapProvider({ runtimeDir: join(base, 'run'), log: silentLogger() });
    try {
      await provider.check();
    } catch (error) {
      unavailable = `bwrap unavailable: ${(error as Error).message}`;
    }
    if (!claude) unavailable = `no Claude Code binary for ${process.platform}-${process.arch} in node_modules`;
    await new Promise<void>((r) => server.listen(join(base, 'model.sock'), r));
    // As the real gateway does: the sandbox user may be another uid; the token guards the socket.
    chmodSync(join(base, 'model.sock'), 0o666);
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(base, { recursive: true, force: true });
  });

  async function newSandbox(t: TestContext): Promise<{ sandbox: Sandbox; spec: SandboxSpec }> {
    const dir = join(base, `s${++seq}`);
    const spec: SandboxSpec = {
      id: `cli-${process.pid}-${seq}`,
      workspaceId: 'wrkspc_cli',
      workspaceDir: join(dir, 'workspace'),
      configDir: join(dir, 'config'),
      tmpDir: join(dir, 'tmp'),
      gatewaySocket: join(base, 'model.sock'),
      gatewayUrl: 'http://127.0.0.1:9',
    };
    for (const d of [spec.workspaceDir, spec.configDir, spec.tmpDir]) mkdirSync(d, { recursive: true });
    const started = performance.now();
    const sandbox = await provider.create(spec);
    t.diagnostic(`sandbox create: ${(performance.now() - started).toFixed(1)} ms`);
    t.after(() => sandbox.destroy());
    return { sandbox, spec };
  }

  it('starts and prints its version', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const { sandbox, spec } = await newSandbox(t);
    const started = performance.now();
    const r = await collect(sandbox.spawn({ command: claude!, args: ['--version'], cwd: spec.workspaceDir, env: { PATH: '/usr/bin:/bin', HOME: sandbox.homeDir } }));
    t.diagnostic(`claude --version in the sandbox: ${(performance.now() - started).toFixed(1)} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+ \(Claude Code\)/);
  });

  it('runs a whole query() through spawnClaudeCodeProcess, reaching the model only through the gateway socket', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const { sandbox, spec } = await newSandbox(t);
    const started = performance.now();
    let firstMessageMs: number | undefined;
    let stderr = '';
    const messages: Array<{ type: string; subtype?: string; result?: string }> = [];
    for await (const message of query({
      prompt: 'Say hello',
      options: {
        cwd: spec.workspaceDir,
        pathToClaudeCodeExecutable: claude!,
        permissionMode: 'bypassPermissions',
        allowDangerouslySkipPermissions: true,
        settingSources: [],
        env: {
          PATH: '/usr/bin:/bin',
          HOME: sandbox.homeDir,
          CLAUDE_CONFIG_DIR: spec.configDir,
          CLAUDE_CODE_TMPDIR: spec.tmpDir,
          ANTHROPIC_BASE_URL: sandbox.modelBaseUrl,
          ANTHROPIC_API_KEY: 'session-token',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        },
        stderr: (data) => (stderr += data),
        spawnClaudeCodeProcess: (opts) =>
          sandbox.spawn({ command: opts.command, args: opts.args, cwd: opts.cwd ?? spec.workspaceDir, env: opts.env, signal: opts.signal }),
      },
    })) {
      firstMessageMs ??= performance.now() - started;
      messages.push(message as never);
    }
    t.diagnostic(`query(): first message after ${firstMessageMs?.toFixed(0)} ms, result after ${(performance.now() - started).toFixed(0)} ms`);
    const result = messages.find((m) => m.type === 'result');
    assert.ok(result, `no result; stderr: ${stderr.slice(-2000)}`);
    assert.equal(result.subtype, 'success', stderr.slice(-2000));
    assert.equal(result.result, 'hello from the sandbox');
    assert.ok(requests.some((r) => r.startsWith('POST /v1/messages') && r.endsWith('key=session-token')), requests.join('\n'));
  });
});
