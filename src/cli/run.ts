import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../api/auth.js';
import type { Config } from '../config/config.js';
import { createLogger } from '../logger.js';
import { SANDBOX_HOST_UID } from '../sandbox/ownership.js';
import { startServer } from '../server.js';
import { internalOf } from '../sessions/session-body.js';

type Event = { id: string; type: string; [k: string]: unknown };

const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** One line of terminal progress for an event, or null to print nothing. */
export function describeEvent(e: Event): string | null {
  switch (e.type) {
    case 'agent.tool_use':
      return `→ ${String(e.name)} ${clip(JSON.stringify(e.input ?? {}))}`;
    case 'agent.tool_result': {
      const text = ((e.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text ?? '').join(' ');
      return `  ${e.is_error ? '✗' : '✓'} ${clip(text.replace(/\s+/g, ' ').trim() || '(no output)')}`;
    }
    case 'agent.message':
      return ((e.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text ?? '').join('\n');
    case 'session.error':
      return `error: ${String((e.error as { message?: string } | undefined)?.message ?? 'unknown')}`;
    default:
      return null;
  }
}

/**
 * `agenthost run "TASK" [--dir DIR]`: a one-shot task. Starts an embedded
 * agenthost on a loopback port, runs the task in a sandbox whose workspace is
 * DIR, prints tool calls as they happen, then the result and its cost.
 */
export async function run(argv: string[], config: Readonly<Config>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dir: { type: 'string' }, model: { type: 'string' } },
  });
  const task = positionals.join(' ').trim();
  if (!task) {
    process.stderr.write('usage: agenthost run "TASK" [--dir DIR] [--model MODEL]\n');
    return 1;
  }
  const dir = resolve(values.dir ?? process.cwd());
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    process.stderr.write(`not a directory: ${dir}\n`);
    return 1;
  }
  // gVisor and Docker sandboxes write as their own user, and take the workspace for it.
  if (config.defaultProvider === 'gvisor' || config.defaultProvider === 'docker') {
    process.stderr.write(
      `agenthost run works in ${dir} as you; a ${config.defaultProvider} sandbox would write as uid ${config.sandboxUid ?? SANDBOX_HOST_UID} and take the directory's ` +
        'files for that user. Run it with AGENTHOST_DEFAULT_PROVIDER=bwrap.\n',
    );
    return 1;
  }

  const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
  // The sandbox writes in the caller's directory as the caller.
  const server = await startServer({ ...config, port: 0, host: '127.0.0.1' }, log, { sandboxesAsServerUser: true });
  try {
    const { key, workspaceId } = await createApiKey(server.store, 'cli');
    const client = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0 });
    const agent = await client.beta.agents.create({
      name: 'agenthost run',
      model: values.model ?? config.defaultModel,
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const environment = await client.beta.environments.create({ name: 'agenthost run', config: { type: 'cloud' } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: clip(task, 80) });
    server.engine.bindWorkspace(session.id, dir);
    process.stderr.write(`agenthost: running in ${dir} (session ${session.id})\n`);

    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: task }] }] });
    let failed = false;
    for await (const event of stream as AsyncIterable<Event>) {
      const line = describeEvent(event);
      if (line) process.stdout.write(`${line}\n`);
      if (event.type === 'session.error') failed = true;
      if (event.type === 'session.status_idle') {
        const stop = event.stop_reason as { type: string };
        if (stop.type === 'requires_action') continue;
        if (stop.type !== 'end_turn') failed = true;
        break;
      }
    }

    const done = await client.beta.sessions.retrieve(session.id);
    const usage = done.usage;
    const stored = await server.store.getSession(workspaceId, session.id);
    const cost = stored ? internalOf(stored.body).cost_usd : undefined;
    process.stderr.write(
      `agenthost: ${failed ? 'failed' : 'done'} — ${usage.input_tokens ?? 0} input / ${usage.output_tokens ?? 0} output tokens` +
        `${typeof cost === 'number' ? `, about $${cost.toFixed(4)}` : ''}\n`,
    );
    await client.beta.sessions.archive(session.id);
    return failed ? 1 : 0;
  } finally {
    await server.close();
  }
}
