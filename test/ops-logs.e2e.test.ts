import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { UPSTREAM_KEY, text } from './helpers/e2e.js';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

const METRICS_TOKEN = 'metrics-token-for-the-log-test-42';

/**
 * Everything the server logs at trace level through a full session (a tool
 * that prints its own credential, a failing model call, bad keys, a deleted
 * session) is captured: no credential appears in it, and lines carry the
 * request, workspace and session ids.
 */
describe('logs', { timeout: 300_000 }, () => {
  let h: OpsServer;
  const chunks: string[] = [];
  const gatewayTokens: string[] = [];

  before(async () => {
    const capture = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'trace', destination: capture, secrets: [UPSTREAM_KEY, METRICS_TOKEN] });
    h = await startOps({ backend: 'sqlite', log, env: { AGENTHOST_METRICS_TOKEN: METRICS_TOKEN } });
    // The per-session gateway tokens, as the engine receives them.
    const open = h.server.gateway.openSession.bind(h.server.gateway);
    h.server.gateway.openSession = async (sessionId) => {
      const session = await open(sessionId);
      gatewayTokens.push(session.token);
      return session;
    };
  });
  after(() => h?.close());

  const lines = () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('a session’s whole life leaves no credential in the logs', async () => {
    const agent = await h.client.beta.agents.create({ name: 'l', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await h.client.beta.environments.create({ name: 'l', config: { type: 'cloud' } });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo "token=$ANTHROPIC_API_KEY"' } } },
      { when: 'tools', text: 'printed' },
    ]);
    const events = await runTurn(h.client, session.id, 'print your key');
    const printed = text(events.find((e) => e.type === 'agent.tool_result')!);
    assert.equal(gatewayTokens.length, 1);
    assert.ok(printed.includes(gatewayTokens[0]!), 'the sandbox saw its gateway token (and only it)');

    h.model.setScript([{ when: 'tools', error: { status: 400, type: 'invalid_request_error', message: `bad request for key ${UPSTREAM_KEY}` }, repeat: true }]);
    await runTurn(h.client, session.id, 'fail');

    // Bad keys, a metrics scrape, a config dump: the usual ways a secret reaches a log.
    await fetch(`${h.server.url}/v1/agents`, { headers: { 'x-api-key': `${h.key}x` } });
    await fetch(`${h.server.url}/v1/agents`, { headers: { authorization: `Bearer ${h.key}` } });
    await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const config = loadConfig({ ANTHROPIC_API_KEY: UPSTREAM_KEY, AGENTHOST_METRICS_TOKEN: METRICS_TOKEN });
    h.server.app.log.info({ config, headers: { 'x-api-key': h.key } }, 'a careless dump');
    await h.client.beta.sessions.delete(session.id);

    const all = chunks.join('');
    assert.ok(all.length > 3_000, `trace logs were captured (${all.length} bytes)`);
    assert.ok(!all.includes(UPSTREAM_KEY), 'the upstream key');
    assert.ok(!all.includes(h.key), 'the workspace API key');
    assert.ok(!all.includes(h.key.slice(6)), 'any part of the workspace API key');
    assert.ok(!all.includes(METRICS_TOKEN), 'the metrics token');
    for (const token of gatewayTokens) assert.ok(!all.includes(token), 'a gateway session token');
    assert.ok(all.includes('a careless dump') && all.includes('[redacted]'));
  });

  it('lines carry request, workspace and session ids', () => {
    const all = lines();
    const request = all.find((l) => l.msg === 'request' && l.url === '/v1/agents' && l.workspaceId === h.workspaceId);
    assert.ok(request, 'a request line names its workspace');
    assert.match(String(request.reqId), /^req_/);
    assert.ok(request.keyId);
    const gateway = all.find((l) => l.msg === 'model request ended');
    assert.match(String(gateway?.sessionId), /^sesn_/);
    assert.match(String(gateway?.requestId), /^req_/);
  });
});
