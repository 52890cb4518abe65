import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/api/app.js';
import { createApiKey } from '../../src/api/auth.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { PostgresStore, type Store, openStore } from '../../src/store/index.js';

/**
 * Boots the real HTTP server on 127.0.0.1:0 over a real store (SQLite in a
 * temp dir, or PostgreSQL in a schema of its own) and hands back official
 * `@anthropic-ai/sdk` clients pointed at it. `close()` undoes everything.
 *
 *   const server = await startTestServer({
 *     store: 'postgres',
 *     routes: (app, { store }) => registerAgentRoutes(app, new AgentService({ store })),
 *   });
 *   await server.client.beta.agents.create({ name: 'a', model: 'claude-opus-4-8' });
 *   await server.close();
 */

export type TestBackend = 'sqlite' | 'postgres';

/** Both backends, for `for (const backend of TEST_BACKENDS) describe(...)`. */
export const TEST_BACKENDS: readonly TestBackend[] = ['sqlite', 'postgres'];

/** PostgreSQL for tests; AGENTHOST_TEST_DATABASE_URL overrides. */
export const TEST_DATABASE_URL = process.env.AGENTHOST_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** What the `routes` callback gets besides the app: the pieces services are built from. */
export interface TestServerContext {
  store: Store;
  dataDir: string;
  log: Logger;
}

export interface TestServerOptions {
  /** Default 'sqlite'. */
  store?: TestBackend;
  /** Registers routes inside the authenticated /v1 scope (see `buildApp`). */
  routes: (app: FastifyInstance, context: TestServerContext) => void | Promise<void>;
  /** Name of the workspace that `key` and `client` belong to. Default 'test'. */
  workspace?: string;
  /** Default 1 MiB. */
  bodyLimit?: number;
  /** Default: silent. */
  log?: Logger;
  /** Extra readiness check for GET /readyz. */
  ready?: () => Promise<void>;
  /** Options passed to every client the harness makes (`baseURL`, `apiKey` and `maxRetries` are set by it). */
  clientOptions?: ConstructorParameters<typeof Anthropic>[0];
  /** Runs before the store is closed, e.g. to stop services the routes started. */
  beforeClose?: () => Promise<void>;
}

export interface TestServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** An API key of `workspaceId`. */
  key: string;
  workspaceId: string;
  /** Official client with `key`, `maxRetries: 0`. */
  client: Anthropic;
  /** A client for a key of another (or the same, by name) workspace, created on demand. */
  newClient(workspaceName: string): Promise<Anthropic>;
  /** A fresh key of a workspace, for tests that call the API without the client. */
  newKey(workspaceName: string): Promise<{ key: string; workspaceId: string }>;
  /** Headers for a direct `fetch` with `key` (JSON, beta header set). */
  headers(extra?: Record<string, string>): Record<string, string>;
  store: Store;
  app: FastifyInstance;
  dataDir: string;
  backend: TestBackend;
  close(): Promise<void>;
}

let schemaCounter = 0;

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function openTestStore(backend: TestBackend, dataDir: string, log: Logger): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  if (backend === 'sqlite') {
    return { store: await openStore({ dataDir, log }), cleanup: async () => undefined };
  }
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${schemaCounter++}`;
  const store = new PostgresStore(TEST_DATABASE_URL, { schema, log, max: 5 });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    await dropSchema(schema).catch(() => undefined);
    throw error;
  }
  return { store, cleanup: () => dropSchema(schema) };
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const backend = options.store ?? 'sqlite';
  const log = options.log ?? silentLogger();
  const dataDir = await mkdtemp(join(tmpdir(), 'agenthost-test-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(dataDir, { recursive: true, force: true })];
  const runCleanups = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  };

  try {
    const { store, cleanup } = await openTestStore(backend, dataDir, log);
    cleanups.push(cleanup, () => store.close());

    const context: TestServerContext = { store, dataDir, log };
    const app = await buildApp({
      log,
      store,
      bodyLimit: options.bodyLimit ?? 1024 * 1024,
      routes: (v1) => options.routes(v1, context),
      ...(options.ready ? { ready: options.ready } : {}),
    });
    cleanups.push(() => app.close());
    if (options.beforeClose) cleanups.push(options.beforeClose);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('server did not report a TCP address');
    const url = `http://127.0.0.1:${address.port}`;

    const makeClient = (apiKey: string) => new Anthropic({ ...options.clientOptions, baseURL: url, apiKey, maxRetries: 0 });
    const newKey = async (workspaceName: string) => {
      const { key, workspaceId } = await createApiKey(store, workspaceName);
      return { key, workspaceId };
    };
    const main = await newKey(options.workspace ?? 'test');

    return {
      url,
      key: main.key,
      workspaceId: main.workspaceId,
      client: makeClient(main.key),
      newClient: async (workspaceName) => makeClient((await newKey(workspaceName)).key),
      newKey,
      headers: (extra = {}) => ({
        'content-type': 'application/json',
        'x-api-key': main.key,
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'managed-agents-2026-04-01',
        ...extra,
      }),
      store,
      app,
      dataDir,
      backend,
      close: runCleanups,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}
