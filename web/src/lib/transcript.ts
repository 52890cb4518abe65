/**
 * A session's events as the session view shows them. `addEvents` is the
 * reducer every source feeds (the history list, the live stream, and the
 * replay after a reconnect): it keeps arrival order and drops any event it
 * has already seen, so overlapping sources never duplicate a line.
 * `transcriptItems` turns the log into what is drawn; `pendingConfirmations`
 * finds the `always_ask` calls that wait for a human.
 */
import type { SessionEvent, ToolUseEvent } from '../api/types';

/** An event as it arrives; fields beyond the typed ones are kept (agenthost extensions). */
export type AnyEvent = SessionEvent | { id: string; type: string; processed_at?: string | null; [k: string]: unknown };

export interface Transcript {
  readonly events: readonly AnyEvent[];
  readonly seen: ReadonlySet<string>;
  /** The newest event's id: what a reconnecting stream sends as `Last-Event-ID`. */
  readonly lastEventId: string | undefined;
}

export const emptyTranscript: Transcript = { events: [], seen: new Set(), lastEventId: undefined };

export function addEvents(state: Transcript, incoming: readonly AnyEvent[]): Transcript {
  const fresh: AnyEvent[] = [];
  let seen: Set<string> | undefined;
  for (const event of incoming) {
    if (!event || typeof event.id !== 'string') continue;
    if (state.seen.has(event.id) || seen?.has(event.id)) continue;
    seen ??= new Set(state.seen);
    seen.add(event.id);
    fresh.push(event);
  }
  if (!seen) return state;
  return { events: [...state.events, ...fresh], seen, lastEventId: fresh[fresh.length - 1]!.id };
}

/**
 * Puts a full history listing (in the server's order) under what the state
 * already holds: the history first, then held events it does not contain.
 * Used when a stream opened without `Last-Event-ID` and its first events may
 * have overtaken the listing.
 */
export function mergeHistory(state: Transcript, history: readonly AnyEvent[]): Transcript {
  const merged = addEvents(emptyTranscript, history);
  const rest = state.events.filter((e) => !merged.seen.has(e.id));
  const next = addEvents(merged, rest);
  return next.events.length === state.events.length && next.events.every((e, i) => e === state.events[i]) ? state : next;
}

export interface ToolResult {
  text: string;
  isError: boolean;
}

export type TranscriptItem =
  | { kind: 'user'; id: string; at: string; text: string }
  | { kind: 'agent'; id: string; at: string; text: string }
  | { kind: 'thinking'; id: string; at: string; count: number; text: string }
  | {
      kind: 'tool';
      id: string;
      at: string;
      name: string;
      server?: string;
      input: unknown;
      permission: string | undefined;
      result: ToolResult | undefined;
      confirmation: { result: 'allow' | 'deny'; message: string | undefined } | undefined;
      pending: boolean;
    }
  | { kind: 'error'; id: string; at: string; errorType: string; message: string }
  | { kind: 'status'; id: string; at: string; status: string; detail: string | undefined }
  | { kind: 'interrupt'; id: string; at: string }
  | { kind: 'other'; id: string; at: string; type: string };

const STATUS_EVENTS = new Set(['session.status_running', 'session.status_idle', 'session.status_terminated', 'session.status_rescheduled']);

/** The text of a content array (text blocks; other blocks are named). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: string; text?: string }) => (typeof block?.text === 'string' ? block.text : block?.type ? `[${block.type}]` : ''))
    .join('');
}

function field<T = unknown>(event: AnyEvent, name: string): T | undefined {
  return (event as Record<string, unknown>)[name] as T | undefined;
}

function at(event: AnyEvent): string {
  return (field<string>(event, 'processed_at') ?? '') || '';
}

/** Why an idle session stopped, in words. */
export function describeStop(stopReason: unknown): string | undefined {
  const r = stopReason as { type?: string; event_ids?: string[]; max_turns?: number } | null | undefined;
  if (!r?.type) return undefined;
  switch (r.type) {
    case 'end_turn':
      return 'turn ended';
    case 'requires_action':
      return `waiting for approval of ${r.event_ids?.length ?? 0} tool call${r.event_ids?.length === 1 ? '' : 's'}`;
    case 'budget_reached':
      return 'budget reached';
    case 'max_turns':
      return `stopped after ${r.max_turns ?? 'the maximum'} model turns`;
    case 'retries_exhausted':
      return 'retries exhausted';
    case 'refusal':
      return 'the model refused';
    default:
      return r.type.replace(/_/g, ' ');
  }
}

