import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isIdle, readStream } from './helpers/e2e.js';
import { metricSum, parseMetrics, runTurn, startOps, type OpsServer } from './ops-helpers.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

/**
 * GET /metrics and GET /readyz over plain HTTP, before and after a real turn
 * (the Claude Code CLI in bwrap against the scripted model).
 */
describe('metrics and readiness', { timeout: 300_000 }, () => {
  let h: OpsServer;

  before(async () => {
    h = await startOps({ backend: 'sqlite', env: { AGENTHOST_METRICS_TOKEN: METRICS_TOKEN, AGENTHOST_REAPER_INTERVAL_MS: '500' } });
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
    // 2,300 input and 220 output tokens at least, at Sonnet's $3 / $15 per million.
    assert.ok(delta('agenthost_cost_usd_total', { kind: 'tokens' }) >= (2300 * 3 + 220 * 15) / 1e6);

    // Sandbox time is counted when the sandbox goes.
    await h.client.beta.sessions.archive(session.id);
    const afterArchive = await scrape();
    assert.ok(metricSum(afterArchive, 'agenthost_sandbox_seconds_total', { provider: 'bwrap' }) > 0);
    assert.ok(metricSum(afterArchive, 'agenthost_cost_usd_total', { kind: 'sandbox' }) > metricSum(before, 'agenthost_cost_usd_total', { kind: 'sandbox' }));
    assert.equal(metricSum(afterArchive, 'agenthost_sessions'), 0);
  });

  it('a denied tool call counts as denied, and waking a hibernated session counts as a resume', async () => {
    const before = await scrape();
    const agent = await h.client.beta.agents.create({
      name: 'asks',
      model: 'claude-sonnet-4-5',
      tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
    });
    const env = await h.client.beta.environments.create({
      name: 'naps',
      config: { type: 'cloud', lifecycle: { pattern: 'hybrid', idle_timeout_s: 1 } } as never,
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo never' } } },
      { when: 'tools', text: 'understood' },
    ]);
    const paused = await runTurn(h.client, session.id, 'try it');
    const stop = paused.at(-1)!.stop_reason as { type: string; event_ids: string[] };
    assert.equal(stop.type, 'requires_action');
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.tool_confirmation', tool_use_id: stop.event_ids[0]!, result: 'deny', deny_message: 'not now' }],
    });
    await readStream(stream, isIdle);

    const deadline = Date.now() + 20_000;
    while (((await h.client.beta.sessions.retrieve(session.id)) as unknown as { runtime: { sandbox_state: string } }).runtime.sandbox_state !== 'hibernated') {
      assert.ok(Date.now() < deadline, 'the session hibernates after its idle timeout');
      await new Promise((r) => setTimeout(r, 200));
    }
    h.model.setScript([{ when: 'tools', text: 'awake' }]);
    await runTurn(h.client, session.id, 'wake up');
    const m = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => metricSum(m, name, labels) - metricSum(before, name, labels);
    assert.equal(delta('agenthost_tool_calls_total', { tool: 'bash', outcome: 'denied' }), 1);
    assert.equal(delta('agenthost_session_resume_duration_seconds_count', { provider: 'bwrap' }), 1);
    assert.ok(delta('agenthost_session_resume_duration_seconds_sum', { provider: 'bwrap' }) > 0);
    await h.client.beta.sessions.archive(session.id);
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
