import type { EventObserver } from '../sessions/event-log.js';
import type { EventRecord } from '../store/store.js';
import type { Metrics } from './metrics.js';

/**
 * Turn and tool metrics read off the event log as events are published: a
 * turn runs from `session.status_running` to the `session.status_idle` that
 * ends it (a `requires_action` idle only pauses it); a tool call ends with
 * its `agent.tool_result`. The log is the one place every path (API, agent,
 * triggers, recovery) goes through, so nothing is counted twice or missed.
 */
export class EventMetrics implements EventObserver {
  /** Session id → when its current turn started (ms). */
  private readonly turns = new Map<string, number>();
  /** Session id → its tool uses without a result yet: event id → tool name (and whether denied). */
  private readonly tools = new Map<string, Map<string, { name: string; denied: boolean }>>();

  constructor(private readonly metrics: Metrics, private readonly now: () => number = Date.now) {}

  observe(sessionId: string, event: EventRecord): void {
    const at = Date.parse(event.createdAt);
    this.metrics.eventFanOut((this.now() - at) / 1000);
    const body = event.body;
    switch (event.type) {
      case 'session.status_running':
        if (!this.turns.has(sessionId)) this.turns.set(sessionId, at);
        return;
      case 'session.status_idle': {
        const stop = (body.stop_reason as { type?: unknown } | undefined)?.type;
        if (stop === 'requires_action') return;
        const started = this.turns.get(sessionId);
        this.turns.delete(sessionId);
        // Results that never came (an interrupt, a crash) are not counted.
        this.tools.delete(sessionId);
        if (started !== undefined) this.metrics.turnEnded({ stopReason: typeof stop === 'string' ? stop : 'unknown', seconds: (at - started) / 1000 });
        return;
      }
      case 'agent.tool_use':
      case 'agent.mcp_tool_use':
      case 'agent.custom_tool_use': {
        let pending = this.tools.get(sessionId);
        if (!pending) this.tools.set(sessionId, (pending = new Map()));
        pending.set(event.id, { name: typeof body.name === 'string' ? body.name : 'unknown', denied: false });
        return;
      }
      case 'user.tool_confirmation': {
        const use = this.tools.get(sessionId)?.get(String(body.tool_use_id));
        if (use && body.result === 'deny') use.denied = true;
        return;
      }
      case 'agent.tool_result':
      case 'agent.mcp_tool_result':
      case 'user.custom_tool_result': {
        const pending = this.tools.get(sessionId);
        const id = String(body.tool_use_id ?? body.custom_tool_use_id ?? body.mcp_tool_use_id);
        const use = pending?.get(id);
        if (!use) return;
        pending!.delete(id);
        this.metrics.toolCall({ tool: use.name, outcome: use.denied ? 'denied' : body.is_error === true ? 'error' : 'ok' });
        return;
      }
      case 'session.status_terminated':
      case 'session.deleted':
        this.turns.delete(sessionId);
        this.tools.delete(sessionId);
        return;
      default:
        return;
    }
  }
}
