import { z } from 'zod';
import {
  descriptionSchema,
  metadataPatchSchema,
  metadataSchema,
  nameSchema,
  permissionPolicySchema,
} from './common-schema.js';
import { singleLine } from '../text-rules.js';

/**
 * Request schemas for `POST /v1/agents` and `POST /v1/agents/{id}`, mirroring
 * `AgentCreateParams` / `AgentUpdateParams` of `@anthropic-ai/sdk`. Objects are
 * strict: a field the client types do not declare is a 400 naming it, so a
 * typo never passes silently. Resolution into the stored shape lives in
 * `agent-body.ts`.
 */

export const SYSTEM_MAX = 100_000;
export const TOOLS_MAX = 256;
export const MCP_SERVERS_MAX = 20;
export const SKILLS_MAX = 20;

/** The tools of `agent_toolset_20260401`, in the order responses list them. */
export const AGENT_TOOL_NAMES = ['bash', 'edit', 'read', 'write', 'glob', 'grep', 'web_fetch', 'web_search'] as const;
export type AgentToolName = (typeof AGENT_TOOL_NAMES)[number];

const modelId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:@/-]+$/, 'must be a model id such as "claude-opus-4-8"');

export const effortLevels = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
const effortLevel = z.enum(effortLevels);
/** Accepts `"high"` or `{ "type": "high" }`; responses use the object form. */
const effortParam = z.union([effortLevel, z.strictObject({ type: effortLevel })], {
  error: (issue) => (issue.code === 'invalid_union' ? `expected one of ${effortLevels.join(', ')} or { "type": level }` : undefined),
});

export const modelConfigParamsSchema = z.strictObject({
  id: modelId,
  effort: effortParam.nullish(),
  inference_geo: singleLine(z.string().min(1).max(64)).nullish(),
  speed: z.enum(['standard', 'fast']).nullish(),
});

export const modelParamSchema = z.union([modelId, modelConfigParamsSchema], {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    // An object was meant as a model config: say what is wrong inside it.
    const inner = typeof issue.input === 'object' && issue.input !== null ? issue.errors[1]?.[0] : undefined;
    if (inner) return `${inner.path.length ? `${inner.path.join('.')}: ` : ''}${inner.message}`;
    return 'expected a model id string or a model config object { id, effort?, inference_geo?, speed? }';
  },
});

const policyParam = permissionPolicySchema.nullish();

// Plain hostnames ("docs.example.com"); web_search also accepts a path suffix.
const domain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be a plain hostname like "docs.example.com"');
const domainWithPath = z
  .string()
  .min(1)
  .max(2048)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(\/\S*)?$/, 'must be a hostname like "docs.example.com", optionally with a path');
const domainList = (d: z.ZodString) => z.array(d).min(1, 'an empty list is rejected; omit the field instead').max(64);

const toolReference = z.strictObject({ name: singleLine(z.string().min(1).max(128)), type: z.literal('tool_reference') });
const toolReferenceList = z
  .array(toolReference)
  .min(1)
  .max(128)
  .refine((l) => new Set(l.map((t) => t.name)).size === l.length, 'each tool may be named once');
const shorthand = z.enum(['all', 'none']);
export const toolFilterParamSchema = z.union([
  shorthand,
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('all') }),
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({ type: z.literal('only'), tools: toolReferenceList }),
    z.strictObject({ type: z.literal('except'), tools: toolReferenceList }),
  ]),
]);
export const userInputFilterParamSchema = z.union([
  shorthand,
  z.discriminatedUnion('type', [z.strictObject({ type: z.literal('all') }), z.strictObject({ type: z.literal('none') })]),
]);
export const urlSourcesParamsSchema = z.strictObject({
  client_tool_results: toolFilterParamSchema.nullish(),
  server_tool_results: toolFilterParamSchema.nullish(),
  user_input: userInputFilterParamSchema.nullish(),
});

