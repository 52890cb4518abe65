/**
 * What agenthost reports about itself, as domain operations. Library code
 * receives a `Metrics` from the composition root and never touches a
 * registry; tests pass `NoopMetrics` (or a `PromMetrics` of their own).
 */

/** Token counts of one model request, as the gateway observed them. */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** A live session as the sessions gauge counts it. */
export interface LiveSessionSample {
  /** `running` (a turn is working), `waiting` (a turn waits for a tool confirmation) or `idle`. */
  state: 'running' | 'waiting' | 'idle';
  /** The environment's lifecycle pattern. */
  pattern: string;
}

export interface Metrics {
  /** An API request has been answered. `route` is the route's template, never the raw URL. */
  httpRequest(r: { method: string; route: string; status: number; seconds: number }): void;
  /** A metered model request through the gateway has ended (successfully or not). */
  modelRequest(r: { model: string; status: number; seconds: number; usage: TokenUsage; errorType?: string }): void;
  /** A session's sandbox and Claude Code process are up; `resumed` when it woke from hibernation. */
  sessionStarted(r: { provider: string; pattern: string; seconds: number; resumed: boolean }): void;
  /** Sandbox time that has passed; reported in pieces while a sandbox lives and when it goes. */
  sandboxTime(r: { provider: string; seconds: number }): void;
  /** A turn has ended (not paused for a confirmation). */
  turnEnded(r: { stopReason: string; seconds: number }): void;
  /** A tool call has produced its result. */
  toolCall(r: { tool: string; outcome: 'ok' | 'error' | 'denied' }): void;
  /** Seconds between an event's `processed_at` and its hand-off to live subscribers. */
  eventFanOut(lagSeconds: number): void;
  /** Money spent, priced by the cost meter. */
  cost(r: { kind: 'tokens' | 'sandbox'; usd: number }): void;
  /** A request was refused by a limit (`rate`, `sse`, `live_sessions`, `budget`). */
  limited(r: { limit: string }): void;
  /** Transcript lines the store missed (`missed`), and repairs of them from the local file (`repaired`, `failed`). */
  transcriptMirror(r: { outcome: 'missed' | 'repaired' | 'failed' }): void;
  /** Called at each scrape to count the sessions this server runs. Replaces an earlier source. */
  observeSessions(source: () => Iterable<LiveSessionSample>): void;
}

type Arg<K extends keyof Metrics> = Parameters<Metrics[K]>[0];

/** Does nothing: for tests and for callers that do not export metrics. */
export class NoopMetrics implements Metrics {
  httpRequest(_r: Arg<'httpRequest'>): void {}
  modelRequest(_r: Arg<'modelRequest'>): void {}
  sessionStarted(_r: Arg<'sessionStarted'>): void {}
  sandboxTime(_r: Arg<'sandboxTime'>): void {}
  turnEnded(_r: Arg<'turnEnded'>): void {}
  toolCall(_r: Arg<'toolCall'>): void {}
  eventFanOut(_lagSeconds: number): void {}
  cost(_r: Arg<'cost'>): void {}
  limited(_r: Arg<'limited'>): void {}
  transcriptMirror(_r: Arg<'transcriptMirror'>): void {}
  observeSessions(_source: Arg<'observeSessions'>): void {}
}

/** Renders the metrics for `GET /metrics`. */
export interface MetricsExporter {
  readonly contentType: string;
  render(): Promise<string>;
}
