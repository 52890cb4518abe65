import { invalid } from '../errors.js';
import type { JsonObject } from '../store/store.js';
import { applyMetadataPatch } from './common-schema.js';
import {
  type CloudConfigParams,
  type ConfigParams,
  type EnvironmentCreateInput,
  type EnvironmentUpdateInput,
  type LifecyclePattern,
  PACKAGE_MANAGERS,
  type PackageManager,
} from './environment-schema.js';

/**
 * The environment as stored (`EnvironmentRecord.body`) and shown, minus id,
 * type and timestamps. `config` is the API's `BetaCloudConfig` plus the
 * agenthost extension `sandbox`:
 *
 * - `networking`: `{ type: 'unrestricted' }` (default) or `{ type: 'limited',
 *   allowed_hosts, allow_mcp_servers, allow_package_managers }`, enforced by
 *   the sandbox provider.
 * - `packages`: validated, and refused unless every list is empty: this server
 *   does not install packages (an image of the docker provider can carry them).
 * - `sandbox.provider`: the sandbox provider that runs this environment's
 *   sessions, one of the server's configured providers. It is resolved when
 *   the environment is created (absent means the server default at that time)
 *   so a later change of the server default does not move existing
 *   environments.
 * - `sandbox.{memory_mib, cpus, pids, disk_mib, tool_timeout_s}`: hard limits
 *   of each session's sandbox (see `SANDBOX_LIMIT_DEFAULTS`). Omitted or null
 *   fields keep the stored value (the default on create). A provider that
 *   cannot enforce them fails the session's start with a message saying so.
 * - `lifecycle`: `{ pattern, idle_timeout_s, max_lifetime_s }`, the
 *   deployment pattern (see `LIFECYCLE_DEFAULTS`). Omitted fields take the
 *   pattern's defaults; `null` timeouts mean no limit.
 *
 * - `warm_pool`: `{ min, max, idle_timeout_s, rehearse }`, the warm pool's
 *   bounds and whether its sandboxes rehearse a turn; fields left out follow
 *   the server's defaults (`rehearse`: true), and the key is absent when none is
 *   set. `null` clears it. `GET /v1/environments/{id}` adds the pool's state as
 *   `warm_pool_status: { ready, starting, target }`.
 *
 * `self_hosted` configs are refused: in the Managed Agents API they mean
 * sessions run on the client's own workers polling `/v1/environments/{id}/work`,
 * which agenthost does not implement. agenthost is the self-hosted side already.
 */
export interface EnvironmentBody {
  name: string;
  description: string | null;
  config: CloudConfig;
  metadata: Record<string, string>;
  scope: 'organization';
}

export type Networking =
  | { type: 'unrestricted' }
  | { type: 'limited'; allowed_hosts: string[]; allow_mcp_servers: boolean; allow_package_managers: boolean };

export type Packages = { type: 'packages' } & Record<PackageManager, string[]>;

export interface Lifecycle {
  pattern: LifecyclePattern;
  idle_timeout_s: number | null;
  max_lifetime_s: number | null;
}

/**
 * Defaults per pattern:
 * - ephemeral: the sandbox lives for one task; it ends when the first turn
 *   does, so only `max_lifetime_s` (1 h) matters.
 * - long_running: the sandbox stays up between turns; no idle timeout, no
 *   lifetime bound.
 * - hybrid (the default): live while in use, hibernated after 5 minutes idle,
 *   recycled (hibernated and restored on the next event) after 4 hours.
 * - shared: several sessions in one sandbox; it stays up until 30 minutes after
 *   its last session went idle.
 */
export const LIFECYCLE_DEFAULTS: Record<LifecyclePattern, Omit<Lifecycle, 'pattern'>> = {
  ephemeral: { idle_timeout_s: null, max_lifetime_s: 3600 },
  long_running: { idle_timeout_s: null, max_lifetime_s: null },
  hybrid: { idle_timeout_s: 300, max_lifetime_s: 4 * 3600 },
  shared: { idle_timeout_s: 1800, max_lifetime_s: null },
};

export const DEFAULT_PATTERN: LifecyclePattern = 'hybrid';

export interface SandboxConfig {
  provider: string;
  memory_mib: number;
  cpus: number;
  pids: number;
  disk_mib: number;
  tool_timeout_s: number;
}

export type SandboxLimitsConfig = Omit<SandboxConfig, 'provider'>;

