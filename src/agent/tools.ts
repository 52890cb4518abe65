/**
 * The agent's `agent_toolset_20260401` configuration decides which Claude Code
 * tools exist in a session and which of them need a human's confirmation.
 */

/** API tool name → Claude Code tool name. */
export const TOOL_NAMES = {
  bash: 'Bash',
  edit: 'Edit',
  read: 'Read',
  write: 'Write',
  glob: 'Glob',
  grep: 'Grep',
  web_fetch: 'WebFetch',
  web_search: 'WebSearch',
} as const;

export type ApiToolName = keyof typeof TOOL_NAMES;
export type Policy = 'always_allow' | 'always_ask' | 'auto';

const CLAUDE_TO_API = new Map<string, ApiToolName>(
  Object.entries(TOOL_NAMES).map(([api, claude]) => [claude, api as ApiToolName]),
);

/** The API's name for a Claude Code tool (`Bash` → `bash`); unknown tools keep their name. */
export function apiToolName(claudeName: string): string {
  return CLAUDE_TO_API.get(claudeName) ?? claudeName;
}

export interface ToolPlan {
  /** Claude Code's base tool set for the session (everything else is absent). */
  tools: string[];
  /** Tools that run without asking. */
  allowedTools: string[];
  /** Claude Code names of tools that wait for `user.tool_confirmation`. */
  askTools: Set<string>;
}

interface ToolConfigLike {
  name?: unknown;
  enabled?: unknown;
  permission_policy?: { type?: unknown } | null;
}

function policyOf(value: { type?: unknown } | null | undefined): Policy | undefined {
  const t = value?.type;
  return t === 'always_allow' || t === 'always_ask' || t === 'auto' ? t : undefined;
}

/**
 * Resolves an agent's `tools` array into the SDK's options. `auto` is treated
 * as `always_allow`: agenthost has no permission classifier, and the sandbox,
 * not the policy, is what contains the agent.
 */
export function planTools(agentTools: unknown): ToolPlan {
  const plan: ToolPlan = { tools: [], allowedTools: [], askTools: new Set() };
  if (!Array.isArray(agentTools)) return plan;
  const toolset = agentTools.find((t) => (t as { type?: unknown })?.type === 'agent_toolset_20260401') as
    | { configs?: ToolConfigLike[]; default_config?: ToolConfigLike | null }
    | undefined;
  if (!toolset) return plan;
  const defaults = toolset.default_config ?? {};
  const defaultEnabled = defaults.enabled !== false;
  const defaultPolicy = policyOf(defaults.permission_policy) ?? 'always_allow';
  const byName = new Map<string, ToolConfigLike>();
  for (const c of toolset.configs ?? []) if (typeof c.name === 'string') byName.set(c.name, c);

  for (const [api, claude] of Object.entries(TOOL_NAMES)) {
    const c = byName.get(api);
    const enabled = typeof c?.enabled === 'boolean' ? c.enabled : defaultEnabled;
    if (!enabled) continue;
    const policy = policyOf(c?.permission_policy) ?? defaultPolicy;
    plan.tools.push(claude);
    if (policy === 'always_ask') plan.askTools.add(claude);
    else plan.allowedTools.push(claude);
  }
  return plan;
}
