import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtelTracing } from './otel-tracing.js';

/**
 * Tracing exported over OTLP/HTTP (JSON) to `endpoint`: a collector's base
 * URL (`/v1/traces` is appended) or the full traces URL. The provider is
 * agenthost's own, not registered globally.
 */
export function createOtlpTracing(endpoint: string, options: { flushMs?: number; serviceName?: string } = {}): OtelTracing {
  const url = /\/v1\/traces\/?$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'agenthost' }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: options.flushMs ?? 2_000 })],
  });
  return new OtelTracing(provider.getTracer('agenthost'), () => provider.shutdown());
}