/**
 * Limits when an environment names none: the seed's minimums for memory
 * (1 GiB), CPU (1) and disk (5 GiB); room for a build's processes; and the
 * longest a Claude Code Bash call may ask for (10 minutes).
 */
export const SANDBOX_LIMIT_DEFAULTS: SandboxLimitsConfig = {
  memory_mib: 1024,
  cpus: 1,
  pids: 1024,
  disk_mib: 5120,
  tool_timeout_s: 600,
};

/** Only the fields an environment sets; the rest follow the server's defaults. */
export interface WarmPoolConfig {
  min?: number;
  max?: number;
  idle_timeout_s?: number;
  rehearse?: boolean;
}

export interface CloudConfig {
  type: 'cloud';
  networking: Networking;
  packages: Packages;
  sandbox: SandboxConfig;
  lifecycle: Lifecycle;
  warm_pool?: WarmPoolConfig;
}

function resolveWarmPool(p: CloudConfigParams['warm_pool'], current: WarmPoolConfig | undefined): WarmPoolConfig | undefined {
  if (p === null) return undefined;
  if (p === undefined) return current;
  const next: WarmPoolConfig = { ...current };
  for (const key of ['min', 'max', 'idle_timeout_s'] as const) {
    const v = p[key];
    if (v !== undefined && v !== null) next[key] = v;
  }
  if (p.rehearse !== undefined && p.rehearse !== null) next.rehearse = p.rehearse;
  if (next.min !== undefined && next.max !== undefined && next.min > next.max) {
    throw invalid(`config.warm_pool.min (${next.min}) must not exceed config.warm_pool.max (${next.max})`);
  }
  return Object.keys(next).length > 0 ? next : undefined;
}

function resolveLifecycle(p: CloudConfigParams['lifecycle'], current: Lifecycle | undefined): Lifecycle {
  if (!p) return current ?? { pattern: DEFAULT_PATTERN, ...LIFECYCLE_DEFAULTS[DEFAULT_PATTERN] };
  const pattern = p.pattern ?? current?.pattern ?? DEFAULT_PATTERN;
  // A changed pattern starts from its own defaults rather than the old pattern's values.
  const base = current && current.pattern === pattern ? current : { pattern, ...LIFECYCLE_DEFAULTS[pattern] };
  return {
    pattern,
    idle_timeout_s: p.idle_timeout_s === undefined ? base.idle_timeout_s : p.idle_timeout_s,
    max_lifetime_s: p.max_lifetime_s === undefined ? base.max_lifetime_s : p.max_lifetime_s,
  };
}

/** Which sandbox providers this server runs and which one is the default. */
export interface ProviderChoice {
  providers: string[];
  defaultProvider: string;
}

const emptyPackages = (): Packages => ({ type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] });

function cloudParams(config: ConfigParams): CloudConfigParams {
  if (config.type === 'self_hosted') {
    throw invalid(
      'config.type "self_hosted" is not supported: it means sessions run on your own workers polling /v1/environments/{id}/work, which agenthost does not implement. agenthost runs sessions in its own sandboxes: use {"type":"cloud"} and choose one with config.sandbox.provider',
    );
  }
  return config;
}

function resolveNetworking(p: CloudConfigParams['networking'], current: Networking | undefined): Networking {
  if (!p) return current ?? { type: 'unrestricted' };
  if (p.type === 'unrestricted') return { type: 'unrestricted' };
  // Omitted or null fields keep the stored value when the stored policy is limited too.
  const base = current?.type === 'limited' ? current : { allowed_hosts: [], allow_mcp_servers: false, allow_package_managers: false };
  return {
    type: 'limited',
    allowed_hosts: p.allowed_hosts ?? base.allowed_hosts,
    allow_mcp_servers: p.allow_mcp_servers ?? base.allow_mcp_servers,
    allow_package_managers: p.allow_package_managers ?? base.allow_package_managers,
  };
}

function resolvePackages(p: CloudConfigParams['packages'], current: Packages | undefined): Packages {
  const next = current ? { ...current } : emptyPackages();
  if (!p) return next;
  for (const manager of PACKAGE_MANAGERS) {
    const list = p[manager];
    if (list) next[manager] = [...list];
  }
  return next;
}

