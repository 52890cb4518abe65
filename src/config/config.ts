import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Cron } from 'croner';
import semver from 'semver';
import { z } from 'zod';

/** "true"/"1"/"yes" are true; "false"/"0"/"no"/"" are false; anything else is an error. */
const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', '1', 'yes', 'false', '0', 'no', ''].includes(v), 'expected true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Everything agenthost reads from its environment, in one schema. Only the
 * composition root (`main.ts`) and the CLI call `loadConfig`.
 */
export const configSchema = z
  .object({
    /** Port of the HTTP API. */
    AGENTHOST_PORT: int(0, 65535).default(4100),
    /** Interface the API binds to. */
    AGENTHOST_HOST: z.string().min(1).default('127.0.0.1'),
    /** Where the SQLite database, session workspaces and sockets live. */
    AGENTHOST_DATA_DIR: z.string().min(1).default(join(homedir(), '.agenthost')),
    /** postgres://... to use PostgreSQL instead of the embedded SQLite database. */
    AGENTHOST_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    /** Sandbox provider for environments that do not name one: bwrap, process, gvisor or docker. */
    AGENTHOST_DEFAULT_PROVIDER: z.enum(['bwrap', 'process', 'gvisor', 'docker']).default('bwrap'),
    /** Further sandbox providers environments may choose, comma-separated: gvisor, docker. */
    AGENTHOST_SANDBOX_PROVIDERS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.enum(['gvisor', 'docker']))),
    /** Docker Engine API of the docker provider, as DOCKER_HOST spells it (unix:///run/podman/podman.sock for Podman). It must run on this host. */
    AGENTHOST_DOCKER_HOST: z.string().regex(/^(unix|tcp|https?):\/\//, 'must start with unix://, tcp://, http:// or https://').default('unix:///var/run/docker.sock'),
    /** Image of the docker provider's sandboxes (it needs /bin/sh and socat); required when docker is a provider. */
    AGENTHOST_DOCKER_IMAGE: z.string().min(1).optional(),
    /** Turns per user message before the session stops with max_turns (the runaway-loop guard). */
    AGENTHOST_MAX_TURNS: int(1, 10_000).default(100),
    /** Largest accepted request body, bytes. Larger bodies get 413. */
    AGENTHOST_BODY_LIMIT: int(1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
    /** Largest file accepted by the Files API upload, bytes. Larger uploads get 413. */
    AGENTHOST_FILE_SIZE_LIMIT: int(1, 1024 ** 4).default(500 * 1024 * 1024),
    /** Open connections at once (API and preview listeners together); default three quarters of the descriptor limit, at most 10,000 (always lowered to leave 256 descriptors). */
    AGENTHOST_MAX_CONNECTIONS: int(16, 10_000_000).optional(),
    /** Open API connections from one address (IPv6: one /64); 0 is no cap (behind a reverse proxy, every client shares its address). */
    AGENTHOST_MAX_CONNECTIONS_PER_ADDRESS: int(0, 10_000_000).default(256),
    /**
     * A request's headers must be complete within this many ms of the connection opening (or of the first byte
     * after the previous answer). Generous: the official client may open a connection seconds before it sends a
     * large upload (about 5 s for 1 GiB).
     */
    AGENTHOST_HEADERS_TIMEOUT_MS: int(100, 600_000).default(20_000),
    /** A request body must keep up this many bytes a second on average; a slower one is closed. */
    AGENTHOST_BODY_MIN_BYTES_PER_S: int(1, 1024 ** 3).default(1024),
    /** How far, ms, a body may fall behind AGENTHOST_BODY_MIN_BYTES_PER_S (its first bytes included); time the server is not reading is not counted. */
    AGENTHOST_BODY_TIMEOUT_MS: int(100, 600_000).default(20_000),
    /** Model used by `agenthost run` and when an agent names none. */
    AGENTHOST_DEFAULT_MODEL: z.string().min(1).default('claude-sonnet-4-5'),
    /** How often the idle reaper checks live sessions, milliseconds. */
    AGENTHOST_REAPER_INTERVAL_MS: int(100, 600_000).default(5_000),
    /** pino level. */
    AGENTHOST_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Upstream Messages API the model gateway forwards to. */
    ANTHROPIC_BASE_URL: z.string().url().default('https://api.anthropic.com'),
    /** Upstream credential (x-api-key). Never enters a sandbox. */
    ANTHROPIC_API_KEY: z.string().min(1).optional(),
    /** Upstream credential (Authorization: Bearer), used when ANTHROPIC_API_KEY is unset. */
    ANTHROPIC_AUTH_TOKEN: z.string().min(1).optional(),
    /** Set to true to allow the unisolated `process` provider as the default. */
    AGENTHOST_ALLOW_PROCESS_PROVIDER: booleanFlag.default(false),
    /** Where sandboxes' cgroups are made: the cgroup mount (as root), or a cgroup v2 directory delegated to this user. */
    AGENTHOST_CGROUP_ROOT: z.string().startsWith('/', 'must be an absolute path').default('/sys/fs/cgroup'),
    /**
     * uid and gid of sandboxes' user. As root: the host user the processes of
     * bwrap, gvisor and docker sandboxes run as (default 65536, an id no
     * account owns). Otherwise: bwrap's id inside its user namespace (default
     * 1000), mapped to the server's; docker sandboxes must be the server's uid.
     */
    AGENTHOST_SANDBOX_UID: int(1, 4_294_967_294).optional(),
    /** When set, GET /metrics needs `Authorization: Bearer <token>`; unset, it is open (it carries no tenant data). */
    AGENTHOST_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
    /** JSON file of model prices (USD per million tokens) and sandbox hourly rates per provider, over the defaults. */
    AGENTHOST_PRICES_FILE: z.string().min(1).optional(),
    /** USD per sandbox hour for providers the prices file does not name. */
    AGENTHOST_SANDBOX_USD_PER_HOUR: z.coerce.number().finite().min(0).default(0.05),
    /** Requests a second per API key (token bucket refill); 0 turns the rate limit off. */
    AGENTHOST_RATE_LIMIT_RPS: z.coerce.number().finite().min(0).max(1_000_000).default(100),
    /** Requests an API key may make at once before the rate applies (bucket size). */
    AGENTHOST_RATE_LIMIT_BURST: int(1, 1_000_000).default(200),
    /** Open event streams (SSE) per API key; 0 is no limit. */
    AGENTHOST_MAX_STREAMS_PER_KEY: int(0, 100_000).default(32),
    /** Sessions of one workspace holding a sandbox at once; 0 is no limit. */
    AGENTHOST_MAX_LIVE_SESSIONS_PER_WORKSPACE: int(0, 100_000).default(20),
    /** Warm sandboxes (Claude Code started, waiting) an environment's pool keeps while in use, unless its config.warm_pool says otherwise. */
    AGENTHOST_WARM_POOL_MIN: int(0, 64).default(0),
    /**
     * Most warm sandboxes per environment and agent version; the pool follows the creation rate up to this.
     * 0 (the default) leaves warm pools to environments whose config.warm_pool.max asks for them: each warm
     * sandbox is a running Claude Code (about 200 MiB and a start-up's CPU) that nobody may claim.
     */
    AGENTHOST_WARM_POOL_MAX: int(0, 64).default(0),
    /** A pool without a session creation for this many seconds is emptied. */
    AGENTHOST_WARM_POOL_IDLE_S: int(1, 86_400).default(300),
    /** Sandbox and Claude Code start-ups at once; a burst of creations queues beyond it. */
    AGENTHOST_START_CONCURRENCY: int(1, 256).default(2),
    /** OTLP/HTTP collector (e.g. http://127.0.0.1:4318) for traces; unset, nothing is traced. */
    AGENTHOST_OTLP_ENDPOINT: z.string().url().optional(),
    /** First retry of a failed webhook delivery after this many ms; each later one waits 4× longer (at most 6 h). */
    AGENTHOST_WEBHOOK_RETRY_BASE_MS: int(10, 86_400_000).default(10_000),
    /** Attempts before a webhook delivery is marked failed. */
    AGENTHOST_WEBHOOK_MAX_ATTEMPTS: int(1, 50).default(8),
    /** Allow webhook URLs on loopback and private addresses (development and tests only). */
    AGENTHOST_WEBHOOK_ALLOW_PRIVATE: booleanFlag.default(false),
    /** Most webhook endpoints one workspace may register. */
    AGENTHOST_WEBHOOK_MAX_ENDPOINTS: int(1, 1000).default(20),
    /** Shortest time a cron trigger may leave between two fires, seconds; a schedule that fires more often is refused (400). */
    AGENTHOST_CRON_MIN_INTERVAL_S: int(1, 86_400).default(60),
    /** Claude Code versions new sessions may run (a semver range); default: a caret on the bundled version. */
    AGENTHOST_CLI_VERSION_RANGE: z.string().refine((r) => semver.validRange(r) !== null, 'not a semver range').optional(),
    /** Cron schedule (UTC) on which the server installs the newest allowed Claude Code; unset, only `agenthost cli update` does. */
    AGENTHOST_CLI_UPDATE_SCHEDULE: z
      .string()
      .refine((p) => {
        try {
          new Cron(p, { paused: true }).stop();
          return true;
        } catch {
          return false;
        }
      }, 'not a cron schedule')
      .optional(),
    /** npm registry Claude Code versions come from; default: npm's own configuration. */
    AGENTHOST_NPM_REGISTRY: z.string().url().optional(),
    /** The API's public base URL (where the console is too); default: the address it listens on. */
    AGENTHOST_PUBLIC_URL: z.string().url().optional(),
    /**
     * Port of the preview listener, on AGENTHOST_HOST: previews are served there and only there, never on
     * the API's (and the console's) origin. 0, the default, is any free port (preview URLs come from the API).
     */
    AGENTHOST_PREVIEW_PORT: int(0, 65535).default(0),
    /** Public base URL of the preview listener, for path-style preview URLs (<url>/previews/<token>/); default: the address it listens on. */
    AGENTHOST_PREVIEW_PUBLIC_URL: z.string().url().optional(),
    /**
     * Base URL of host-style previews, an origin per preview: https://preview.example.com serves
     * https://<token>.preview.example.com/ (wildcard DNS, routed to the preview listener).
     */
    AGENTHOST_PREVIEW_BASE_URL: z.string().url().optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.AGENTHOST_DEFAULT_PROVIDER === 'docker' || c.AGENTHOST_SANDBOX_PROVIDERS.includes('docker')) && !c.AGENTHOST_DOCKER_IMAGE) {
      ctx.addIssue({
        code: 'custom',
        path: ['AGENTHOST_DOCKER_IMAGE'],
        message: 'the docker provider needs an image: set AGENTHOST_DOCKER_IMAGE to one the engine has (with /bin/sh and socat)',
      });
    }
    if (c.AGENTHOST_WARM_POOL_MIN > c.AGENTHOST_WARM_POOL_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['AGENTHOST_WARM_POOL_MIN'],
        message: `must not exceed AGENTHOST_WARM_POOL_MAX (${c.AGENTHOST_WARM_POOL_MAX}); raise the max or lower the min`,
      });
    }
    for (const issue of previewIssues(c)) ctx.addIssue({ code: 'custom', ...issue });
    if (c.AGENTHOST_DEFAULT_PROVIDER === 'process' && !c.AGENTHOST_ALLOW_PROCESS_PROVIDER) {
      ctx.addIssue({
        code: 'custom',
        path: ['AGENTHOST_DEFAULT_PROVIDER'],
        message:
          'the process provider runs agents without isolation; set AGENTHOST_ALLOW_PROCESS_PROVIDER=true to use it as the default',
      });
    }
  });

