import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { createApiKey } from '../src/api/auth.js';
import { loadConfig } from '../src/config/config.js';
import { silentLogger, type Logger } from '../src/logger.js';
import { startServer, type Server } from '../src/server.js';
import { PostgresStore, type Store } from '../src/store/index.js';
import { startScriptedModel, type ScriptedModel } from '../src/testing/scripted-model/index.js';
import { TEST_DATABASE_URL, type TestBackend } from './helpers/harness.js';
import { UPSTREAM_KEY, isIdle, readStream, type AnyEvent } from './helpers/e2e.js';

export interface OpsServer {
  server: Server;
  model: ScriptedModel;
  client: Anthropic;
  key: string;
  workspaceId: string;
  dataDir: string;
  /** A client for another workspace (created if new), and its key. */
  newClient(workspace: string): Promise<{ client: Anthropic; key: string; workspaceId: string }>;
  close(): Promise<void>;
}

/**
 * A real agenthost (store, bwrap sandbox, Claude Code CLI) in front of the
 * scripted model, configured through `env` as `bin/agenthost serve` would be.
 */
export async function startOps(o: { backend: TestBackend; env?: Record<string, string>; log?: Logger }): Promise<OpsServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-ops-'));
  const model = await startScriptedModel();
  let store: Store | undefined;
  let schema: string | undefined;
  if (o.backend === 'postgres') {
    schema = `ops_${process.pid}_${Date.now().toString(36)}`;
    store = new PostgresStore(TEST_DATABASE_URL, { schema, max: 5 });
    await store.migrate();
  }
  const config = loadConfig({
    AGENTHOST_PORT: '0',
    AGENTHOST_DATA_DIR: dataDir,
    AGENTHOST_DEFAULT_PROVIDER: 'bwrap',
    AGENTHOST_MAX_TURNS: '8',
    AGENTHOST_LOG_LEVEL: 'silent',
    // No warm pools unless a test asks: their extra sandboxes and tokens would blur what it counts.
    AGENTHOST_WARM_POOL_MAX: '0',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: UPSTREAM_KEY,
    ...o.env,
  });
  const server = await startServer(config, o.log ?? silentLogger(), store ? { store } : {});
  const makeClient = (apiKey: string) => new Anthropic({ baseURL: server.url, apiKey, maxRetries: 0, timeout: 120_000 });
  const { key, workspaceId } = await createApiKey(server.store, 'ops');
  return {
    server,
    model,
    client: makeClient(key),
    key,
    workspaceId,
    dataDir,
    newClient: async (workspace) => {
      const created = await createApiKey(server.store, workspace);
      return { client: makeClient(created.key), key: created.key, workspaceId: created.workspaceId };
    },
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

/** Sends a message and reads the session's stream until the turn's idle (failing after `timeoutMs`). */
export async function runTurn(client: Anthropic, sessionId: string, message: string, timeoutMs = 90_000): Promise<AnyEvent[]> {
  const stream = await client.beta.sessions.events.stream(sessionId);
  await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
  return readStream(stream, isIdle, timeoutMs);
}

/** Parses Prometheus text into `name{labels}` → value (labels as written, sorted by prom-client). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
export function metricSum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace === -1 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const labelText = brace === -1 ? '' : key.slice(brace);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}
