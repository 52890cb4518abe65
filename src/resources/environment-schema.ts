import { z } from 'zod';
import { descriptionSchema, metadataPatchSchema, metadataSchema, nameSchema } from './common-schema.js';
import { singleLine } from '../text-rules.js';

/**
 * Request schemas for `POST /v1/environments` and `POST /v1/environments/{id}`,
 * mirroring `EnvironmentCreateParams` / `EnvironmentUpdateParams`. Strict at
 * every level, including inside `config`.
 */

export const PACKAGE_MANAGERS = ['apt', 'cargo', 'gem', 'go', 'npm', 'pip'] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/**
 * A host the sandbox may reach under `limited` networking: a hostname, an IP
 * address, or `*.example.com` for every subdomain, with an optional `:port`.
 */
const allowedHost = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/,
    'must be a hostname such as "pypi.org" or "*.example.com" (no scheme or path)',
  );

export const networkingParamsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('unrestricted') }),
  z.strictObject({
    type: z.literal('limited'),
    allow_mcp_servers: z.boolean().nullish(),
    allow_package_managers: z.boolean().nullish(),
    allowed_hosts: z.array(allowedHost).max(256).nullish(),
  }),
]);

// Package specs end up as arguments of an installer inside the sandbox: no
// whitespace, and no leading "-" that an installer would read as an option.
const packageSpec = singleLine(
  z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^\s-]\S*$/, 'must be a package name (optionally with a version) without whitespace, not starting with "-"'),
);
const packageList = z.array(packageSpec).max(256).nullish();

export const packagesParamsSchema = z.strictObject({
  type: z.literal('packages').optional(),
  apt: packageList,
  cargo: packageList,
  gem: packageList,
  go: packageList,
  npm: packageList,
  pip: packageList,
});

/**
 * agenthost extension: which sandbox provider runs this environment's
 * sessions, and the hard limits of each session's sandbox. Absent means the
 * server's default provider and `SANDBOX_LIMIT_DEFAULTS` (see
 * `environment-body.ts`); responses show the resolved values.
 */
export const sandboxParamsSchema = z.strictObject({
  provider: singleLine(z.string().min(1).max(64)).nullish(),
  /** Memory of all the sandbox's processes together, MiB. */
  memory_mib: z.number().int().min(256).max(1024 * 1024).nullish(),
  /** CPU time in CPUs, to a hundredth (0.5 = half a core). */
  cpus: z
    .number()
    .min(0.1)
    .max(512)
    .refine((n) => Number.isInteger(Math.round(n * 100 * 1e6) / 1e6), 'must have at most two decimals')
    .nullish(),
  /** Processes and threads together. The Claude Code CLI alone uses a few dozen. */
  pids: z.number().int().min(64).max(1_000_000).nullish(),
  /** What the sandbox may store in its workspace, config, tmp and home together, MiB. */
  disk_mib: z.number().int().min(64).max(64 * 1024 * 1024).nullish(),
  /** Wall-clock limit of each tool process, seconds. */
  tool_timeout_s: z.number().int().min(1).max(7 * 24 * 3600).nullish(),
});

export const LIFECYCLE_PATTERNS = ['ephemeral', 'long_running', 'hybrid', 'shared'] as const;
export type LifecyclePattern = (typeof LIFECYCLE_PATTERNS)[number];

/**
 * agenthost extension: how long a session's sandbox lives. See
 * `environment-body.ts` for the defaults per pattern. Timeouts are seconds;
 * null means no limit.
 */
export const lifecycleParamsSchema = z.strictObject({
  pattern: z.enum(LIFECYCLE_PATTERNS).nullish(),
  idle_timeout_s: z.number().int().min(1).max(30 * 24 * 3600).nullish(),
  max_lifetime_s: z.number().int().min(1).max(365 * 24 * 3600).nullish(),
});

/**
 * agenthost extension: the environment's warm pool, sandboxes with Claude
 * Code started ahead of session creation. Omitted fields take the server's
 * defaults (AGENTHOST_WARM_POOL_*); `max: 0` turns the pool off.
 */
export const warmPoolParamsSchema = z
  .strictObject({
    /** Ready sandboxes kept while sessions are being created. */
    min: z.number().int().min(0).max(64).nullish(),
    /** The most the pool grows to under a high creation rate. */
    max: z.number().int().min(0).max(64).nullish(),
    /** Seconds without a session creation after which the pool is emptied. */
    idle_timeout_s: z.number().int().min(1).max(86_400).nullish(),
    /** Whether warm sandboxes rehearse a turn (then /clear it) before they are handed out; default true. */
    rehearse: z.boolean().nullish(),
  })
  .refine((p) => p.min == null || p.max == null || p.min <= p.max, { message: 'min must not exceed max', path: ['min'] });

export const cloudConfigParamsSchema = z.strictObject({
  type: z.literal('cloud'),
  networking: networkingParamsSchema.nullish(),
  packages: packagesParamsSchema.nullish(),
  sandbox: sandboxParamsSchema.nullish(),
  lifecycle: lifecycleParamsSchema.nullish(),
  warm_pool: warmPoolParamsSchema.nullish(),
});

/** Parsed so the refusal can explain itself; see `environment-body.ts`. */
export const selfHostedConfigParamsSchema = z.strictObject({ type: z.literal('self_hosted') });

export const configParamsSchema = z.discriminatedUnion('type', [cloudConfigParamsSchema, selfHostedConfigParamsSchema]);

const scopeSchema = z.enum(['organization', 'account']).nullish();

export const environmentCreateSchema = z.strictObject({
  name: nameSchema,
  config: configParamsSchema.nullish(),
  description: descriptionSchema.nullish(),
  metadata: metadataSchema.optional(),
  scope: scopeSchema,
});
export type EnvironmentCreateInput = z.infer<typeof environmentCreateSchema>;

export const environmentUpdateSchema = z.strictObject({
  // The name cannot be cleared: null, like omission, keeps it.
  name: nameSchema.nullish(),
  config: configParamsSchema.nullish(),
  description: descriptionSchema.nullish(),
  metadata: metadataPatchSchema.optional(),
  scope: scopeSchema,
});
export type EnvironmentUpdateInput = z.infer<typeof environmentUpdateSchema>;

export type ConfigParams = z.infer<typeof configParamsSchema>;
export type CloudConfigParams = z.infer<typeof cloudConfigParamsSchema>;