/** The tool calls the session waits on: the last idle's `requires_action` ids not yet confirmed or answered. */
export function pendingConfirmations(events: readonly AnyEvent[]): ToolUseEvent[] {
  let lastStatus: AnyEvent | undefined;
  for (let i = events.length - 1; i >= 0; i--) {
    if (STATUS_EVENTS.has(events[i]!.type)) {
      lastStatus = events[i];
      break;
    }
  }
  if (!lastStatus || lastStatus.type !== 'session.status_idle') return [];
  const reason = field<{ type?: string; event_ids?: string[] }>(lastStatus, 'stop_reason');
  if (reason?.type !== 'requires_action' || !Array.isArray(reason.event_ids)) return [];
  const answered = new Set<string>();
  for (const e of events) {
    if (e.type === 'user.tool_confirmation' || e.type === 'agent.tool_result') answered.add(field<string>(e, 'tool_use_id') ?? '');
    if (e.type === 'agent.mcp_tool_result') answered.add(field<string>(e, 'mcp_tool_use_id') ?? '');
  }
  const byId = new Map(events.map((e) => [e.id, e]));
  return reason.event_ids
    .filter((id) => !answered.has(id))
    .map((id) => byId.get(id))
    .filter((e): e is AnyEvent => e !== undefined && (e.type === 'agent.tool_use' || e.type === 'agent.mcp_tool_use'))
    .map((e) => e as ToolUseEvent);
}

/** The session's status as its events tell it (the last status event), if any. */
export function statusFromEvents(events: readonly AnyEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const type = events[i]!.type;
    if (STATUS_EVENTS.has(type)) return type.slice('session.status_'.length);
  }
  return undefined;
}

export function transcriptItems(events: readonly AnyEvent[]): TranscriptItem[] {
  const pending = new Set(pendingConfirmations(events).map((e) => e.id));
  const results = new Map<string, ToolResult>();
  const confirmations = new Map<string, { result: 'allow' | 'deny'; message: string | undefined }>();
  for (const e of events) {
    if (e.type === 'agent.tool_result' || e.type === 'agent.mcp_tool_result' || e.type === 'user.custom_tool_result') {
      const key = field<string>(e, 'tool_use_id') ?? field<string>(e, 'mcp_tool_use_id') ?? field<string>(e, 'custom_tool_use_id');
      if (key) results.set(key, { text: contentText(field(e, 'content')), isError: field<boolean>(e, 'is_error') === true });
    } else if (e.type === 'user.tool_confirmation') {
      const key = field<string>(e, 'tool_use_id');
      const result = field<'allow' | 'deny'>(e, 'result');
      if (key && result) confirmations.set(key, { result, message: field<string | null>(e, 'deny_message') ?? undefined });
    }
  }

  const items: TranscriptItem[] = [];
  for (const e of events) {
    const base = { id: e.id, at: at(e) };
    switch (e.type) {
      case 'user.message':
        items.push({ kind: 'user', ...base, text: contentText(field(e, 'content')) });
        break;
      case 'agent.message':
        items.push({ kind: 'agent', ...base, text: contentText(field(e, 'content')) });
        break;
      case 'agent.thinking': {
        // Consecutive thinking collapses into one line.
        const text = contentText(field(e, 'content')) || (field<string>(e, 'thinking') ?? '');
        const last = items[items.length - 1];
        if (last?.kind === 'thinking') {
          last.count++;
          if (text) last.text = last.text ? `${last.text}\n\n${text}` : text;
        } else items.push({ kind: 'thinking', ...base, count: 1, text });
        break;
      }
      case 'agent.tool_use':
      case 'agent.mcp_tool_use':
      case 'agent.custom_tool_use': {
        const server = field<string>(e, 'mcp_server_name');
        items.push({
          kind: 'tool',
          ...base,
          name: field<string>(e, 'name') ?? 'tool',
          ...(server ? { server } : {}),
          input: field(e, 'input'),
          permission: field<string>(e, 'evaluated_permission'),
          result: results.get(e.id),
          confirmation: confirmations.get(e.id),
          pending: pending.has(e.id),
        });
        break;
      }
      case 'session.error': {
        const error = field<{ type?: string; message?: string }>(e, 'error') ?? {};
        items.push({ kind: 'error', ...base, errorType: error.type ?? 'error', message: error.message ?? '' });
        break;
      }
      case 'session.status_running':
      case 'session.status_idle':
      case 'session.status_terminated':
      case 'session.status_rescheduled':
        items.push({ kind: 'status', ...base, status: e.type.slice('session.status_'.length), detail: describeStop(field(e, 'stop_reason')) });
        break;
      case 'user.interrupt':
        items.push({ kind: 'interrupt', ...base });
        break;
      // Shown elsewhere: results and confirmations inside their tool call, spans as usage.
      case 'agent.tool_result':
      case 'agent.mcp_tool_result':
      case 'user.custom_tool_result':
      case 'user.tool_confirmation':
        break;
      default:
        if (e.type.startsWith('span.')) break;
        items.push({ kind: 'other', ...base, type: e.type });
    }
  }
  return items;
}
