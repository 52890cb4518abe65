import type { WarmPoolSettings } from '../lifecycle/warm-pool.js';
import type { SandboxLimits } from '../sandbox/provider.js';
import type { JsonObject } from '../store/store.js';
import { LIFECYCLE_DEFAULTS, sandboxLimitsOf, type CloudConfig, type Lifecycle, type Networking, type SandboxConfig } from './environment-body.js';

/**
 * What the sessions of an environment run with: its stored `config` resolved
 * against the server's defaults, once, at the edge. Nothing downstream reads
 * the stored JSON.
 */
export interface EnvironmentConfig {
  /** The sandbox provider its sessions run on. */
  provider: string;
  lifecycle: Lifecycle;
  /** Each session's sandbox limits, as the sandbox takes them. */
  limits: SandboxLimits;
  networking: Networking;
  /** Its warm pool's bounds; undefined when the server keeps no warm pools. */
  warmPool: WarmPool | undefined;
}

export interface WarmPool extends WarmPoolSettings {
  /** Whether its sandboxes rehearse a turn before a session takes them. */
  rehearse: boolean;
}

/** The server's settings for what an environment leaves out. */
export interface EnvironmentDefaults {
  /** The provider of environments stored without one (before providers were resolved on create). */
  provider: string;
  /** Warm pools' bounds where `config.warm_pool` leaves them out; absent, no warm pools. */
  warmPool?: WarmPoolSettings | undefined;
}

/** Environments stored before lifecycles existed are hybrid; a stored lifecycle fills its gaps from these. */
export const DEFAULT_LIFECYCLE: Lifecycle = { pattern: 'hybrid', ...LIFECYCLE_DEFAULTS.hybrid };

/** The typed configuration of a stored environment body (`EnvironmentRecord.body`). */
export function environmentConfig(body: JsonObject, defaults: EnvironmentDefaults): EnvironmentConfig {
  const config = storedConfigOf(body);
  return {
    provider: config.sandbox?.provider ?? defaults.provider,
    lifecycle: lifecycleOf(config),
    limits: limitsOf(config),
    networking: config.networking ?? { type: 'unrestricted' },
    warmPool: warmPoolOf(config, defaults.warmPool),
  };
}

function lifecycleOf(config: StoredConfig): Lifecycle {
  const lifecycle = config.lifecycle;
  return lifecycle?.pattern ? { ...DEFAULT_LIFECYCLE, ...lifecycle } : DEFAULT_LIFECYCLE;
}

function limitsOf(config: StoredConfig): SandboxLimits {
  const l = sandboxLimitsOf(config);
  return { memoryMib: l.memory_mib, cpus: l.cpus, pids: l.pids, diskMib: l.disk_mib, toolTimeoutS: l.tool_timeout_s };
}

function warmPoolOf(config: StoredConfig, defaults: WarmPoolSettings | undefined): WarmPool | undefined {
  if (!defaults) return undefined;
  const own = config.warm_pool ?? {};
  const max = own.max ?? defaults.max;
  return {
    min: Math.min(own.min ?? defaults.min, max),
    max,
    idleTimeoutS: own.idle_timeout_s ?? defaults.idleTimeoutS,
    rehearse: own.rehearse !== false,
  };
}

/**
 * A stored config: what `resolveConfig` wrote, or a part of it for
 * environments stored before a key existed.
 */
type StoredConfig = Partial<Omit<CloudConfig, 'sandbox' | 'lifecycle'>> & {
  sandbox?: Partial<SandboxConfig>;
  lifecycle?: Partial<Lifecycle>;
};

/** Stored bodies were written by `environment-body.ts`; the cast is the one place that trusts them. */
function storedConfigOf(body: JsonObject): StoredConfig {
  return (body.config ?? {}) as unknown as StoredConfig;
}
