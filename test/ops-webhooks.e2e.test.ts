import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { forbiddenAddress } from '../src/egress/policy.js';
import { TEST_BACKENDS } from './helpers/harness.js';
import { waitFor } from './helpers/e2e.js';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A receiver that answers 500 to the first attempt of each delivery on /flaky and always 500 on /down. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const status = req.url === '/down' ? 500 : n === 1 ? 500 : 204;
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: status });
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

/** The Standard Webhooks signature, computed here independently of agenthost's code. */
function expectedSignature(secret: string, headers: IncomingHttpHeaders, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`).digest('base64')}`;
}

type Delivery = { id: string; event_type: string; status: string; attempts: number; last_status_code: number | null; last_error: string | null; next_attempt_at: string | null; delivered_at: string | null; payload: { type: string; session_id: string; workspace_id: string } };

for (const backend of TEST_BACKENDS) {
  describe(`outbound webhooks (${backend})`, { timeout: 300_000 }, () => {
    let h: OpsServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;

    before(async () => {
      receiver = await startReceiver();
      h = await startOps({ backend, env: { AGENTHOST_WEBHOOK_ALLOW_PRIVATE: 'true', AGENTHOST_WEBHOOK_RETRY_BASE_MS: '200', AGENTHOST_WEBHOOK_MAX_ATTEMPTS: '3' } });
    });
    after(async () => {
      await h?.close();
      await receiver?.close();
    });

    const api = async (method: string, path: string, body?: unknown, key = h.key) => {
      const res = await fetch(`${h.server.url}${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('session events are delivered signed, retried with backoff, and listed with their outcomes', async () => {
      const flaky = await api('POST', '/v1/webhooks', { url: `${receiver.url}/flaky`, event_types: ['session.status_running', 'session.status_idle', 'session.requires_action'] });
      assert.equal(flaky.status, 200);
      const secret = String(flaky.body.secret);
      assert.match(secret, /^whsec_[A-Za-z0-9+/=]{32}$/);
      const down = await api('POST', '/v1/webhooks', { url: `${receiver.url}/down`, event_types: ['session.requires_action'] });
      const listed = await api('GET', '/v1/webhooks');
      assert.deepEqual((listed.body.data as Array<{ id: string }>).map((e) => e.id), [flaky.body.id, down.body.id]);
      assert.ok(!JSON.stringify(listed.body).includes(secret), 'the secret is shown once, at creation');

      const agent = await h.client.beta.agents.create({
        name: 'w',
        model: 'claude-sonnet-4-5',
        tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
      });
      const env = await h.client.beta.environments.create({ name: 'w', config: { type: 'cloud' } });
      const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
      h.model.setScript([{ when: 'tools', tool_use: { name: 'Bash', input: { command: 'touch asked.txt' } } }]);
      const events = await runTurn(h.client, session.id, 'ask me');
      assert.equal((events.at(-1)!.stop_reason as { type: string }).type, 'requires_action', JSON.stringify(events.map((e) => [e.type, e.name, e.evaluated_permission, e.content])));

      const deliveries = await waitFor('the flaky endpoint’s deliveries to succeed on their retry', async () => {
        const { body } = await api('GET', `/v1/webhooks/${String(flaky.body.id)}/deliveries`);
        const data = body.data as Delivery[];
        return data.length === 3 && data.every((d) => d.status === 'delivered') ? data : undefined;
      });
      assert.deepEqual(deliveries.map((d) => d.event_type).sort(), ['session.requires_action', 'session.status_idle', 'session.status_running']);
      for (const d of deliveries) {
        assert.equal(d.attempts, 2, 'the first attempt got a 500, the retry a 204');
        assert.equal(d.last_status_code, 204);
        assert.equal(d.next_attempt_at, null);
        assert.equal(d.payload.session_id, session.id);
        assert.equal(d.payload.workspace_id, h.workspaceId);
      }

      const flakyCalls = receiver.received.filter((r) => r.path === '/flaky');
      assert.equal(flakyCalls.length, 6);
      for (const call of flakyCalls) {
        assert.equal(call.headers['content-type'], 'application/json');
        assert.equal(call.headers['webhook-signature'], expectedSignature(secret, call.headers, call.body), 'signed with the endpoint’s secret');
        assert.ok(Math.abs(Number(call.headers['webhook-timestamp']) - Date.now() / 1000) < 120);
        const payload = JSON.parse(call.body) as { type: string; data: { type: string } };
        assert.equal(payload.type === 'session.requires_action' ? 'session.status_idle' : payload.type, payload.data.type);
      }
      // Each delivery kept its id across attempts, and the retry came after a backoff.
      for (const d of deliveries) {
        const calls = flakyCalls.filter((c) => c.headers['webhook-id'] === d.id);
        assert.deepEqual(calls.map((c) => c.answered), [500, 204]);
        assert.ok(Number(calls[1]!.headers['webhook-timestamp']) >= Number(calls[0]!.headers['webhook-timestamp']));
      }

      const failed = await waitFor('the down endpoint’s delivery to fail for good', async () => {
        const { body } = await api('GET', `/v1/webhooks/${String(down.body.id)}/deliveries`);
        const d = (body.data as Delivery[])[0];
        return d?.status === 'failed' ? d : undefined;
      });
      assert.equal(failed.event_type, 'session.requires_action');
      assert.equal(failed.attempts, 3);
      assert.equal(failed.last_status_code, 500);
      assert.equal(failed.last_error, 'answered 500');
      assert.equal(receiver.received.filter((r) => r.path === '/down').length, 3);
      await h.client.beta.sessions.archive(session.id);
    });

    it('endpoints belong to their workspace; bad URLs and types are refused; delete removes them', async () => {
      const other = await h.newClient(`webhooks-other-${backend}`);
      const mine = await api('POST', '/v1/webhooks', { url: `${receiver.url}/flaky` });
      assert.deepEqual(mine.body.event_types, [], 'no types means all');
      assert.equal((await api('GET', `/v1/webhooks/${String(mine.body.id)}`, undefined, other.key)).status, 404);
      assert.equal((await api('DELETE', `/v1/webhooks/${String(mine.body.id)}`, undefined, other.key)).status, 404);
      assert.equal((await api('POST', '/v1/webhooks', { url: 'ftp://example.com/x' })).status, 400);
      assert.equal((await api('POST', '/v1/webhooks', { url: `${receiver.url}/x`, event_types: ['agent.message'] })).status, 400);
      assert.equal((await api('POST', '/v1/webhooks', { url: 'https://user:pw@example.com/x' })).status, 400);
      assert.equal((await api('DELETE', `/v1/webhooks/${String(mine.body.id)}`)).status, 200);
      assert.equal((await api('GET', `/v1/webhooks/${String(mine.body.id)}`)).status, 404);
    });
  });
}

/**
 * What a tenant may point webhooks at, on a server with the defaults
 * (private addresses refused): what every delivery would refuse is refused
 * when the endpoint is registered; a name that resolves somewhere refused
 * fails its delivery at once, saying so without the address; URLs and the
 * number of endpoints are bounded.
 */
for (const backend of TEST_BACKENDS) {
  describe(`outbound webhook targets and limits (${backend})`, { timeout: 120_000 }, () => {
    let h: OpsServer;

    before(async () => {
      h = await startOps({ backend, env: { AGENTHOST_WEBHOOK_MAX_ENDPOINTS: '3', AGENTHOST_WEBHOOK_RETRY_BASE_MS: '100', AGENTHOST_WEBHOOK_MAX_ATTEMPTS: '8' } });
    });
    after(() => h?.close());

    const post = async (key: string, url: string) => {
      const res = await fetch(`${h.server.url}/v1/webhooks`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
      return { status: res.status, body: (await res.json()) as { id?: string; error?: { type: string; message: string } } };
    };
    const listed = async (key: string) => {
      const res = await fetch(`${h.server.url}/v1/webhooks`, { headers: { 'x-api-key': key } });
      return ((await res.json()) as { data: Array<{ id: string; url: string }> }).data;
    };

    it('refuses at creation what every delivery would refuse, and over-long URLs', async () => {
      const { key } = await h.newClient(`targets-${backend}`);
      const refused: Array<[string, RegExp]> = [
        ['http://127.0.0.1:8080/hook', /^url: 127\.0\.0\.1 is not a public address \(loopback\)/],
        ['http://2130706433/hook', /^url: 127\.0\.0\.1 is not a public address/],
        ['http://[::1]/hook', /^url: ::1 is not a public address/],
        ['http://[::ffff:10.0.0.1]/hook', /^url: ::ffff:a00:1 is not a public address/],
        ['http://10.1.2.3/hook', /^url: 10\.1\.2\.3 is not a public address/],
        ['http://169.254.169.254/latest/meta-data', /^url: 169\.254\.169\.254 is not a public address/],
        ['http://0.0.0.0:9/', /^url: 0\.0\.0\.0 is not a public address/],
        ['http://localhost:8080/hook', /^url: localhost is a loopback name/],
        ['http://api.localhost./hook', /^url: api\.localhost is a loopback name/],
        ['ftp://example.com/hook', /^url: must be an http or https URL/],
        ['https://user:pw@example.com/hook', /^url: credentials in the URL are not accepted/],
        ['not a url', /^url: not a valid URL/],
        ['https://example.com/a\nb', /^url: contains U\+000A, a control character/],
        [`https://example.com/${'a'.repeat(2029)}`, /^url: longer than 2048 characters/],
        [`https://example.com/${'a'.repeat(1024 * 1024)}`, /^url: longer than 2048 characters/],
      ];
      for (const [url, message] of refused) {
        const { status, body } = await post(key, url);
        assert.equal(status, 400, `${url.slice(0, 60)}: ${JSON.stringify(body).slice(0, 300)}`);
        assert.equal(body.error?.type, 'invalid_request_error');
        assert.match(body.error?.message ?? '', message, url.slice(0, 60));
      }
      assert.deepEqual(await listed(key), [], 'nothing refused was stored');
      const longest = `https://example.com/${'a'.repeat(2028)}`;
      assert.equal(longest.length, 2048);
      assert.equal((await post(key, longest)).status, 200, 'a URL of exactly 2048 characters is accepted');
    });

    it('caps the endpoints of a workspace, also under concurrent creation', async () => {
      const { key } = await h.newClient(`cap-${backend}`);
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => post(key, `https://hooks.example.com/${i}`)));
      assert.equal(results.filter((r) => r.status === 200).length, 3, JSON.stringify(results.map((r) => r.status)));
      for (const r of results.filter((x) => x.status !== 200)) {
        assert.equal(r.status, 400);
        assert.match(r.body.error?.message ?? '', /this workspace has 3 webhook endpoints, the most it may have \(3\); delete one/);
      }
      const endpoints = await listed(key);
      assert.equal(endpoints.length, 3);
      // Deleting one makes room again.
      await fetch(`${h.server.url}/v1/webhooks/${endpoints[0]!.id}`, { method: 'DELETE', headers: { 'x-api-key': key } });
      assert.equal((await post(key, 'https://hooks.example.com/again')).status, 200);
    });

    it('a name that resolves to a refused address fails its delivery at once, without naming the address', async () => {
      const name = hostname();
      const addresses = (await lookup(name, { all: true })).map((a) => a.address);
      assert.ok(addresses.every((a) => forbiddenAddress(a) !== undefined), `this test needs ${name} to resolve to loopback or private addresses, not ${addresses.join(', ')}`);
      const { key } = await h.newClient(`resolves-${backend}`);
      const created = await post(key, `http://${name}:9/hook`);
      assert.equal(created.status, 200, 'a name is judged at delivery, by what it resolves to then');
      const id = created.body.id!;

      // A budget of $0 refuses the next turn, which queues a workspace.budget_reached delivery.
      const headers = { 'x-api-key': key, 'content-type': 'application/json' };
      assert.equal((await fetch(`${h.server.url}/v1/workspace/budget`, { method: 'POST', headers, body: JSON.stringify({ total_usd: 0 }) })).status, 200);
      const refusedTurn = await fetch(`${h.server.url}/v1/sessions/sesn_none/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }),
      });
      assert.ok(refusedTurn.status >= 400, String(refusedTurn.status));

      const delivery = await waitFor('the delivery to fail for good', async () => {
        const res = await fetch(`${h.server.url}/v1/webhooks/${id}/deliveries`, { headers: { 'x-api-key': key } });
        const d = ((await res.json()) as { data: Delivery[] }).data[0];
        return d?.status === 'failed' ? d : undefined;
      });
      assert.equal(delivery.attempts, 1, 'no retries: the address will be refused again');
      assert.equal(delivery.next_attempt_at, null);
      assert.equal(delivery.last_status_code, null);
      assert.equal(delivery.last_error, `refused: ${name} does not resolve to an address webhooks may reach (public addresses only)`);
      for (const address of addresses) assert.ok(!JSON.stringify(delivery).includes(address), `the delivery names ${address}`);
    });
  });
}
