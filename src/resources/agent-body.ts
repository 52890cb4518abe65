import { invalid } from '../errors.js';
import type { JsonObject } from '../store/store.js';
import { applyMetadataPatch, type PermissionPolicy } from './common-schema.js';
import {
  AGENT_TOOL_NAMES,
  type AgentCreateInput,
  type AgentToolConfigParams,
  type AgentToolName,
  type AgentUpdateInput,
  type ExecutionIdentityParams,
  type McpServerParams,
  type ModelParam,
  type SkillParams,
  type ToolParams,
  type UrlSourcesParams,
  effortLevels,
} from './agent-schema.js';

/**
 * The agent as stored (`AgentRecord.body`) and shown, minus id, type,
 * version and timestamps: every default resolved, so the session engine reads
 * one shape. Field names follow `BetaManagedAgentsAgent`.
 *
 * What the session engine runs: the `agent_toolset_20260401` tools (mapped to
 * Claude Code's Bash/Edit/Read/Write/Glob/Grep/WebFetch/WebSearch) with their
 * permission policies, `system`, `model` and the URL MCP servers. Custom tools
 * and `mcp_toolset` entries are validated and stored in the API's shape so
 * clients round-trip them, but the engine only runs agent_toolset tools.
 * Skills are stored likewise (version `latest` when unpinned) and not loaded.
 */
export interface AgentBody {
  name: string;
  description: string | null;
  system: string | null;
  model: ModelConfig;
  tools: ResolvedTool[];
  mcp_servers: McpServer[];
  skills: Skill[];
  metadata: Record<string, string>;
  execution_identity: { type: 'service_account' };
  multiagent: null;
}

export type Effort = { type: (typeof effortLevels)[number] };

export interface ModelConfig {
  id: string;
  /** Present only when the client chose one; absent means the model's own default. */
  effort?: Effort;
  inference_geo?: string;
  speed: 'standard' | 'fast';
}

export interface ToolConfig {
  name: AgentToolName;
  type: AgentToolName;
  enabled: boolean;
  permission_policy: PermissionPolicy;
  // web_fetch / web_search only:
  url_sources?: UrlSources | null;
  allowed_domains?: string[];
  blocked_domains?: string[];
  max_content_tokens?: number | null;
  user_location?: Record<string, string | null> | null;
}

export interface AgentToolset {
  type: 'agent_toolset_20260401';
  default_config: { enabled: boolean; permission_policy: PermissionPolicy };
  configs: ToolConfig[];
}

export interface McpToolset {
  type: 'mcp_toolset';
  mcp_server_name: string;
  default_config: { enabled: boolean; permission_policy: PermissionPolicy };
  configs: Array<{ name: string; enabled: boolean; permission_policy: PermissionPolicy }>;
}

