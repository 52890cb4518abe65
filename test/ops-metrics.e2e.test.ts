import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metricSum, parseMetrics, runTurn, startOps, type OpsServer } from './ops-helpers.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

/**
 * GET /metrics and GET /readyz over plain HTTP, before and after a real turn
 * (the Claude Code CLI in bwrap against the scripted model).
 */
describe('metrics and readiness', { timeout: 300_000 }, () => {
  let h: OpsServer;

  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_METRICS_TOKEN: METRICS_TOKEN } });
  });
  after(() => h?.close());

  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseMetrics(await res.text());
  };

  it('GET /metrics needs the metrics token when one is configured, and no workspace key', async () => {
    const bare = await fetch(`${h.server.url}/metrics`);
    assert.equal(bare.status, 401);
    assert.equal(((await bare.json()) as { error: { type: string } }).error.type, 'authentication_error');
    const wrong = await fetch(`${h.server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const withWorkspaceKey = await fetch(`${h.server.url}/metrics`, { headers: { 'x-api-key': h.key } });
    assert.equal(withWorkspaceKey.status, 401);
    await scrape();
  });

  it('GET /readyz reports the store and the sandbox provider', async () => {
    const res = await fetch(`${h.server.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready', checks: { store: 'ok', 'provider.bwrap': 'ok' } });
  });

  it('series are present and move after a turn with a tool call', async () => {
    const before = await scrape();
    const agent = await h.client.beta.agents.create({ name: 'm', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await h.client.beta.environments.create({ name: 'm', config: { type: 'cloud' } });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo metered' } }, usage: { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 50, cache_creation_input_tokens: 10 } },
      { when: 'tools', text: 'done', usage: { input_tokens: 1300, output_tokens: 20 } },
    ]);
    const events = await runTurn(h.client, session.id, 'run it');
    assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
    const m = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => metricSum(m, name, labels) - metricSum(before, name, labels);

    assert.equal(delta('agenthost_turns_total', { stop_reason: 'end_turn' }), 1);
    assert.equal(delta('agenthost_turn_duration_seconds_count'), 1);
    assert.ok(delta('agenthost_turn_duration_seconds_sum') > 0);
    assert.equal(delta('agenthost_tool_calls_total', { tool: 'bash', outcome: 'ok' }), 1);
    // Claude Code may make side requests of its own; the scripted steps are the floor.
    assert.ok(delta('agenthost_tokens_total', { kind: 'input' }) >= 2300);
    assert.ok(delta('agenthost_tokens_total', { kind: 'output' }) >= 220);
    assert.ok(delta('agenthost_tokens_total', { kind: 'cache_read_input' }) >= 50);
    assert.ok(delta('agenthost_tokens_total', { kind: 'cache_creation_input' }) >= 10);
    assert.ok(delta('agenthost_model_requests_total', { status: '200' }) >= 2);
    assert.ok(delta('agenthost_model_request_duration_seconds_count') >= 2);
    assert.equal(delta('agenthost_session_start_duration_seconds_count', { provider: 'bwrap' }), 1);
    assert.ok(delta('agenthost_event_fanout_lag_seconds_count') >= events.length);
    assert.ok(delta('agenthost_http_request_duration_seconds_count', { method: 'POST', route: '/v1/sessions/:id/events', status: '200' }) >= 1);
    assert.equal(metricSum(m, 'agenthost_sessions', { state: 'idle', pattern: 'hybrid' }), 1);
    assert.ok(metricSum(m, 'agenthost_process_resident_memory_bytes') > 0, 'process metrics are exported too');

    // Sandbox time is counted when the sandbox goes.
    await h.client.beta.sessions.archive(session.id);
    const afterArchive = await scrape();
    assert.ok(metricSum(afterArchive, 'agenthost_sandbox_seconds_total', { provider: 'bwrap' }) > 0);
    assert.equal(metricSum(afterArchive, 'agenthost_sessions'), 0);
  });

  it('gateway errors are counted by upstream status', async () => {
    const before = await scrape();
    const agent = await h.client.beta.agents.create({ name: 'e', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await h.client.beta.environments.create({ name: 'e', config: { type: 'cloud' } });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([{ when: 'tools', error: { status: 400, type: 'invalid_request_error', message: 'scripted failure' }, repeat: true }]);
    await runTurn(h.client, session.id, 'fail');
    const m = await scrape();
    assert.ok(metricSum(m, 'agenthost_gateway_errors_total', { status: '400', type: 'invalid_request_error' }) - metricSum(before, 'agenthost_gateway_errors_total', { status: '400' }) >= 1);
    await h.client.beta.sessions.archive(session.id);
  });
});