const userLocation = z.strictObject({
  type: z.literal('approximate'),
  city: singleLine(z.string().max(256)).nullish(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be a two-letter ISO 3166-1 country code, uppercase')
    .nullish(),
  region: singleLine(z.string().max(256)).nullish(),
  timezone: singleLine(z.string().max(64)).nullish(),
});

function toolConfigBase<N extends AgentToolName>(name: N) {
  return {
    name: z.literal(name),
    type: z.literal(name).optional(),
    enabled: z.boolean().nullish(),
    permission_policy: policyParam,
  };
}

const notBothDomainLists = (c: { allowed_domains?: unknown; blocked_domains?: unknown }) =>
  c.allowed_domains === undefined || c.blocked_domains === undefined;
const notBothMessage = { message: 'allowed_domains and blocked_domains cannot be combined' };

export const agentToolConfigParamsSchema = z.discriminatedUnion('name', [
  z.strictObject(toolConfigBase('bash')),
  z.strictObject(toolConfigBase('edit')),
  z.strictObject(toolConfigBase('read')),
  z.strictObject(toolConfigBase('write')),
  z.strictObject(toolConfigBase('glob')),
  z.strictObject(toolConfigBase('grep')),
  z
    .strictObject({
      ...toolConfigBase('web_fetch'),
      allowed_domains: domainList(domain).optional(),
      blocked_domains: domainList(domain).optional(),
      max_content_tokens: z.number().int().positive().max(1_000_000).nullish(),
      url_sources: urlSourcesParamsSchema.nullish(),
    })
    .refine(notBothDomainLists, notBothMessage),
  z
    .strictObject({
      ...toolConfigBase('web_search'),
      allowed_domains: domainList(domainWithPath).optional(),
      blocked_domains: domainList(domainWithPath).optional(),
      user_location: userLocation.nullish(),
    })
    .refine(notBothDomainLists, notBothMessage),
]);
export type AgentToolConfigParams = z.infer<typeof agentToolConfigParamsSchema>;

const toolsetDefaultConfigParams = z.strictObject({ enabled: z.boolean().nullish(), permission_policy: policyParam }).nullish();

export const agentToolsetParamsSchema = z.strictObject({
  type: z.literal('agent_toolset_20260401'),
  configs: z.array(agentToolConfigParamsSchema).max(AGENT_TOOL_NAMES.length * 2).optional(),
  default_config: toolsetDefaultConfigParams,
});

export const mcpToolsetParamsSchema = z.strictObject({
  type: z.literal('mcp_toolset'),
  mcp_server_name: singleLine(z.string().min(1).max(255)),
  configs: z
    .array(z.strictObject({ name: singleLine(z.string().min(1).max(128)), enabled: z.boolean().nullish(), permission_policy: policyParam }))
    .max(TOOLS_MAX)
    .optional(),
  default_config: toolsetDefaultConfigParams,
});

export const customToolParamsSchema = z.strictObject({
  type: z.literal('custom'),
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be 1-128 letters, digits, underscores or hyphens'),
  description: z.string().min(1).max(10_000),
  // A JSON Schema: its own vocabulary is open, so only the top level is checked.
  input_schema: z.looseObject({
    type: z.literal('object'),
    properties: z.record(z.string(), z.unknown()).nullish(),
    required: z.array(z.string()).nullish(),
  }),
});

export const toolParamsSchema = z.discriminatedUnion('type', [agentToolsetParamsSchema, mcpToolsetParamsSchema, customToolParamsSchema]);
export type ToolParams = z.infer<typeof toolParamsSchema>;

export const mcpServerParamsSchema = z.strictObject({
  name: singleLine(z.string().min(1).max(255)),
  type: z.literal('url'),
  url: singleLine(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048)),
});

export const skillParamsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('anthropic'), skill_id: singleLine(z.string().min(1).max(128)), version: singleLine(z.string().min(1).max(64)).nullish() }),
  z.strictObject({ type: z.literal('custom'), skill_id: singleLine(z.string().min(1).max(128)), version: singleLine(z.string().min(1).max(64)).nullish() }),
]);

export const executionIdentityParamsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('service_account') }),
  z.strictObject({ type: z.literal('aws_role'), role_arn: singleLine(z.string().min(1).max(2048)) }),
]);

const systemSchema = z.string().max(SYSTEM_MAX);

export const agentCreateSchema = z.strictObject({
  name: nameSchema,
  model: modelParamSchema,
  description: descriptionSchema.nullish(),
  system: systemSchema.nullish(),
  tools: z.array(toolParamsSchema).max(TOOLS_MAX).optional(),
  mcp_servers: z.array(mcpServerParamsSchema).max(MCP_SERVERS_MAX).optional(),
  skills: z.array(skillParamsSchema).max(SKILLS_MAX).optional(),
  metadata: metadataSchema.optional(),
  execution_identity: executionIdentityParamsSchema.nullish(),
  // Checked in resolution, so the message can say why it is refused.
  multiagent: z.unknown().optional(),
});
export type AgentCreateInput = z.infer<typeof agentCreateSchema>;

export const agentUpdateSchema = z.strictObject({
  name: nameSchema.optional(),
  model: modelParamSchema.optional(),
  description: descriptionSchema.nullish(),
  system: systemSchema.nullish(),
  tools: z.array(toolParamsSchema).max(TOOLS_MAX).nullish(),
  mcp_servers: z.array(mcpServerParamsSchema).max(MCP_SERVERS_MAX).nullish(),
  skills: z.array(skillParamsSchema).max(SKILLS_MAX).nullish(),
  metadata: metadataPatchSchema.nullish(),
  execution_identity: executionIdentityParamsSchema.nullish(),
  multiagent: z.unknown().optional(),
  version: z.number().int().min(1).optional(),
});
export type AgentUpdateInput = z.infer<typeof agentUpdateSchema>;

export type ModelParam = z.infer<typeof modelParamSchema>;
export type McpServerParams = z.infer<typeof mcpServerParamsSchema>;
export type SkillParams = z.infer<typeof skillParamsSchema>;
export type ExecutionIdentityParams = z.infer<typeof executionIdentityParamsSchema>;
export type UrlSourcesParams = z.infer<typeof urlSourcesParamsSchema>;
