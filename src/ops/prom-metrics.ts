import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LiveSessionSample, Metrics, MetricsExporter, TokenUsage } from './metrics.js';

const TOKEN_KINDS = ['input', 'output', 'cache_creation_input', 'cache_read_input'] as const;

/**
 * Label values that come from outside (model names a sandbox sends, tool
 * names a model produces) are capped: past `max` distinct values everything
 * new is `other`, so a misbehaving agent cannot grow the series without bound.
 */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

/**
 * Metrics in a registry of their own (never prom-client's global one), so
 * two servers in one process, as in tests, do not share series.
 */
export class PromMetrics implements Metrics, MetricsExporter {
  readonly registry = new Registry();
  private readonly models = new BoundedLabel(50);
  private readonly tools = new BoundedLabel(100);
  private sessionSource: () => Iterable<LiveSessionSample> = () => [];

  private readonly httpDuration: Histogram;
  private readonly modelDuration: Histogram;
  private readonly modelRequests: Counter;
  private readonly gatewayErrors: Counter;
  private readonly tokens: Counter;
  private readonly sessionStart: Histogram;
  private readonly sessionResume: Histogram;
  private readonly sandboxSeconds: Counter;
  private readonly turns: Counter;
  private readonly turnDuration: Histogram;
  private readonly toolCalls: Counter;
  private readonly fanOut: Histogram;
  private readonly costUsd: Counter;
  private readonly limitedTotal: Counter;
  private readonly transcriptMirrorTotal: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'agenthost_' });
    const source = () => this.sessionSource();
    new Gauge({
      name: 'agenthost_sessions',
      help: 'Sessions with a live sandbox on this server, by state (running, waiting, idle) and lifecycle pattern',
      labelNames: ['state', 'pattern'],
      registers,
      collect() {
        this.reset();
        for (const s of source()) this.inc({ state: s.state, pattern: s.pattern });
      },
    });
    this.httpDuration = new Histogram({
      name: 'agenthost_http_request_duration_seconds',
      help: 'API request duration, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.modelDuration = new Histogram({
      name: 'agenthost_model_request_duration_seconds',
      help: 'Duration of model requests through the gateway, until the response ended',
      labelNames: ['model'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.modelRequests = new Counter({
      name: 'agenthost_model_requests_total',
      help: 'Model requests through the gateway, by model and upstream status',
      labelNames: ['model', 'status'],
      registers,
    });
    this.gatewayErrors = new Counter({
      name: 'agenthost_gateway_errors_total',
      help: 'Model requests that did not produce a complete message, by upstream status (502 unreachable, 499 closed) and error type',
      labelNames: ['status', 'type'],
      registers,
    });
    this.tokens = new Counter({
      name: 'agenthost_tokens_total',
      help: 'Tokens the gateway observed, by kind (input, output, cache_creation_input, cache_read_input) and model',
      labelNames: ['kind', 'model'],
      registers,
    });
    this.sessionStart = new Histogram({
      name: 'agenthost_session_start_duration_seconds',
      help: 'Time to start a fresh session: sandbox created and Claude Code process spawned',
      labelNames: ['provider'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.sessionResume = new Histogram({
      name: 'agenthost_session_resume_duration_seconds',
      help: 'Time to wake a hibernated session: workspace restored, sandbox created, process spawned',
      labelNames: ['provider'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.sandboxSeconds = new Counter({
      name: 'agenthost_sandbox_seconds_total',
      help: 'Seconds sandboxes have been alive, by provider',
      labelNames: ['provider'],
      registers,
    });
    this.turns = new Counter({
      name: 'agenthost_turns_total',
      help: 'Turns that ended, by stop reason',
      labelNames: ['stop_reason'],
      registers,
    });
    this.turnDuration = new Histogram({
      name: 'agenthost_turn_duration_seconds',
      help: 'Turn duration from session.status_running to the idle that ends it, including confirmation waits',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.toolCalls = new Counter({
      name: 'agenthost_tool_calls_total',
      help: 'Tool calls that produced a result, by tool and outcome (ok, error, denied)',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.fanOut = new Histogram({
      name: 'agenthost_event_fanout_lag_seconds',
      help: "Time from an event's processed_at (before its commit) to its hand-off to live subscribers",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.costUsd = new Counter({
      name: 'agenthost_cost_usd_total',
      help: 'Money spent, by kind (tokens at the price table, sandbox time at the hourly rate)',
      labelNames: ['kind'],
      registers,
    });
    this.limitedTotal = new Counter({
      name: 'agenthost_limited_requests_total',
      help: 'Requests refused by a limit, by limit (rate, sse, live_sessions, budget)',
      labelNames: ['limit'],
      registers,
    });
    this.transcriptMirrorTotal = new Counter({
      name: 'agenthost_transcript_mirror_total',
      help: 'Transcript batches the store missed (missed), and transcripts rewritten from the local file afterwards (repaired, failed)',
      labelNames: ['outcome'],
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  httpRequest(r: { method: string; route: string; status: number; seconds: number }): void {
    this.httpDuration.observe({ method: r.method, route: r.route, status: String(r.status) }, r.seconds);
  }

  modelRequest(r: { model: string; status: number; seconds: number; usage: TokenUsage; errorType?: string }): void {
    const model = this.models.of(r.model);
    this.modelDuration.observe({ model }, r.seconds);
    this.modelRequests.inc({ model, status: String(r.status) });
    if (r.errorType !== undefined) this.gatewayErrors.inc({ status: String(r.status), type: r.errorType });
    for (const kind of TOKEN_KINDS) {
      const n = r.usage[`${kind}_tokens`];
      if (n > 0) this.tokens.inc({ kind, model }, n);
    }
  }

  sessionStarted(r: { provider: string; pattern: string; seconds: number; resumed: boolean }): void {
    (r.resumed ? this.sessionResume : this.sessionStart).observe({ provider: r.provider }, r.seconds);
  }

  sandboxTime(r: { provider: string; seconds: number }): void {
    if (r.seconds > 0) this.sandboxSeconds.inc({ provider: r.provider }, r.seconds);
  }

  turnEnded(r: { stopReason: string; seconds: number }): void {
    this.turns.inc({ stop_reason: r.stopReason });
    this.turnDuration.observe(r.seconds);
  }

  toolCall(r: { tool: string; outcome: 'ok' | 'error' | 'denied' }): void {
    this.toolCalls.inc({ tool: this.tools.of(r.tool), outcome: r.outcome });
  }

  eventFanOut(lagSeconds: number): void {
    this.fanOut.observe(Math.max(0, lagSeconds));
  }

  cost(r: { kind: 'tokens' | 'sandbox'; usd: number }): void {
    if (r.usd > 0) this.costUsd.inc({ kind: r.kind }, r.usd);
  }

  limited(r: { limit: string }): void {
    this.limitedTotal.inc({ limit: r.limit });
  }

  transcriptMirror(r: { outcome: 'missed' | 'repaired' | 'failed' }): void {
    this.transcriptMirrorTotal.inc({ outcome: r.outcome });
  }

  observeSessions(source: () => Iterable<LiveSessionSample>): void {
    this.sessionSource = source;
  }
}
