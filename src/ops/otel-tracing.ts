import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { EventRecord } from '../store/store.js';
import type { TokenUsage } from './metrics.js';
import type { RequestTrace, Tracing } from './tracing.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The remote parent a `traceparent` header names, or undefined. */
export function parseTraceparent(header: string | undefined): SpanContext | undefined {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}

interface TurnState {
  span: Span;
  tools: Map<string, Span>;
}

/** Tracing into an OpenTelemetry tracer (the composition root builds its provider and exporter). */
export class OtelTracing implements Tracing {
  /** The span context of the API request whose handler is running, if any. */
  private readonly current = new AsyncLocalStorage<SpanContext>();
  private readonly turns = new Map<string, TurnState>();
  /** Requests that sent a session's queued messages, for the next turn's links. */
  private readonly causes = new Map<string, SpanContext[]>();
  private readonly models = new Map<string, Span>();

  constructor(
    private readonly tracer: Tracer,
    private readonly flush: () => Promise<void> = async () => {},
  ) {}

  request(method: string, traceparent: string | undefined): RequestTrace {
    const remote = parseTraceparent(traceparent);
    const parent = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, parent);
    let ended = false;
    return {
      run: (fn) => this.current.run(span.spanContext(), fn),
      end: (route, status) => {
        if (ended) return;
        ended = true;
        span.updateName(`${method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  observe(sessionId: string, event: EventRecord): void {
    const at = new Date(event.createdAt);
    const body = event.body;
    switch (event.type) {
      case 'user.message':
      case 'user.tool_confirmation': {
        const cause = this.current.getStore();
        if (!cause) return;
        const causes = this.causes.get(sessionId) ?? [];
        causes.push(cause);
        this.causes.set(sessionId, causes);
        return;
      }
      case 'session.status_running': {
        if (this.turns.has(sessionId)) return;
        const links: Link[] = (this.causes.get(sessionId) ?? []).map((context) => ({ context }));
        this.causes.delete(sessionId);
        const span = this.tracer.startSpan('turn', { kind: SpanKind.INTERNAL, startTime: at, links, attributes: { 'agenthost.session.id': sessionId } }, ROOT_CONTEXT);
        this.turns.set(sessionId, { span, tools: new Map() });
        return;
      }
      case 'session.status_idle': {
        const stop = (body.stop_reason as { type?: unknown } | undefined)?.type;
        if (stop === 'requires_action') {
          this.turns.get(sessionId)?.span.addEvent('requires_action', at);
          return;
        }
        this.endTurn(sessionId, typeof stop === 'string' ? stop : 'unknown', at);
        return;
      }
      case 'session.error': {
        const error = body.error as { type?: unknown; message?: unknown } | undefined;
        this.turns.get(sessionId)?.span.addEvent('session.error', { 'error.type': String(error?.type), 'error.message': String(error?.message) }, at);
        return;
      }
      case 'agent.tool_use':
      case 'agent.mcp_tool_use':
      case 'agent.custom_tool_use': {
        const turn = this.turns.get(sessionId);
        if (!turn) return;
        const name = typeof body.name === 'string' ? body.name : 'unknown';
        const span = this.tracer.startSpan(
          `tool ${name}`,
          { kind: SpanKind.INTERNAL, startTime: at, attributes: { 'agenthost.tool.name': name, 'agenthost.tool.permission': String(body.evaluated_permission ?? 'allow'), 'agenthost.event.id': event.id } },
          trace.setSpan(ROOT_CONTEXT, turn.span),
        );
        turn.tools.set(event.id, span);
        return;
      }
      case 'agent.tool_result':
      case 'agent.mcp_tool_result':
      case 'user.custom_tool_result': {
        const turn = this.turns.get(sessionId);
        const id = String(body.tool_use_id ?? body.custom_tool_use_id ?? body.mcp_tool_use_id);
        const span = turn?.tools.get(id);
        if (!span) return;
        turn!.tools.delete(id);
        if (body.is_error === true) span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute('agenthost.tool.is_error', body.is_error === true);
        span.end(at);
        return;
      }
      case 'session.status_terminated':
      case 'session.deleted':
        this.endTurn(sessionId, 'terminated', at);
        this.causes.delete(sessionId);
        return;
      default:
        return;
    }
  }

  modelRequestStarted(r: { sessionId: string; requestId: string; model: string | undefined }): void {
    const turn = this.turns.get(r.sessionId);
    const span = this.tracer.startSpan(
      'model request',
      { kind: SpanKind.CLIENT, attributes: { 'agenthost.session.id': r.sessionId, 'agenthost.gateway.request_id': r.requestId, ...(r.model ? { 'gen_ai.request.model': r.model } : {}) } },
      turn ? trace.setSpan(ROOT_CONTEXT, turn.span) : ROOT_CONTEXT,
    );
    this.models.set(r.requestId, span);
  }

  modelRequestEnded(r: { requestId: string; status: number; model: string | undefined; usage: TokenUsage; error?: string | undefined }): void {
    const span = this.models.get(r.requestId);
    if (!span) return;
    this.models.delete(r.requestId);
    span.setAttributes({
      'http.response.status_code': r.status,
      'gen_ai.usage.input_tokens': r.usage.input_tokens,
      'gen_ai.usage.output_tokens': r.usage.output_tokens,
      'gen_ai.usage.cache_creation_input_tokens': r.usage.cache_creation_input_tokens,
      'gen_ai.usage.cache_read_input_tokens': r.usage.cache_read_input_tokens,
      ...(r.model ? { 'gen_ai.response.model': r.model } : {}),
    });
    if (r.error !== undefined || r.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, ...(r.error ? { message: r.error } : {}) });
    span.end();
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.turns.keys()]) this.endTurn(id, 'shutdown', new Date());
    for (const span of this.models.values()) span.end();
    this.models.clear();
    await this.flush();
  }

  private endTurn(sessionId: string, stopReason: string, at: Date): void {
    const turn = this.turns.get(sessionId);
    if (!turn) return;
    this.turns.delete(sessionId);
    // Tool calls that never produced a result (an interrupt, a crash) end with their turn.
    for (const span of turn.tools.values()) span.end(at);
    turn.span.setAttribute('agenthost.stop_reason', stopReason);
    if (stopReason === 'retries_exhausted') turn.span.setStatus({ code: SpanStatusCode.ERROR });
    turn.span.end(at);
  }
}