export interface CustomTool {
  type: 'custom';
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export type ResolvedTool = AgentToolset | McpToolset | CustomTool;
export type McpServer = { name: string; type: 'url'; url: string };
export type Skill = { type: 'anthropic' | 'custom'; skill_id: string; version: string };

type ToolFilter = { type: 'all' } | { type: 'none' } | { type: 'only' | 'except'; tools: Array<{ name: string; type: 'tool_reference' }> };
export interface UrlSources {
  client_tool_results: ToolFilter | null;
  server_tool_results: ToolFilter | null;
  user_input: { type: 'all' } | { type: 'none' } | null;
}

const ALWAYS_ALLOW: PermissionPolicy = { type: 'always_allow' };
// MCP servers can grow new tools at any time; asking first keeps a new tool from running unseen.
const ALWAYS_ASK: PermissionPolicy = { type: 'always_ask' };

export function resolveModel(param: ModelParam, previous?: ModelConfig): ModelConfig {
  const p = typeof param === 'string' ? { id: param } : param;
  // On update an omitted effort keeps the stored one; null clears it.
  const effort = p.effort === undefined ? previous?.effort : p.effort === null ? undefined : typeof p.effort === 'string' ? { type: p.effort } : p.effort;
  return {
    id: p.id,
    ...(effort ? { effort } : {}),
    ...(p.inference_geo ? { inference_geo: p.inference_geo } : {}),
    speed: p.speed ?? 'standard',
  };
}

function resolveFilter(f: NonNullable<UrlSourcesParams['client_tool_results']>): ToolFilter {
  return typeof f === 'string' ? { type: f } : f;
}

function resolveUrlSources(p: UrlSourcesParams | null | undefined): UrlSources | null {
  if (!p) return null;
  const sources: UrlSources = {
    client_tool_results: p.client_tool_results ? resolveFilter(p.client_tool_results) : null,
    server_tool_results: p.server_tool_results ? resolveFilter(p.server_tool_results) : null,
    user_input: p.user_input ? (typeof p.user_input === 'string' ? { type: p.user_input } : p.user_input) : null,
  };
  if (sources.client_tool_results?.type === 'none' && sources.server_tool_results?.type === 'none' && sources.user_input?.type === 'none') {
    throw invalid('url_sources: setting client_tool_results, server_tool_results and user_input all to "none" leaves web_fetch nothing to fetch');
  }
  const server = sources.server_tool_results;
  if (server && 'tools' in server) {
    const bad = server.tools.find((t) => t.name !== 'web_search' && t.name !== 'web_fetch');
    if (bad) throw invalid(`url_sources.server_tool_results: ${JSON.stringify(bad.name)} is not "web_search" or "web_fetch"`);
  }
  return sources;
}

function resolveToolConfig(name: AgentToolName, override: AgentToolConfigParams | undefined, defaults: AgentToolset['default_config']): ToolConfig {
  const config: ToolConfig = {
    name,
    type: name,
    enabled: override?.enabled ?? defaults.enabled,
    permission_policy: override?.permission_policy ?? defaults.permission_policy,
  };
  if (override?.name === 'web_fetch') {
    config.url_sources = resolveUrlSources(override.url_sources);
    if (override.allowed_domains) config.allowed_domains = override.allowed_domains;
    if (override.blocked_domains) config.blocked_domains = override.blocked_domains;
    if (override.max_content_tokens != null) config.max_content_tokens = override.max_content_tokens;
  } else if (name === 'web_fetch') {
    config.url_sources = null;
  }
  if (override?.name === 'web_search') {
    if (override.allowed_domains) config.allowed_domains = override.allowed_domains;
    if (override.blocked_domains) config.blocked_domains = override.blocked_domains;
    if (override.user_location) config.user_location = override.user_location as Record<string, string | null>;
  }
  return config;
}

function uniqueOrThrow(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw invalid(`${what}: ${JSON.stringify(n)} appears more than once`);
    seen.add(n);
  }
}

export function resolveTool(tool: ToolParams, index: number): ResolvedTool {
  const at = `tools.${index}`;
  switch (tool.type) {
    case 'agent_toolset_20260401': {
      const configs = tool.configs ?? [];
      uniqueOrThrow(configs.map((c) => c.name), `${at}.configs: tool name`);
      const defaults = {
        enabled: tool.default_config?.enabled ?? true,
        permission_policy: tool.default_config?.permission_policy ?? ALWAYS_ALLOW,
      };
      return {
        type: tool.type,
        default_config: defaults,
        configs: AGENT_TOOL_NAMES.map((name) => resolveToolConfig(name, configs.find((c) => c.name === name), defaults)),
      };
    }
    case 'mcp_toolset': {
      const configs = tool.configs ?? [];
      uniqueOrThrow(configs.map((c) => c.name), `${at}.configs: tool name`);
      const defaults = {
        enabled: tool.default_config?.enabled ?? true,
        permission_policy: tool.default_config?.permission_policy ?? ALWAYS_ASK,
      };
      return {
        type: tool.type,
        mcp_server_name: tool.mcp_server_name,
        default_config: defaults,
        configs: configs.map((c) => ({
          name: c.name,
          enabled: c.enabled ?? defaults.enabled,
          permission_policy: c.permission_policy ?? defaults.permission_policy,
        })),
      };
    }
    case 'custom':
      return { type: 'custom', name: tool.name, description: tool.description, input_schema: tool.input_schema };
  }
}

export function resolveMcpServers(servers: McpServerParams[]): McpServer[] {
  uniqueOrThrow(servers.map((s) => s.name), 'mcp_servers: server name');
  return servers.map((s) => ({ name: s.name, type: 'url', url: s.url }));
}

export function resolveSkills(skills: SkillParams[]): Skill[] {
  uniqueOrThrow(skills.map((s) => `${s.type}:${s.skill_id}`), 'skills: skill');
  return skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' }));
}

export function resolveExecutionIdentity(p: ExecutionIdentityParams | null | undefined): AgentBody['execution_identity'] {
  if (p?.type === 'aws_role') {
    throw invalid(
      'execution_identity: type "aws_role" is not supported by agenthost: sessions run in its own sandboxes and assume no cloud role; omit it or send {"type":"service_account"}',
    );
  }
  return { type: 'service_account' };
}

