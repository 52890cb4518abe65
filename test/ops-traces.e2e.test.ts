import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isIdle, readStream, waitFor } from './helpers/e2e.js';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

/** OTLP/JSON ids are hex; some encoders send base64. */
const hex = (id: string | undefined): string | undefined => (id === undefined || id === '' ? undefined : /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));
const attr = (span: OtlpSpan, key: string): unknown => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
};

/** A local OTLP/HTTP receiver: every span POSTed to /v1/traces. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const rs of body.resourceSpans) {
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({
                ...s,
                traceId: hex(s.traceId)!,
                spanId: hex(s.spanId)!,
                ...(hex(s.parentSpanId) ? { parentSpanId: hex(s.parentSpanId)! } : {}),
                links: (s.links ?? []).map((l) => ({ traceId: hex(l.traceId)!, spanId: hex(l.spanId)! })),
              } as OtlpSpan);
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('traces', { timeout: 300_000 }, () => {
  let h: OpsServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    receiver = await startReceiver();
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_OTLP_ENDPOINT: receiver.url } });
  });
  after(async () => {
    await h?.close();
    await receiver?.close();
  });

  it('a turn is a span linked to the request that started it, with children for model requests and tool calls', async () => {
    const agent = await h.client.beta.agents.create({ name: 't', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await h.client.beta.environments.create({ name: 't', config: { type: 'cloud' } });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo traced' } }, usage: { input_tokens: 900, output_tokens: 90 } },
      { when: 'tools', text: 'done', usage: { input_tokens: 1000, output_tokens: 10 } },
    ]);
    // The caller's own trace: the request span continues it.
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(
      session.id,
      { events: [{ type: 'user.message', content: [{ type: 'text', text: 'trace me' }] }] },
      { headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` } },
    );
    await readStream(stream, isIdle);
    // A second turn without a traceparent starts a trace of its own.
    h.model.setScript([{ when: 'tools', text: 'again' }]);
    await runTurn(h.client, session.id, 'again');

    const spans = receiver.spans;
    const turns = await waitFor('two turn spans', async () => {
      const t = spans.filter((s) => s.name === 'turn');
      return t.length >= 2 ? t : undefined;
    }, 20_000);

    const send = spans.find((s) => s.name === 'POST /v1/sessions/:id/events' && s.traceId === callerTrace);
    assert.ok(send, `the send request's span: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(send.parentSpanId, callerSpan, 'it continues the caller’s traceparent');
    assert.equal(send.kind, 2, 'a server span');
    assert.equal(attr(send, 'http.response.status_code'), 200);

    const turn = turns.find((t) => t.links?.some((l) => l.spanId === send.spanId))!;
    assert.ok(turn, 'the first turn links to the request that started it');
    assert.equal(turn.links![0]!.traceId, callerTrace);
    assert.equal(turn.parentSpanId, undefined, 'a turn is a trace of its own');
    assert.equal(attr(turn, 'agenthost.session.id'), session.id);
    assert.equal(attr(turn, 'agenthost.stop_reason'), 'end_turn');

    const children = spans.filter((s) => s.parentSpanId === turn.spanId);
    assert.ok(children.every((c) => c.traceId === turn.traceId));
    const models = children.filter((c) => c.name === 'model request');
    assert.ok(models.length >= 2, `model request children: ${children.map((c) => c.name).join(', ')}`);
    assert.ok(models.every((m) => m.kind === 3), 'client spans');
    assert.ok(models.some((m) => Number(attr(m, 'gen_ai.usage.input_tokens')) === 900));
    assert.equal(attr(models[0]!, 'gen_ai.request.model'), 'claude-sonnet-4-5');
    const tools = children.filter((c) => c.name === 'tool bash');
    assert.equal(tools.length, 1);
    assert.equal(attr(tools[0]!, 'agenthost.tool.is_error'), false);

    const second = turns.find((t) => t !== turn)!;
    assert.notEqual(second.traceId, turn.traceId);
    const secondSend = spans.find((s) => s.spanId === second.links?.[0]?.spanId);
    assert.equal(secondSend?.name, 'POST /v1/sessions/:id/events', 'the second turn links to its own request');
    assert.ok(spans.filter((s) => s.parentSpanId === second.spanId).some((s) => s.name === 'model request'));
  });
});