function resolveProvider(p: CloudConfigParams['sandbox'], current: string | undefined, choice: ProviderChoice): string {
  if (p === undefined && current !== undefined) return current;
  const provider = p?.provider ?? choice.defaultProvider;
  if (!choice.providers.includes(provider)) {
    throw invalid(
      `config.sandbox.provider: ${JSON.stringify(provider)} is not a sandbox provider this server runs; configured: ${choice.providers.join(', ')}`,
    );
  }
  return provider;
}

function resolveSandboxLimits(p: CloudConfigParams['sandbox'], current: Partial<SandboxLimitsConfig> | undefined): SandboxLimitsConfig {
  const out = { ...SANDBOX_LIMIT_DEFAULTS };
  for (const key of Object.keys(out) as Array<keyof SandboxLimitsConfig>) {
    out[key] = p?.[key] ?? current?.[key] ?? SANDBOX_LIMIT_DEFAULTS[key];
  }
  return out;
}

/**
 * The limits of a stored environment's sandboxes; environments stored
 * before limits existed get the defaults.
 */
export function sandboxLimitsOf(config: { sandbox?: Partial<SandboxLimitsConfig> } | undefined): SandboxLimitsConfig {
  return resolveSandboxLimits(undefined, config?.sandbox);
}

/** Resolves config params over the stored config (none on create). */
export function resolveConfig(params: ConfigParams | null | undefined, current: CloudConfig | undefined, choice: ProviderChoice): CloudConfig {
  const p: CloudConfigParams = params ? cloudParams(params) : { type: 'cloud' };
  const config: CloudConfig = {
    type: 'cloud',
    networking: resolveNetworking(p.networking, current?.networking),
    packages: resolvePackages(p.packages, current?.packages),
    sandbox: { provider: resolveProvider(p.sandbox, current?.sandbox.provider, choice), ...resolveSandboxLimits(p.sandbox, current?.sandbox) },
    lifecycle: resolveLifecycle(p.lifecycle, current?.lifecycle),
  };
  const warmPool = resolveWarmPool(p.warm_pool, current?.warm_pool);
  if (warmPool) config.warm_pool = warmPool;
  const { networking, packages } = config;
  if (networking.type === 'limited' && !networking.allow_package_managers) {
    const manager = PACKAGE_MANAGERS.find((m) => packages[m].length > 0);
    if (manager) {
      throw invalid(
        `config.packages.${manager}: installing packages under limited networking needs config.networking.allow_package_managers set to true`,
      );
    }
  }
  // Refused rather than stored and ignored: a session would start without them.
  const wanted = PACKAGE_MANAGERS.find((m) => packages[m].length > 0);
  if (wanted) {
    throw invalid(
      `config.packages.${wanted}: this agenthost server does not install packages into sandboxes; ` +
        'use the docker provider with an image that contains them, or let the agent install them in its workspace',
    );
  }
  return config;
}

function resolveScope(scope: 'organization' | 'account' | null | undefined): 'organization' {
  if (scope === 'account') {
    throw invalid('scope: "account" is not supported; agenthost environments are visible to their whole workspace ("organization")');
  }
  return 'organization';
}

export function environmentBodyFromCreate(p: EnvironmentCreateInput, choice: ProviderChoice): EnvironmentBody {
  return {
    name: p.name,
    description: p.description ?? null,
    config: resolveConfig(p.config, undefined, choice),
    metadata: p.metadata ?? {},
    scope: resolveScope(p.scope),
  };
}

/**
 * Applies EnvironmentUpdateParams: omitted (or null) fields keep their value,
 * except `description`, where null clears it and "" is stored as "".
 * `metadata` is a patch; a null or empty-string value deletes the key.
 */
export function environmentBodyFromUpdate(current: EnvironmentBody, p: EnvironmentUpdateInput, choice: ProviderChoice): EnvironmentBody {
  return {
    name: p.name ?? current.name,
    description: p.description === undefined ? current.description : p.description,
    config: p.config ? resolveConfig(p.config, current.config, choice) : current.config,
    metadata: p.metadata === undefined ? current.metadata : applyMetadataPatch(current.metadata, p.metadata, { deleteEmpty: true }),
    scope: p.scope === undefined || p.scope === null ? current.scope : resolveScope(p.scope),
  };
}

/** Stored bodies were written by this module; the cast is the one place that trusts it. */
export function environmentBodyOf(json: JsonObject): EnvironmentBody {
  return json as unknown as EnvironmentBody;
}
