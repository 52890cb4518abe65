import { TOOL_NAMES } from '../agent/tools.js';
import type { Json, JsonObject, SessionRecord, Store } from '../store/store.js';
import type { LiveSessions } from './live-sessions.js';

/** A call the user approved while no process waited for the answer. */
export interface Preapproval {
  claudeName: string;
  input: JsonObject;
}

/**
 * Tool confirmations of sessions without a process to answer them. A live
 * process holds its own waiting calls; a session without one (hibernated, or
 * the server restarted) is still waiting for the calls its last
 * `requires_action` named. Their call never ran: the answer goes to a
 * restored process as a message, and an approved call is allowed once
 * without asking when the agent makes it again, so it runs exactly once.
 */
export class Confirmations {
  private readonly preapprovals = new Map<string, Preapproval>();

  constructor(private readonly o: { store: Store; sessions: LiveSessions }) {}

  /** Event ids of tool uses waiting for confirmation. */
  async waiting(session: SessionRecord): Promise<string[]> {
    const live = this.o.sessions.running(session.id);
    if (live) return live.waitingToolUses();
    const recent = await this.o.store.listEvents(session.id, {
      limit: 500,
      order: 'desc',
      types: ['session.status_idle', 'user.tool_confirmation', 'agent.tool_result', 'session.status_running'],
    });
    const answered = new Set<string>();
    for (const e of recent.items) {
      if (e.type === 'user.tool_confirmation' || e.type === 'agent.tool_result') answered.add(String(e.body.tool_use_id));
      else if (e.type === 'session.status_running') continue;
      else {
        const stop = e.body.stop_reason as { type?: string; event_ids?: string[] } | undefined;
        if (stop?.type !== 'requires_action') return [];
        return (stop.event_ids ?? []).filter((id) => !answered.has(id));
      }
    }
    return [];
  }

  /**
   * The message that tells a restored process the answer to a call its
   * predecessor asked about; null when there is no such call. An approval is
   * kept for the session's next process (`preapproval`).
   */
  async answerForRestored(session: SessionRecord, toolUseEventId: string, allow: boolean, denyMessage?: string | null): Promise<Json[] | null> {
    const toolUse = await this.o.store.getEvent(session.id, toolUseEventId);
    if (!toolUse) return null;
    const name = String(toolUse.body.name);
    const input = isObject(toolUse.body.input) ? toolUse.body.input : {};
    const text = allow
      ? `The user approved your ${name} call with input ${JSON.stringify(input)}. It has not run: the session was restored while it waited for approval. Make the call again if you still need it.`
      : `The user denied your ${name} call${denyMessage ? `: ${denyMessage}` : '.'} It did not run.`;
    if (allow) this.preapprovals.set(session.id, { claudeName: claudeToolName(name), input });
    return [{ type: 'text', text }];
  }

  /** The approval the session's next process starts with, if any. */
  preapproval(sessionId: string): Preapproval | undefined {
    return this.preapprovals.get(sessionId);
  }

  /** A process started with the session's approval: it is that process's now. */
  handedOver(sessionId: string): void {
    this.preapprovals.delete(sessionId);
  }
}

/** Claude Code's name for an API tool name (`bash` → `Bash`). */
function claudeToolName(apiName: string): string {
  return (TOOL_NAMES as Record<string, string>)[apiName] ?? apiName;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
