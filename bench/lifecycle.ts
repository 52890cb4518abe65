/**
 * Hibernate and resume, measured with the real Claude Code CLI in the default
 * sandbox and the scripted model as upstream:
 *
 *   - hibernate: process and sandbox stopped, workspace saved (ms)
 *   - resume: next message → first model request of the restored process (ms)
 *   - memory: RSS of a live idle session (its sandbox and Claude Code
 *     processes) against what a hibernated one costs the server process
 *
 * Usage: node --import tsx bench/lifecycle.ts [--runs N] [--json FILE]
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
import { treeMemoryKiB } from './harness.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, json: { type: 'string' } } });
const runs = Number(values.runs);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const model = await startScriptedModel();
const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-bench-lifecycle-'));
const server = await startServer(
  loadConfig({
    AGENTHOST_PORT: '0',
    AGENTHOST_DATA_DIR: dataDir,
    AGENTHOST_LOG_LEVEL: 'silent',
    AGENTHOST_REAPER_INTERVAL_MS: '600000',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench-upstream-key',
  }),
  silentLogger(),
);

try {
  const { key, workspaceId } = await createApiKey(server.store, 'bench');
  const client = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0 });
  const agent = await client.beta.agents.create({ name: 'bench', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const env = await client.beta.environments.create({ name: 'bench', config: { type: 'cloud', lifecycle: { pattern: 'hybrid' } } as never });
  model.setScript([{ when: 'tools', repeat: true, text: 'ok' }]);

  const waitIdle = async (id: string) => {
    for (;;) {
      const s = await client.beta.sessions.retrieve(id);
      if (s.status === 'idle' && (s as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state === 'live') return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const hibernateMs: number[] = [];
  const resumeMs: number[] = [];
  const liveRssKiB: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: env.id,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'hello' }] }],
    });
    await waitIdle(session.id);
    const before = (await treeMemoryKiB(process.pid, { self: false })).rss;

    const t0 = performance.now();
    await server.engine.hibernate({ id: session.id, workspaceId });
    const hibernated = performance.now() - t0;
    const after = (await treeMemoryKiB(process.pid, { self: false })).rss;

    const requests = model.messageRequests().length;
    const wall0 = Date.now();
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'again' }] }] });
    for (;;) {
      const first = model.messageRequests().slice(requests).find((r) => Array.isArray((r.body as { tools?: unknown }).tools));
      if (first) {
        if (i > 0) resumeMs.push(first.receivedAt.getTime() - wall0);
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitIdle(session.id);
    if (i > 0) {
      hibernateMs.push(hibernated);
      liveRssKiB.push(before - after);
    }
    await client.beta.sessions.delete(session.id);
  }

  const result = {
    runs,
    hibernate_ms_p50: Math.round(median(hibernateMs)),
    resume_to_first_model_request_ms_p50: Math.round(median(resumeMs)),
    live_idle_session_rss_mib_p50: Math.round(median(liveRssKiB) / 1024),
    hibernated_session_cost: 'store rows (session, events, transcript) and its workspace snapshot; no process',
  };
  process.stdout.write(
    [
      `agenthost hibernate/resume (bwrap, ${runs} runs, real Claude Code, scripted model)`,
      `  hibernate                          p50 ${result.hibernate_ms_p50} ms`,
      `  resume → first model request       p50 ${result.resume_to_first_model_request_ms_p50} ms`,
      `  live idle session processes (RSS)  p50 ${result.live_idle_session_rss_mib_p50} MiB; hibernated: 0 MiB of processes`,
      '',
    ].join('\n'),
  );
  if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2));
} finally {
  await server.close();
  await model.close();
  await rm(dataDir, { recursive: true, force: true });
}
