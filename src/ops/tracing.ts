import type { EventRecord } from '../store/store.js';
import type { TokenUsage } from './metrics.js';

/** One API request's span. */
export interface RequestTrace {
  /** Runs the rest of the request as the cause of what it starts (turns link to it). */
  run<T>(fn: () => T): T;
  /** Ends the span; idempotent. */
  end(route: string, status: number): void;
}

/**
 * Traces of what agenthost does: API requests, and per turn a span with
 * children for its model requests and tool calls. A turn outlives the
 * request that started it, so it is a trace of its own with a link to that
 * request rather than its child.
 */
export interface Tracing {
  /** Starts the server span of an API request; a W3C `traceparent` continues the caller's trace. */
  request(method: string, traceparent: string | undefined): RequestTrace;
  /** Reads turns and tool calls off published events. */
  observe(sessionId: string, event: EventRecord): void;
  modelRequestStarted(r: { sessionId: string; requestId: string; model: string | undefined }): void;
  modelRequestEnded(r: { requestId: string; status: number; model: string | undefined; usage: TokenUsage; error?: string | undefined }): void;
  /** Ends open spans and flushes what is buffered. */
  shutdown(): Promise<void>;
}

const NOOP_REQUEST: RequestTrace = { run: (fn) => fn(), end: () => {} };

/**
 * Records nothing: the default when no OTLP endpoint is configured. The
 * OpenTelemetry implementation lives in otel-tracing.ts, so a server without
 * tracing never loads OpenTelemetry.
 */
export class NoopTracing implements Tracing {
  request(): RequestTrace {
    return NOOP_REQUEST;
  }
  observe(): void {}
  modelRequestStarted(): void {}
  modelRequestEnded(): void {}
  async shutdown(): Promise<void> {}
}
