import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';

/**
 * `bin/agenthost` as a user runs it: a child process with its own
 * environment, checked by exit code, stdout, stderr and the files it leaves.
 */

const BIN = fileURLToPath(new URL('../bin/agenthost', import.meta.url));

/** The parent's environment without any agenthost or upstream settings, plus `extra`. */
function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AGENTHOST_') && !k.startsWith('ANTHROPIC_')) env[k] = v;
  }
  return { ...env, ...extra };
}

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves with the first match of `re` in stdout. */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function startCli(args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout: (re, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (!m) return;
          cleanup();
          resolve(m);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${re} on stdout after ${timeoutMs} ms; stdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`exited before printing ${re}; stdout: ${out}\nstderr: ${err}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.on('exit', onExit);
        check();
      }),
  };
}

/** Runs the CLI to completion. */
async function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  // Let the pipes drain.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function stop(cli: Cli | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return;
  cli.child.kill('SIGTERM');
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), 10_000);
  await cli.exited;
  clearTimeout(timer);
}

describe('bin/agenthost', { timeout: 300_000 }, () => {
  let tmp: string;
  let model: Cli | undefined;
  let modelUrl: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'agenthost-cli-'));
    const script = join(tmp, 'script.json');
    await writeFile(
      script,
      JSON.stringify({
        steps: [
          { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo made-by-run > result.txt' } } },
          { when: 'tools', text: 'all done' },
        ],
      }),
    );
    model = startCli(['scripted-model', '--script', script, '--port', '0'], {});
    modelUrl = (await model.waitForStdout(/^(http:\/\/127\.0\.0\.1:\d+)\s*$/m))[1]!;
  });

  after(async () => {
    await stop(model);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('scripted-model prints its URL and serves the script', async () => {
    assert.match(modelUrl, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const res = await fetch(`${modelUrl}/v1/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { type: string }).type, 'error');
  });

  it('run "make result.txt" runs the task in DIR, prints tool calls and the answer, and the cost on stderr', async () => {
    const work = await mkdtemp(join(tmp, 'work-'));
    const dataDir = join(tmp, 'run-data');
    const result = await runCli(['run', 'make result.txt', '--dir', work], {
      AGENTHOST_DATA_DIR: dataDir,
      ANTHROPIC_BASE_URL: modelUrl,
      ANTHROPIC_API_KEY: 'test-upstream-key',
    });
    const context = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    assert.equal(result.code, 0, context);

    const lines = result.stdout.split('\n');
    const toolLine = lines.findIndex((l) => /\bbash\b/i.test(l) && l.includes('echo made-by-run > result.txt'));
    assert.ok(toolLine >= 0, `a line shows the Bash call; ${context}`);
    const doneLine = lines.findIndex((l) => l.trim() === 'all done');
    assert.ok(doneLine > toolLine, `"all done" follows the tool call; ${context}`);

    const summary = result.stderr.match(/done — (\d+) input \/ (\d+) output tokens, about \$(\d+\.\d{4})/);
    assert.ok(summary, `a token and cost summary on stderr; ${context}`);
    assert.ok(Number(summary[1]) > 0 && Number(summary[2]) > 0, `token counts are real: ${summary[0]}`);
    assert.match(result.stderr, new RegExp(`running in ${work.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    assert.equal(await readFile(join(work, 'result.txt'), 'utf8'), 'made-by-run\n');
    assert.equal(result.stdout.includes('test-upstream-key') || result.stderr.includes('test-upstream-key'), false, 'the upstream key is never printed');
  });

  it('keys create prints a key that authenticates against serve on the same data dir; serve exits 0 on SIGTERM', async () => {
    const dataDir = join(tmp, 'serve-data');
    const created = await runCli(['keys', 'create', '--workspace', 'acme'], { AGENTHOST_DATA_DIR: dataDir });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /workspace acme/);
    const key = created.stdout.trim().split(/\s+/).at(-1)!;
    assert.match(key, /^sk-ah-[A-Za-z0-9_-]{20,}$/);

    const port = await freePort();
    let server: Cli | undefined;
    try {
      server = startCli(['serve'], {
        AGENTHOST_DATA_DIR: dataDir,
        AGENTHOST_PORT: String(port),
        AGENTHOST_LOG_LEVEL: 'warn',
        ANTHROPIC_BASE_URL: modelUrl,
        ANTHROPIC_API_KEY: 'test-upstream-key',
      });
      const url = (await server.waitForStdout(/agenthost listening on (http:\/\/\S+)/))[1]!;
      assert.equal(url, `http://127.0.0.1:${port}`);

      const client = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 });
      const agents = [];
      for await (const a of client.beta.agents.list()) agents.push(a);
      assert.deepEqual(agents, []);
      const bad = new Anthropic({ baseURL: url, apiKey: `${key}x`, maxRetries: 0 });
      await assert.rejects(async () => bad.beta.agents.list(), Anthropic.AuthenticationError);

      server.child.kill('SIGTERM');
      const code = await server.exited;
      assert.equal(code, 0, `serve exit; stderr: ${server.stderr()}`);
      await assert.rejects(fetch(`${url}/healthz`), 'the port is closed after shutdown');
    } finally {
      await stop(server);
    }
  });

  it('an unknown command exits 1 with the usage on stderr', async () => {
    const result = await runCli(['frobnicate'], {});
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unknown command: frobnicate/);
    assert.match(result.stderr, /usage: agenthost <command>/);
    assert.match(result.stderr, /serve/);
    assert.equal(result.stdout, '');
  });

  it('bad arguments to run and keys exit 1 with a message', async () => {
    const dataDir = join(tmp, 'usage-data');
    const noTask = await runCli(['run', '--dir', tmp], { AGENTHOST_DATA_DIR: dataDir });
    assert.equal(noTask.code, 1);
    assert.match(noTask.stderr, /usage: agenthost run "TASK"/);
    const noDir = await runCli(['run', 'do it', '--dir', join(tmp, 'missing-dir')], { AGENTHOST_DATA_DIR: dataDir });
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /not a directory: .*missing-dir/);
    const before = statSync(tmp);
    const otherUser = await runCli(['run', 'do it', '--dir', tmp], { AGENTHOST_DATA_DIR: dataDir, AGENTHOST_DEFAULT_PROVIDER: 'gvisor' });
    assert.equal(otherUser.code, 1);
    assert.match(otherUser.stderr, /a gvisor sandbox would write as uid 65536.*AGENTHOST_DEFAULT_PROVIDER=bwrap/s);
    assert.equal(statSync(tmp).uid, before.uid);
    const badName = await runCli(['keys', 'create', '--workspace', 'no spaces!'], { AGENTHOST_DATA_DIR: dataDir });
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /workspace names are/);
    assert.doesNotMatch(badName.stdout, /sk-ah-/, 'no key was printed');
  });

  it('invalid configuration exits 2 with a message naming the variable', async () => {
    const result = await runCli(['serve'], { AGENTHOST_PORT: 'abc', AGENTHOST_DATA_DIR: join(tmp, 'never') });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /invalid configuration/);
    assert.match(result.stderr, /AGENTHOST_PORT/);
    assert.equal(result.stdout, '', 'nothing started');
  });
});
