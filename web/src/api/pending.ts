/**
 * Which idle sessions wait on tool confirmations, for the sessions list. The
 * session object has no stop reason, so this reads the session's last
 * `session.status_idle` and its tool calls, through the ordinary events list.
 * Answers are cached per session `updated_at`: a session that has not changed
 * is not asked again.
 */
import { pendingConfirmations, type AnyEvent } from '../lib/transcript';
import type { ApiClient } from './client';
import type { Session, ToolUseEvent } from './types';

const cache = new Map<string, { stamp: string; pending: ToolUseEvent[] }>();

export async function pendingFor(client: ApiClient, session: Session, signal?: AbortSignal): Promise<ToolUseEvent[]> {
  if (session.status !== 'idle' || session.archived_at) return [];
  const stamp = `${session.updated_at}|${session.status}`;
  const hit = cache.get(session.id);
  if (hit?.stamp === stamp) return hit.pending;
  const [idle] = await client.listEvents(session.id, { types: ['session.status_idle'], order: 'desc', limit: 1 }, 1, signal);
  let pending: ToolUseEvent[] = [];
  const reason = (idle as { stop_reason?: { type?: string } } | undefined)?.stop_reason;
  if (idle && reason?.type === 'requires_action') {
    const related = await client.listEvents(
      session.id,
      { types: ['agent.tool_use', 'agent.mcp_tool_use', 'user.tool_confirmation', 'agent.tool_result', 'agent.mcp_tool_result'], order: 'desc', limit: 100 },
      100,
      signal,
    );
    const events: AnyEvent[] = [...related.reverse(), idle];
    pending = pendingConfirmations(events);
  }
  cache.set(session.id, { stamp, pending });
  return pending;
}

/** Forget a session's answer (after the console itself confirmed a call). */
export function forgetPending(sessionId: string): void {
  cache.delete(sessionId);
}