export type RawConfig = z.infer<typeof configSchema>;

type PreviewSettings = Pick<RawConfig, 'AGENTHOST_PORT' | 'AGENTHOST_PUBLIC_URL' | 'AGENTHOST_PREVIEW_PORT' | 'AGENTHOST_PREVIEW_PUBLIC_URL' | 'AGENTHOST_PREVIEW_BASE_URL'>;

/** Previews must never share an origin with the API and the console, whatever the settings say. */
function previewIssues(c: PreviewSettings): Array<{ path: string[]; message: string }> {
  const issues: Array<{ path: string[]; message: string }> = [];
  if (c.AGENTHOST_PREVIEW_PORT !== 0 && c.AGENTHOST_PREVIEW_PORT === c.AGENTHOST_PORT) {
    issues.push({ path: ['AGENTHOST_PREVIEW_PORT'], message: 'must differ from AGENTHOST_PORT: previews never share the API’s (and the console’s) origin' });
  }
  const api = c.AGENTHOST_PUBLIC_URL ? new URL(c.AGENTHOST_PUBLIC_URL) : undefined;
  if (c.AGENTHOST_PREVIEW_PUBLIC_URL) {
    if (c.AGENTHOST_PREVIEW_BASE_URL) {
      issues.push({ path: ['AGENTHOST_PREVIEW_PUBLIC_URL'], message: 'host-style previews (AGENTHOST_PREVIEW_BASE_URL) have no path-style URL: set one of the two' });
    }
    if (api && new URL(c.AGENTHOST_PREVIEW_PUBLIC_URL).origin === api.origin) {
      issues.push({ path: ['AGENTHOST_PREVIEW_PUBLIC_URL'], message: 'is the API’s origin (AGENTHOST_PUBLIC_URL): give the preview listener its own host or port' });
    }
  }
  if (c.AGENTHOST_PREVIEW_BASE_URL) {
    const domain = new URL(c.AGENTHOST_PREVIEW_BASE_URL).hostname.toLowerCase();
    if (/^[\d.]+$/.test(domain) || domain.startsWith('[')) {
      issues.push({ path: ['AGENTHOST_PREVIEW_BASE_URL'], message: 'needs a domain name (previews are its subdomains), not an IP address' });
    }
    const apiHost = api?.hostname.toLowerCase();
    if (apiHost && (apiHost === domain || apiHost.endsWith(`.${domain}`))) {
      issues.push({ path: ['AGENTHOST_PREVIEW_BASE_URL'], message: `the API’s host (${apiHost}, AGENTHOST_PUBLIC_URL) is in the preview domain: use a domain of previews only` });
    }
  }
  return issues;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  defaultProvider: 'bwrap' | 'process' | 'gvisor' | 'docker';
  sandboxProviders: Array<'gvisor' | 'docker'>;
  docker: { host: string; image: string | undefined };
  allowProcessProvider: boolean;
  cgroupRoot: string;
  sandboxUid: number | undefined;
  maxTurns: number;
  reaperIntervalMs: number;
  bodyLimit: number;
  fileSizeLimit: number;
  /** The API listener's connection limits; `max` undefined: derived from the descriptor limit at start. */
  connections: { max: number | undefined; perAddress: number; headersTimeoutMs: number; bodyMinBytesPerS: number; bodyTimeoutMs: number };
  defaultModel: string;
  logLevel: string;
  upstream: { baseUrl: string; apiKey: string | undefined; authToken: string | undefined };
  metricsToken: string | undefined;
  pricesFile: string | undefined;
  sandboxUsdPerHour: number;
  limits: { ratePerS: number; burst: number; streamsPerKey: number; liveSessionsPerWorkspace: number };
  otlpEndpoint: string | undefined;
  warmPool: { min: number; max: number; idleTimeoutS: number };
  startConcurrency: number;
  webhooks: { retryBaseMs: number; maxAttempts: number; allowPrivate: boolean; maxEndpoints: number };
  cronMinIntervalS: number;
  cli: { range: string | undefined; updateSchedule: string | undefined; registry: string | undefined };
  publicUrl: string | undefined;
  previews: { port: number; publicUrl: string | undefined; baseUrl: string | undefined };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parses, validates and freezes the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  return Object.freeze({
    port: c.AGENTHOST_PORT,
    host: c.AGENTHOST_HOST,
    dataDir: resolve(c.AGENTHOST_DATA_DIR),
    databaseUrl: c.AGENTHOST_DATABASE_URL,
    defaultProvider: c.AGENTHOST_DEFAULT_PROVIDER,
    sandboxProviders: c.AGENTHOST_SANDBOX_PROVIDERS,
    docker: Object.freeze({ host: c.AGENTHOST_DOCKER_HOST, image: c.AGENTHOST_DOCKER_IMAGE }),
    allowProcessProvider: c.AGENTHOST_ALLOW_PROCESS_PROVIDER || c.AGENTHOST_DEFAULT_PROVIDER === 'process',
    cgroupRoot: c.AGENTHOST_CGROUP_ROOT,
    sandboxUid: c.AGENTHOST_SANDBOX_UID,
    maxTurns: c.AGENTHOST_MAX_TURNS,
    reaperIntervalMs: c.AGENTHOST_REAPER_INTERVAL_MS,
    bodyLimit: c.AGENTHOST_BODY_LIMIT,
    fileSizeLimit: c.AGENTHOST_FILE_SIZE_LIMIT,
    connections: Object.freeze({
      max: c.AGENTHOST_MAX_CONNECTIONS,
      perAddress: c.AGENTHOST_MAX_CONNECTIONS_PER_ADDRESS,
      headersTimeoutMs: c.AGENTHOST_HEADERS_TIMEOUT_MS,
      bodyMinBytesPerS: c.AGENTHOST_BODY_MIN_BYTES_PER_S,
      bodyTimeoutMs: c.AGENTHOST_BODY_TIMEOUT_MS,
    }),
    defaultModel: c.AGENTHOST_DEFAULT_MODEL,
    logLevel: c.AGENTHOST_LOG_LEVEL,
    upstream: Object.freeze({
      baseUrl: c.ANTHROPIC_BASE_URL,
      apiKey: c.ANTHROPIC_API_KEY,
      authToken: c.ANTHROPIC_AUTH_TOKEN,
    }),
    metricsToken: c.AGENTHOST_METRICS_TOKEN,
    pricesFile: c.AGENTHOST_PRICES_FILE ? resolve(c.AGENTHOST_PRICES_FILE) : undefined,
    sandboxUsdPerHour: c.AGENTHOST_SANDBOX_USD_PER_HOUR,
    limits: Object.freeze({
      ratePerS: c.AGENTHOST_RATE_LIMIT_RPS,
      burst: c.AGENTHOST_RATE_LIMIT_BURST,
      streamsPerKey: c.AGENTHOST_MAX_STREAMS_PER_KEY,
      liveSessionsPerWorkspace: c.AGENTHOST_MAX_LIVE_SESSIONS_PER_WORKSPACE,
    }),
    otlpEndpoint: c.AGENTHOST_OTLP_ENDPOINT,
    warmPool: Object.freeze({ min: c.AGENTHOST_WARM_POOL_MIN, max: c.AGENTHOST_WARM_POOL_MAX, idleTimeoutS: c.AGENTHOST_WARM_POOL_IDLE_S }),
    startConcurrency: c.AGENTHOST_START_CONCURRENCY,
    webhooks: Object.freeze({
      retryBaseMs: c.AGENTHOST_WEBHOOK_RETRY_BASE_MS,
      maxAttempts: c.AGENTHOST_WEBHOOK_MAX_ATTEMPTS,
      allowPrivate: c.AGENTHOST_WEBHOOK_ALLOW_PRIVATE,
      maxEndpoints: c.AGENTHOST_WEBHOOK_MAX_ENDPOINTS,
    }),
    cronMinIntervalS: c.AGENTHOST_CRON_MIN_INTERVAL_S,
    cli: Object.freeze({ range: c.AGENTHOST_CLI_VERSION_RANGE, updateSchedule: c.AGENTHOST_CLI_UPDATE_SCHEDULE, registry: c.AGENTHOST_NPM_REGISTRY }),
    publicUrl: c.AGENTHOST_PUBLIC_URL?.replace(/\/+$/, ''),
    previews: Object.freeze({
      port: c.AGENTHOST_PREVIEW_PORT,
      publicUrl: c.AGENTHOST_PREVIEW_PUBLIC_URL?.replace(/\/+$/, ''),
      baseUrl: c.AGENTHOST_PREVIEW_BASE_URL,
    }),
  });
}