function checkMultiagent(value: unknown): null {
  if (value === undefined || value === null) return null;
  throw invalid('multiagent: multi-agent orchestration is not supported by agenthost; omit it or send null');
}

/**
 * Checks that hold across fields of the resolved agent: one agent toolset,
 * one mcp_toolset per server, every toolset names a server and every server is
 * used, custom tool names are distinct and do not shadow built-in tools, and
 * web_fetch's client_tool_results names custom tools that exist.
 */
export function validateAgentBody(body: AgentBody): void {
  const toolsets = body.tools.filter((t): t is AgentToolset => t.type === 'agent_toolset_20260401');
  if (toolsets.length > 1) throw invalid('tools: agent_toolset_20260401 appears more than once');
  const mcp = body.tools.filter((t): t is McpToolset => t.type === 'mcp_toolset');
  uniqueOrThrow(mcp.map((t) => t.mcp_server_name), 'tools: mcp_toolset for server');
  const custom = body.tools.filter((t): t is CustomTool => t.type === 'custom');
  uniqueOrThrow(custom.map((t) => t.name), 'tools: custom tool name');
  if (toolsets.length > 0) {
    const clash = custom.find((t) => (AGENT_TOOL_NAMES as readonly string[]).includes(t.name));
    if (clash) throw invalid(`tools: custom tool ${JSON.stringify(clash.name)} has the name of a built-in agent_toolset_20260401 tool`);
  }
  const servers = new Set(body.mcp_servers.map((s) => s.name));
  for (const t of mcp) {
    if (!servers.has(t.mcp_server_name)) throw invalid(`tools: mcp_toolset names server ${JSON.stringify(t.mcp_server_name)}, which is not in mcp_servers`);
  }
  const used = new Set(mcp.map((t) => t.mcp_server_name));
  const unused = body.mcp_servers.find((s) => !used.has(s.name));
  if (unused) throw invalid(`mcp_servers: server ${JSON.stringify(unused.name)} is not referenced by any mcp_toolset in tools`);
  const client = toolsets[0]?.configs.find((c) => c.name === 'web_fetch')?.url_sources?.client_tool_results;
  if (client && 'tools' in client) {
    const names = new Set(custom.map((t) => t.name));
    const missing = client.tools.find((t) => !names.has(t.name));
    if (missing) throw invalid(`url_sources.client_tool_results: ${JSON.stringify(missing.name)} is not a custom tool of this agent`);
  }
}

export function agentBodyFromCreate(p: AgentCreateInput): AgentBody {
  const body: AgentBody = {
    name: p.name,
    description: p.description || null,
    system: p.system || null,
    model: resolveModel(p.model),
    tools: (p.tools ?? []).map(resolveTool),
    mcp_servers: resolveMcpServers(p.mcp_servers ?? []),
    skills: resolveSkills(p.skills ?? []),
    metadata: p.metadata ?? {},
    execution_identity: resolveExecutionIdentity(p.execution_identity),
    multiagent: checkMultiagent(p.multiagent),
  };
  validateAgentBody(body);
  return body;
}

/**
 * Applies an update to a stored body. Omitted fields keep their value;
 * `tools`, `mcp_servers` and `skills` are replaced whole (null clears);
 * `metadata` is a patch (a null value deletes a key; null for the whole bag
 * clears it); empty string or null clears `description` and `system`.
 */
export function agentBodyFromUpdate(current: AgentBody, p: AgentUpdateInput): AgentBody {
  const body: AgentBody = {
    name: p.name ?? current.name,
    description: p.description === undefined ? current.description : p.description || null,
    system: p.system === undefined ? current.system : p.system || null,
    model: p.model === undefined ? current.model : resolveModel(p.model, current.model),
    tools: p.tools === undefined ? current.tools : (p.tools ?? []).map(resolveTool),
    mcp_servers: p.mcp_servers === undefined ? current.mcp_servers : resolveMcpServers(p.mcp_servers ?? []),
    skills: p.skills === undefined ? current.skills : resolveSkills(p.skills ?? []),
    metadata:
      p.metadata === undefined ? current.metadata : p.metadata === null ? {} : applyMetadataPatch(current.metadata, p.metadata, { deleteEmpty: false }),
    execution_identity: p.execution_identity === undefined ? current.execution_identity : resolveExecutionIdentity(p.execution_identity),
    multiagent: checkMultiagent(p.multiagent),
  };
  validateAgentBody(body);
  return body;
}

/** Stored bodies were written by this module; the cast is the one place that trusts it. */
export function agentBodyOf(json: JsonObject): AgentBody {
  return json as unknown as AgentBody;
}
