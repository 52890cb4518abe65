import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Cron } from 'croner';
import type { FastifyInstance } from 'fastify';
import { registerApiOrigin } from './api/api-origin.js';
import { buildApp } from './api/app.js';
import { ConnectionGuard } from './api/connection-guard.js';
import { connectionCap, descriptorLimit } from './api/connection-limits.js';
import { registerAgentRoutes } from './api/routes/agents.js';
import { registerConsoleRoutes } from './api/routes/console.js';
import { registerEnvironmentRoutes } from './api/routes/environments.js';
import { registerFileRoutes } from './api/routes/files.js';
import { registerHookRoutes } from './api/routes/hooks.js';
import { registerLimits } from './api/routes/limits.js';
import { registerMetricsRoute } from './api/routes/metrics.js';
import { registerPreviewRoutes } from './api/routes/previews.js';
import { registerSessionRoutes } from './api/routes/sessions.js';
import { registerRequestTracing } from './api/routes/tracing.js';
import { registerWebhookRoutes } from './api/routes/webhooks.js';
import { registerWorkspaceRoutes } from './api/routes/workspace.js';
import { registerTriggerRoutes } from './api/routes/triggers.js';
import type { Config } from './config/config.js';
import { BlobStore } from './files/blobs.js';
import { mountOnFirstStart } from './files/mount.js';
import { collectOutputs } from './files/outputs.js';
import { FileService } from './files/service.js';
import { createEgressProxy, withEgress, type EgressProxyOptions } from './egress/index.js';
import { createModelGateway, type ModelGateway } from './gateway/index.js';
import type { Logger } from './logger.js';
import { BudgetService } from './budgets/budget.js';
import { bundledCliPath, CliVersions } from './claude-code/versions.js';
import { CostMeter } from './ops/cost.js';
import { EventMetrics } from './ops/event-metrics.js';
import { NetnsBridges } from './previews/netns-bridge.js';
import { ConnectionLimiter, RateLimiter } from './ops/limits.js';
import { loadPriceTable } from './ops/pricing.js';
import { startPreviewServer, type PreviewServer } from './previews/preview-server.js';
import { PreviewService } from './previews/previews.js';
import { PromMetrics } from './ops/prom-metrics.js';
import { providerChecks } from './ops/readiness.js';
import { NoopTracing, type Tracing } from './ops/tracing.js';
import { WebhookService } from './webhooks/webhooks.js';
import { AgentService } from './resources/agents.js';
import { EnvironmentService } from './resources/environments.js';
import { createSandboxProvider, type SandboxProviderName } from './sandbox/index.js';
import type { SandboxProvider } from './sandbox/provider.js';
import { SessionEngine } from './sessions/engine.js';
import { LiveSessions } from './sessions/live-sessions.js';
import { ModelSpans } from './sessions/model-spans.js';
import { EventLog } from './sessions/event-log.js';
import { SessionService } from './sessions/service.js';
import { openStore } from './store/index.js';
import { TranscriptStore } from './store/session-store.js';
import { LocalDirBlobStore, restoreSnapshot, saveSnapshot, snapshotKey } from './lifecycle/blob/index.js';
import type { Store } from './store/store.js';
import { TriggerService } from './triggers/service.js';

export interface Server {
  /** Base URL of the API, e.g. http://127.0.0.1:4100 */
  url: string;
  /** Base URL of the preview listener (another origin than the API's), e.g. http://127.0.0.1:4101 */
  previewsUrl: string;
  app: FastifyInstance;
  store: Store;
  engine: SessionEngine;
  gateway: ModelGateway;
  /** Stops sessions, the API, the gateway and the store, in that order. */
  close(): Promise<void>;
}

/**
 * The composition root: reads nothing but `config`, chooses the backends and
 * wires them. `bin/agenthost serve` and the end-to-end tests both start here.
 */
