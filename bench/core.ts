/**
 * Core latency figures, measured with the real Claude Code CLI in the default
 * sandbox and the scripted model as upstream:
 *
 *   - session create → first model request (the CLI's first main-loop call)
 *   - one-tool task end to end: create with initial_events → Bash → reply → idle
 *
 * Each run is a fresh session (a cold sandbox and process). Prints medians,
 * p90 and every sample. Usage: npm run bench [-- --runs N] [--json FILE]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { silentLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';
import { startScriptedModel } from '../src/testing/scripted-model/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, json: { type: 'string' }, provider: { type: 'string', default: 'bwrap' } } });
const runs = Number(values.runs);

function stats(samples: number[]): { p50: number; p90: number; samples: number[] } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p90: at(0.9), samples: samples.map((s) => Math.round(s)) };
}

const model = await startScriptedModel();
const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-bench-'));
const server = await startServer(
  loadConfig({
    AGENTHOST_PORT: '0',
    AGENTHOST_DATA_DIR: dataDir,
    AGENTHOST_DEFAULT_PROVIDER: values.provider,
    AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true',
    AGENTHOST_LOG_LEVEL: 'silent',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench-upstream-key',
  }),
  silentLogger(),
);

try {
  const { key } = await createApiKey(server.store, 'bench');
  const client = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0 });
  const agent = await client.beta.agents.create({ name: 'bench', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const env = await client.beta.environments.create({ name: 'bench', config: { type: 'cloud' } });

  const toFirstRequest: number[] = [];
  const endToEnd: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo benchmark > out.txt' } } },
      { when: 'tools', text: 'done' },
    ]);
    const mainRequestsBefore = model.messageRequests().length;
    const t0 = performance.now();
    const wall0 = Date.now();
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: env.id,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'write out.txt' }] }],
    });
    // Poll rather than stream: the figure should include nothing but the server's own work.
    for (;;) {
      const s = await client.beta.sessions.retrieve(session.id);
      const done = s.status === 'idle' && model.pending === 0;
      if (done) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const total = performance.now() - t0;
    const first = model
      .messageRequests()
      .slice(mainRequestsBefore)
      .find((r) => Array.isArray((r.body as { tools?: unknown }).tools));
    // The first run warms the page cache for the CLI binary; it is not counted.
    if (i > 0 && first) {
      toFirstRequest.push(first.receivedAt.getTime() - wall0);
      endToEnd.push(total);
    }
    await client.beta.sessions.delete(session.id);
  }

  const result = {
    provider: values.provider,
    runs,
    create_to_first_model_request_ms: stats(toFirstRequest),
    one_tool_task_end_to_end_ms: stats(endToEnd),
  };
  process.stdout.write(
    [
      `agenthost core latency (${values.provider}, ${runs} cold sessions, real Claude Code, scripted model)`,
      `  create → first model request   p50 ${result.create_to_first_model_request_ms.p50.toFixed(0)} ms   p90 ${result.create_to_first_model_request_ms.p90.toFixed(0)} ms`,
      `  one-tool task end to end       p50 ${result.one_tool_task_end_to_end_ms.p50.toFixed(0)} ms   p90 ${result.one_tool_task_end_to_end_ms.p90.toFixed(0)} ms`,
      '',
    ].join('\n'),
  );
  if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2));
} finally {
  await server.close();
  await model.close();
  await rm(dataDir, { recursive: true, force: true });
}
