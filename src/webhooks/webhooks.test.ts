import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import type { EventRecord } from '../store/store.js';
import { sendWebhook } from './webhook-sender.js';
import { newWebhookSecret, signWebhook, verifyWebhook } from './webhook-signing.js';
import { WebhookService, retryDelayMs, webhookTypesOf } from './webhooks.js';

const idle = (stop: object): EventRecord => ({ id: 'sevt_1', sessionId: 's', seq: 1, type: 'session.status_idle', createdAt: new Date(0).toISOString(), body: { type: 'session.status_idle', stop_reason: stop as never } });

describe('webhooks', () => {
  it('signatures verify with the secret and fail with another or a changed body', () => {
    const secret = newWebhookSecret();
    const signature = signWebhook(secret, 'whdel_1', 1700000000, '{"a":1}');
    assert.match(signature, /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.ok(verifyWebhook(secret, 'whdel_1', 1700000000, '{"a":1}', `v1,bogus ${signature}`));
    assert.ok(!verifyWebhook(newWebhookSecret(), 'whdel_1', 1700000000, '{"a":1}', signature));
    assert.ok(!verifyWebhook(secret, 'whdel_1', 1700000000, '{"a":2}', signature));
    assert.ok(!verifyWebhook(secret, 'whdel_1', 1700000001, '{"a":1}', signature));
  });

  it('backs off 4× per attempt, at most 6 hours', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelayMs(n, 10_000)), [10_000, 40_000, 160_000, 640_000]);
    assert.equal(retryDelayMs(20, 10_000), 6 * 3600_000);
  });

  it('maps idle stop reasons to requires_action and budget_reached', () => {
    assert.deepEqual(webhookTypesOf(idle({ type: 'requires_action', event_ids: [] })), ['session.status_idle', 'session.requires_action']);
    assert.deepEqual(webhookTypesOf(idle({ type: 'budget_reached' })), ['session.status_idle', 'session.budget_reached']);
    assert.deepEqual(webhookTypesOf(idle({ type: 'end_turn' })), ['session.status_idle']);
    assert.deepEqual(webhookTypesOf({ ...idle({}), type: 'agent.message' }), []);
  });

  it('refuses loopback and private addresses unless allowed', async () => {
    for (const url of ['http://127.0.0.1:9/x', 'http://[::1]:9/x', 'http://169.254.169.254/latest', 'http://10.0.0.1/x', 'http://localhost:9/x']) {
      const result = await sendWebhook(url, '{}', {}, { allowPrivate: false, timeoutMs: 1000 });
      assert.equal(result.status, null, url);
      assert.match(result.error ?? '', /public addresses only/, url);
    }
  });

  it('a budget refusal is delivered once an hour per workspace, to endpoints that want it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agenthost-webhooks-'));
    const store = await openStore({ dataDir: dir, log: silentLogger() });
    try {
      const ws = (await store.ensureWorkspace('w', 'wrkspc_w', new Date().toISOString())).id;
      const sent: Array<{ url: string; body: string }> = [];
      const now = Date.now();
      const webhooks = new WebhookService({
        store,
        log: silentLogger(),
        retryBaseMs: 100,
        maxAttempts: 2,
        allowPrivate: false,
        now: () => new Date(now),
        send: async (url, body) => {
          sent.push({ url, body });
          return { status: 200, error: null };
        },
      });
      await webhooks.create(ws, { url: 'https://hooks.example/budget', event_types: ['workspace.budget_reached'] });
      await webhooks.create(ws, { url: 'https://hooks.example/errors', event_types: ['session.error'] });
      webhooks.budgetRefused(ws, 'spent');
      webhooks.budgetRefused(ws, 'spent again');
      const until = Date.now() + 5_000;
      while (sent.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await webhooks.stop();
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.url, 'https://hooks.example/budget');
      const payload = JSON.parse(sent[0]!.body) as { type: string; workspace_id: string; data: { reason: string } };
      assert.deepEqual([payload.type, payload.workspace_id, payload.data.reason], ['workspace.budget_reached', ws, 'spent']);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