export interface StartOptions {
  /** A store opened by the caller (tests use one per PostgreSQL schema); closed with the server. */
  store?: Store;
  /**
   * bwrap sandboxes run as the server's own user, through a user namespace,
   * even for a root server: `agenthost run` works in the caller's own
   * directory, whose files must stay the caller's.
   */
  sandboxesAsServerUser?: boolean;
  /**
   * How the egress proxy resolves names and dials the one address it checked
   * (default: the host's resolver and a plain TCP connect). Every policy check
   * still runs on what `resolve` answers; tests use it to give an allowed name
   * a public address routed to a local origin.
   */
  egress?: Pick<EgressProxyOptions, 'resolve' | 'connect'>;
}

/** The SDK's bundled Claude Code binary, when its platform package is installed. */
function existingBundledCli(): string | undefined {
  try {
    const path = bundledCliPath();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Where Claude Code binaries live (bundled and installed), for sandboxes that mount them in. */
function cliDirs(dataDir: string): string[] {
  try {
    return [dirname(bundledCliPath()), join(dataDir, 'cli')];
  } catch {
    return [join(dataDir, 'cli')];
  }
}

export async function startServer(config: Readonly<Config>, log: Logger, options: StartOptions = {}): Promise<Server> {
  await mkdir(config.dataDir, { recursive: true });
  const runtimeDir = join(config.dataDir, 'run');
  await mkdir(runtimeDir, { recursive: true });
  const prices = await loadPriceTable(config.pricesFile, config.sandboxUsdPerHour);
  const store = options.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log }));

  const providers = new Map<string, SandboxProvider>();
  const names: SandboxProviderName[] = [...(config.allowProcessProvider ? (['bwrap', 'process'] as const) : (['bwrap'] as const)), ...config.sandboxProviders];
  if (!names.includes(config.defaultProvider)) names.push(config.defaultProvider);
  for (const name of names) {
    const provider = await createSandboxProvider(name, {
      runtimeDir,
      log,
      cgroupRoot: config.cgroupRoot,
      sandboxUid: config.sandboxUid,
      ...(options.sandboxesAsServerUser ? { bwrapIdentity: 'user-namespace' as const } : {}),
      docker: { ...config.docker, readOnlyPaths: cliDirs(config.dataDir) },
    });
    try {
      await provider.check();
      providers.set(name, provider);
    } catch (error) {
      if (name === config.defaultProvider) {
        await store.close();
        throw error;
      }
      log.warn({ provider: name, err: error }, 'sandbox provider unavailable');
    }
  }

  const metrics = new PromMetrics();
  // OpenTelemetry and its exporter load only when an endpoint is set (~15 MiB otherwise held for nothing).
  const tracing: Tracing = config.otlpEndpoint ? (await import('./ops/otel.js')).createOtlpTracing(config.otlpEndpoint) : new NoopTracing();
  const webhooks = new WebhookService({ store, log: log.child({ component: 'webhooks' }), ...config.webhooks });
  const events = new EventLog(store, { observers: [new EventMetrics(metrics), tracing, webhooks] });
  const meter = new CostMeter({ store, prices, metrics, log });
  const cliVersions = new CliVersions({ dataDir: config.dataDir, range: config.cli.range, registry: config.cli.registry });
  const bundledCli = existingBundledCli();
  const budgets = new BudgetService({ store, metrics, onRefused: (workspaceId, reason) => webhooks.budgetRefused(workspaceId, reason) });
  // The sessions this server runs: the engine keeps them, the gateway's model requests are recorded against them.
  const liveSessions = new LiveSessions();
  const spans = new ModelSpans({ sessions: liveSessions, events, log, meter });
  const gateway = await createModelGateway({
    upstreamBaseUrl: config.upstream.baseUrl,
    upstreamApiKey: config.upstream.apiKey,
    upstreamAuthToken: config.upstream.authToken,
    socketDir: join(runtimeDir, 'gateway'),
    log: log.child({ component: 'gateway' }),
    onRequest: (info) => {
      tracing.modelRequestStarted(info);
      void spans.started(info).catch((error: unknown) => log.warn({ err: error }, 'span start failed'));
    },
    onResponse: (info) => {
      metrics.modelRequest({ model: info.model ?? 'unknown', status: info.status, seconds: info.durationMs / 1000, usage: info.usage, ...(info.error ? { errorType: info.error.type } : {}) });
      tracing.modelRequestEnded({ requestId: info.requestId, status: info.status, model: info.model, usage: info.usage, error: info.error ? `${info.error.type}: ${info.error.message}` : undefined });
      void spans
        .ended({ sessionId: info.sessionId, requestId: info.requestId, status: info.status, model: info.model, usage: info.usage, ...(info.error ? { error: `${info.error.type}: ${info.error.message}` } : {}) })
        .catch((error: unknown) => log.warn({ err: error }, 'span end failed'));
    },
  });

  const blobs = new BlobStore(join(config.dataDir, 'files'));
  await blobs.init();
  const files = new FileService({ store, blobs, log });

  // Sandboxes' only network: a proxy per session that enforces its environment's allowlist.
  const egress = await createEgressProxy({ socketDir: join(runtimeDir, 'egress'), log: log.child({ component: 'egress' }), ...options.egress });

  const snapshotBlobs = new LocalDirBlobStore(join(config.dataDir, 'blobs'));
  const engine = new SessionEngine({
    store,
    events,
    log,
    sessions: liveSessions,
    providers,
    defaultProvider: config.defaultProvider,
    gateway: withEgress(gateway, egress),
    dataDir: config.dataDir,
    maxTurns: config.maxTurns,
    defaultModel: config.defaultModel,
    sweepIntervalMs: config.reaperIntervalMs,
    transcripts: new TranscriptStore(store),
    // Hibernated workspaces, as tar.gz blobs (a directory here; the interface admits S3).
    snapshots: {
      save: async (id, dir) => void (await saveSnapshot(snapshotBlobs, id, dir)),
      restore: (id, dir) => restoreSnapshot(snapshotBlobs, id, dir),
      delete: async (id) => void (await snapshotBlobs.delete(snapshotKey(id))),
    },
    metrics,
    meter,
    admitTurn: (session) => budgets.refusal(session.workspaceId),
    maxLiveSessionsPerWorkspace: config.limits.liveSessionsPerWorkspace,
    warmPool: config.warmPool,
    startConcurrency: config.startConcurrency,
    // Named even when it is the SDK's own binary: left to find it, the SDK
    // calls process.report.getReport() on every query(), 10 ms or more of
    // the event loop per session start.
    claudeExecutable: async () => (await cliVersions.executable()) ?? bundledCli,
    // An ephemeral task's outputs/ become files scoped to its session.
    onTaskFinished: async (ref, dir) => void (await collectOutputs({ files, log }, ref, dir)),
    prepareWorkspace: (session, dir) => mountOnFirstStart({ store, blobs, log, events }, session, dir),
  });
  metrics.observeSessions(() => liveSessions.samples());
  const bridges = new NetnsBridges({ dir: join(runtimeDir, 'previews'), log: log.child({ component: 'previews' }) });
  await bridges.init();
  // Previews have a listener (an origin) of their own; this is its public base, known once it listens.
  let previewsPublicUrl = '';
  const previewBase = config.previews.baseUrl ? new URL(config.previews.baseUrl) : undefined;
  const previews = new PreviewService({
    store,
    engine,
    bridges,
    log: log.child({ component: 'previews' }),
    urlOf: (token) => (previewBase ? `${previewBase.protocol}//${token}.${previewBase.host}/` : `${previewsPublicUrl}/previews/${token}/`),
  });
  await engine.recover();
  engine.startReaper();

  const agents = new AgentService({ store });
  const environments = new EnvironmentService({
    store,
    providers: [...providers.keys()],
    defaultProvider: config.defaultProvider,
    warmPoolStatus: (workspaceId, id) => engine.warmPoolStatus(workspaceId, id),
  });
  const sessions = new SessionService({ store, events, engine, providers: new Set(providers.keys()) });
  const triggers = new TriggerService({ store, sessions, log, cronMinIntervalS: config.cronMinIntervalS });

  const fdLimit = descriptorLimit();
  const cap = connectionCap(config.connections.max, fdLimit);
  if (cap.lowered) log.warn({ configured: config.connections.max, max: cap.max, descriptorLimit: fdLimit }, 'AGENTHOST_MAX_CONNECTIONS lowered to fit the descriptor limit (raise ulimit -n to allow more)');
  // One guard for the API's and the previews' listeners: they share the process's descriptors.
  const connections = new ConnectionGuard({ ...config.connections, max: cap.max }, { log: log.child({ component: 'connections' }), metrics });
  const app = await buildApp({
    log,
    store,
    bodyLimit: config.bodyLimit,
    connections,
    metrics,
    checks: providerChecks(providers, config.defaultProvider),
    hooks: (root: FastifyInstance) => {
      if (config.otlpEndpoint) registerRequestTracing(root, tracing);
      registerApiOrigin(root, { previewDomain: previewBase?.hostname });
    },
    routes: async (v1) => {
      registerAgentRoutes(v1, agents);
      registerEnvironmentRoutes(v1, environments);
      registerSessionRoutes(v1, { sessions, events });
      registerWorkspaceRoutes(v1, budgets);
      registerWebhookRoutes(v1, webhooks);
      registerPreviewRoutes(v1, previews);
      const { ratePerS, burst, streamsPerKey, liveSessionsPerWorkspace } = config.limits;
      registerLimits(v1, {
        metrics,
        rate: ratePerS > 0 ? { limiter: new RateLimiter(ratePerS, burst), ratePerS, burst } : undefined,
        streams: streamsPerKey > 0 ? { limiter: new ConnectionLimiter(streamsPerKey), max: streamsPerKey } : undefined,
        liveSessions: liveSessionsPerWorkspace > 0 ? { max: liveSessionsPerWorkspace, engine } : undefined,
      });
      await registerFileRoutes(v1, { files, maxUploadBytes: config.fileSizeLimit });
      registerTriggerRoutes(v1, triggers);
    },
  });
  await registerHookRoutes(app, triggers);
  registerMetricsRoute(app, { exporter: metrics, token: config.metricsToken });
  // The web console at `/`: static files; it uses the /v1 API like any client.
  await registerConsoleRoutes(app);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  let previewServer: PreviewServer;
  try {
    previewServer = await startPreviewServer({
      previews,
      mode: previewBase ? { kind: 'host', domain: previewBase.hostname.toLowerCase() } : { kind: 'path' },
      host: config.host,
      port: config.previews.port,
      secrets: config.metricsToken ? [config.metricsToken] : [],
      log: log.child({ component: 'previews' }),
      connections,
    });
  } catch (error) {
    connections.stop();
    await app.close();
    throw error;
  }
  const previewsUrl = `http://${host}:${previewServer.port}`;
  previewsPublicUrl = config.previews.publicUrl ?? previewsUrl;
  log.info({ url, previewsUrl, dataDir: config.dataDir, store: config.databaseUrl ? 'postgres' : 'sqlite', providers: [...providers.keys()], maxConnections: cap.max, descriptorLimit: fdLimit }, 'agenthost listening');
  webhooks.start();
  previews.start();
  // Minor and patch updates of Claude Code are safe to apply on a schedule; majors wait for `cli update --major`.
  const cliUpdates = config.cli.updateSchedule
    ? new Cron(config.cli.updateSchedule, { timezone: 'UTC', protect: true }, async () => {
        try {
          const result = await cliVersions.update();
          if (result.changed) log.info({ version: result.version }, 'installed a newer Claude Code for new sessions');
          if (result.skippedMajor) log.info({ version: result.skippedMajor }, 'a new major Claude Code is available: agenthost cli update --major');
        } catch (error) {
          log.warn({ err: error }, 'scheduled Claude Code update failed');
        }
      })
    : undefined;
  // Fires what came due while no server ran, once per trigger.
  await triggers.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    previewsUrl,
    app,
    store,
    engine,
    gateway,
    close: () =>
      (closing ??= (async () => {
        await triggers.stop();
        await engine.shutdown();
        await app.close();
        await previewServer.close();
        connections.stop();
        await gateway.close();
        await egress.close();
        cliUpdates?.stop();
        previews.stop();
        await webhooks.stop();
        await tracing.shutdown();
        await store.close();
      })()),
  };
}
