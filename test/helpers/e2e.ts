import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { createApiKey } from '../../src/api/auth.js';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { pino } from 'pino';
import type { TestEngine } from '../../src/sandbox/docker/podman-service.js';
import { createSandboxProvider, type SandboxProviderName } from '../../src/sandbox/index.js';
import { startServer, type Server } from '../../src/server.js';
import { openStore, PostgresStore, type Store } from '../../src/store/index.js';
import { startScriptedModel, type ScriptedModel } from '../../src/testing/scripted-model/index.js';
import { TEST_DATABASE_URL, type TestBackend } from './harness.js';
import pg from 'pg';

/** The upstream credential the scripted model expects; it must never reach a sandbox, event or log. */
export const UPSTREAM_KEY = 'sk-ant-upstream-7f3c9a1e5b2d4c6e8a0b';

export interface E2E {
  server: Server;
  model: ScriptedModel;
  client: Anthropic;
  workspaceId: string;
  dataDir: string;
  newClient(workspace: string): Promise<Anthropic>;
  close(): Promise<void>;
}

export interface E2EOptions {
  backend: TestBackend;
  provider?: SandboxProviderName;
  /** The engine and image of the docker provider. */
  engine?: TestEngine;
  maxTurns?: number;
  reaperIntervalMs?: number;
  /** Further configuration variables, e.g. AGENTHOST_FILE_SIZE_LIMIT. */
  env?: Record<string, string>;
  /** Stands between the server and its store, e.g. to make some writes fail. */
  wrapStore?: (store: Store) => Store;
  /** The server's logger; silent unless given (see `capturedLog`). */
  log?: Logger;
}

/**
 * A real agenthost (real store, real sandbox, real Claude Code CLI) whose
 * upstream model is the scripted model server, and a client for it.
 */
export async function startE2E(o: E2EOptions): Promise<E2E> {
  const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-e2e-'));
  const model = await startScriptedModel();
  let store: Store | undefined;
  let schema: string | undefined;
  if (o.backend === 'postgres') {
    schema = `e2e_${process.pid}_${Date.now().toString(36)}`;
    store = new PostgresStore(TEST_DATABASE_URL, { schema, max: 5 });
    await store.migrate();
  }
  if (o.wrapStore) store = o.wrapStore(store ?? (await openStore({ dataDir, log: silentLogger() })));
  const config = loadConfig({
    AGENTHOST_PORT: '0',
    AGENTHOST_DATA_DIR: dataDir,
    AGENTHOST_DEFAULT_PROVIDER: o.provider ?? 'bwrap',
    AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true',
    AGENTHOST_MAX_TURNS: String(o.maxTurns ?? 8),
    AGENTHOST_LOG_LEVEL: 'silent',
    AGENTHOST_REAPER_INTERVAL_MS: String(o.reaperIntervalMs ?? 5_000),
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    // Warm pools start extra Claude Code processes; the suites that test them turn them on.
    AGENTHOST_WARM_POOL_MAX: '0',
    ...(o.engine ? { AGENTHOST_DOCKER_HOST: o.engine.host, AGENTHOST_DOCKER_IMAGE: o.engine.image } : {}),
    ...o.env,
  });
  const server = await startServer(config, o.log ?? silentLogger(), store ? { store } : {});
  const { key, workspaceId } = await createApiKey(server.store, 'e2e');
  const makeClient = (apiKey: string) => new Anthropic({ baseURL: server.url, apiKey, maxRetries: 0, timeout: 120_000 });
  return {
    server,
    model,
    client: makeClient(key),
    workspaceId,
    dataDir,
    newClient: async (workspace) => makeClient((await createApiKey(server.store, workspace)).key),
    close: async () => {
      await server.close();
      await model.close();
      if (schema) {
        const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Why the provider cannot run sandboxes here (its `check()`), or undefined when it can. */
export async function providerUnavailable(name: SandboxProviderName, engine?: TestEngine): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'agenthost-check-'));
  try {
    await (await createSandboxProvider(name, { runtimeDir: dir, log: silentLogger(), ...(engine ? { docker: engine } : {}) })).check();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 50 ms until it returns a value other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type AnyEvent = { id: string; type: string; [k: string]: unknown };

/**
 * Reads a session's stream until `until` says stop, returning every event
 * seen. Fails after `timeoutMs`.
 */
export async function readStream(
  stream: AsyncIterable<unknown> & { controller: AbortController },
  until: (e: AnyEvent, all: AnyEvent[]) => boolean,
  timeoutMs = 90_000,
): Promise<AnyEvent[]> {
  const seen: AnyEvent[] = [];
  const timer = setTimeout(() => stream.controller.abort(), timeoutMs);
  try {
    for await (const raw of stream) {
      const e = raw as AnyEvent;
      seen.push(e);
      if (until(e, seen)) return seen;
    }
  } finally {
    clearTimeout(timer);
    stream.controller.abort();
  }
  throw new Error(`stream ended before the expected event; saw: ${seen.map((e) => e.type).join(', ')}`);
}

export const isIdle = (e: AnyEvent): boolean => e.type === 'session.status_idle';

/** Event types without the span and status noise, for order assertions. */
export function agentTrace(events: AnyEvent[]): string[] {
  return events.filter((e) => e.type.startsWith('agent.') || e.type === 'session.status_idle').map((e) => e.type);
}

export function text(e: AnyEvent): string {
  return ((e.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text ?? '').join('');
}

/** Live processes whose command line contains `needle`. */
export async function processesMatching(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.replace(/\0/g, ' ').includes(needle)) pids.push(Number(name));
  }
  return pids;
}

/**
 * A logger at `info` that keeps, parsed, the lines whose message `keep`
 * accepts (the rest are dropped), for tests that read what the server logged.
 */
export function capturedLog(keep: (msg: string) => boolean): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    {
      write(line: string) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.msg === 'string' && keep(parsed.msg)) lines.push(parsed);
      },
    },
  );
  return { log, lines };
}

/** Sum and count of a Prometheus histogram (all label sets) from the server's `GET /metrics`. */
export async function histogram(url: string, name: string): Promise<{ sum: number; count: number }> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const total = (suffix: string) =>
    body
      .split('\n')
      .filter((l) => l.startsWith(`${name}_${suffix}`))
      .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { sum: total('sum'), count: total('count') };
}
