import type { EventDraft } from '../sessions/event-log.js';
import type { Json, JsonObject } from '../store/store.js';
import { apiToolName } from './tools.js';

/**
 * Pure translation from Claude Code's SDK messages to the Managed Agents
 * API's events. The runner owns ids and ordering; this owns shapes.
 */

export interface ContentBlockLike {
  type: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

export interface ToolUseDraft {
  /** Claude Code's tool_use id (`toolu_...`). */
  sdkToolUseId: string;
  claudeName: string;
  draft: EventDraft;
}

/** Maps an assistant message's content to agent.message / agent.thinking / agent.tool_use drafts. */
export function mapAssistantContent(
  blocks: ContentBlockLike[],
  askTools: ReadonlySet<string>,
): Array<{ draft: EventDraft; toolUse?: Omit<ToolUseDraft, 'draft'> }> {
  const out: Array<{ draft: EventDraft; toolUse?: Omit<ToolUseDraft, 'draft'> }> = [];
  for (const block of blocks) {
    switch (block.type) {
      case 'text':
        if (block.text) out.push({ draft: { type: 'agent.message', fields: { content: [{ type: 'text', text: block.text }] } } });
        break;
      case 'thinking':
      case 'redacted_thinking':
        out.push({ draft: { type: 'agent.thinking', fields: {} } });
        break;
      case 'tool_use': {
        const name = block.name ?? 'unknown';
        out.push({
          draft: {
            type: 'agent.tool_use',
            fields: {
              name: apiToolName(name),
              input: toJsonObject(block.input),
              evaluated_permission: askTools.has(name) ? 'ask' : 'allow',
            },
          },
          toolUse: { sdkToolUseId: block.id ?? '', claudeName: name },
        });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** Maps a tool_result block to an agent.tool_result draft, given the agent.tool_use event id it answers. */
export function mapToolResult(block: ContentBlockLike, toolUseEventId: string): EventDraft {
  return {
    type: 'agent.tool_result',
    fields: {
      tool_use_id: toolUseEventId,
      content: toolResultContent(block.content),
      is_error: block.is_error === true,
    },
  };
}

function toolResultContent(content: unknown): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const out: Json[] = [];
  for (const item of content as ContentBlockLike[]) {
    if (item?.type === 'text' && typeof item.text === 'string') out.push({ type: 'text', text: item.text });
    else if (item?.type === 'image') out.push({ type: 'text', text: '[image]' });
  }
  return out;
}

function toJsonObject(value: unknown): JsonObject {
  if (value && typeof value === 'object' && !Array.isArray(value)) return JSON.parse(JSON.stringify(value)) as JsonObject;
  return {};
}

export type StopReason =
  | { type: 'end_turn' }
  | { type: 'requires_action'; event_ids: string[] }
  | { type: 'budget_reached' }
  | { type: 'retries_exhausted' }
  /** agenthost extension: the maxTurns guard stopped the turn. */
  | { type: 'max_turns'; max_turns: number };

export interface ResultLike {
  type: 'result';
  subtype: string;
  is_error?: boolean;
  num_turns?: number;
  total_cost_usd?: number;
  errors?: string[];
  result?: string;
  /** The model API's status and error type, when a model request failed for good (after Claude Code's own retries). */
  api_error_status?: number;
  api_error_type?: string;
}

/**
 * Decides how a turn ended from the SDK's result message. Errors become a
 * `session.error` draft the user can read, followed by the idle stop reason.
 */
export function mapResult(result: ResultLike, maxTurns: number): { stopReason: StopReason; error?: EventDraft } {
  switch (result.subtype) {
    case 'success':
      // Claude Code reports a model request that failed for good as a successful
      // turn whose result is the error; the API reports it as a model error.
      if (result.is_error && result.api_error_status !== undefined) {
        return { stopReason: { type: 'retries_exhausted' }, error: modelError(result.api_error_status, result.result) };
      }
      return { stopReason: { type: 'end_turn' } };
    case 'error_max_turns':
      return {
        stopReason: { type: 'max_turns', max_turns: maxTurns },
        error: sessionError('tool_use_limit_reached_error', `the turn was stopped after ${maxTurns} model turns (the session's max_turns guard)`),
      };
    case 'error_max_budget_usd':
      return {
        stopReason: { type: 'budget_reached' },
        error: sessionError('billing_error', "the session's budget is spent; raise budget.max_list_cost to continue"),
      };
    default: {
      const detail = result.errors?.filter(Boolean).join('; ');
      return {
        stopReason: { type: 'end_turn' },
        error: sessionError('unknown_error', `the turn failed${detail ? `: ${detail}` : ''}`),
      };
    }
  }
}

/** A model request that failed after Claude Code's retries, as the API's model error types: 429 rate limited, 529 overloaded, anything else failed. */
function modelError(status: number, text: string | undefined): EventDraft {
  const type = status === 429 ? 'model_rate_limited_error' : status === 529 ? 'model_overloaded_error' : 'model_request_failed_error';
  return sessionError(type, `the model request failed with status ${status}${text ? `: ${text}` : ''}`, status === 429 || status === 529 || status >= 500 ? 'exhausted' : 'terminal');
}

export function sessionError(type: string, message: string, retry: 'terminal' | 'exhausted' = 'terminal'): EventDraft {
  return { type: 'session.error', fields: { error: { type, message, retry_status: { type: retry } } } };
}

export function idleDraft(stopReason: StopReason): EventDraft {
  return { type: 'session.status_idle', fields: { stop_reason: stopReason as unknown as JsonObject, stop_details: null } };
}
