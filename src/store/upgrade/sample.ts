/**
 * A sample of everything a store holds, written and read back through the
 * Store interface only, so it runs against any agenthost version: the upgrade
 * fixtures are this sample as an older version stored it, and its reads as
 * that version returned them. Ids and timestamps are fixed, so the reads are
 * the same on every run.
 */
import type { JsonObject, NewEvent, Store, TranscriptKey } from '../store.js';

const at = (seconds: number): string => new Date(Date.UTC(2025, 0, 1) + seconds * 1000).toISOString();

/** A body that is easy to mangle: nesting, unicode, a NUL, numbers, nulls. */
const tricky: JsonObject = {
  name: 'tricky',
  system: 'line one\nline "two" \\ ünïcødé 🚀 and a NUL \u0000 here',
  tools: [{ type: 'agent_toolset_20250522', configs: [] }, null, 1.5, 0, 1e21, true],
  metadata: { nested: { 'key with spaces': 'value' } },
};

const event = (n: number, type: string, extra: JsonObject = {}): NewEvent => {
  const id = `sevt_sample${n}`;
  return { id, type, createdAt: at(100 + n), body: { id, type, processed_at: at(100 + n), ...extra } };
};

export const WS = 'wrkspc_sample';
const OTHER = 'wrkspc_other';
export const MAIN: TranscriptKey = { projectKey: '-work-sample', sessionId: 'cc-session-1' };
const SUB: TranscriptKey = { ...MAIN, subpath: 'subagents/agent-a' };

/** Writes the sample into an empty, migrated store. */
export async function writeSample(s: Store): Promise<void> {
  await s.ensureWorkspace('default', WS, at(0));
  await s.ensureWorkspace('other', OTHER, at(1));
  await s.createApiKey({ id: 'key_full', workspaceId: WS, hash: 'hash-full', prefix: 'sk-ah-full', scope: 'full', createdAt: at(2), revokedAt: null });
  await s.createApiKey({ id: 'key_read', workspaceId: WS, hash: 'hash-read', prefix: 'sk-ah-read', scope: 'read_only', createdAt: at(3), revokedAt: null });
  await s.createApiKey({ id: 'key_gone', workspaceId: WS, hash: 'hash-gone', prefix: 'sk-ah-gone', scope: 'full', createdAt: at(4), revokedAt: null });
  await s.revokeApiKey(WS, 'key_gone', at(5));

  const listed = { workspaceId: WS, archivedAt: null };
  await s.createAgent({ id: 'agent_a', version: 1, body: { name: 'helper', model: 'claude-sonnet-4-5' }, createdAt: at(10), updatedAt: at(10), ...listed });
  await s.updateAgent(WS, 'agent_a', 1, tricky, at(11));
  await s.createAgent({ id: 'agent_b', version: 1, body: { name: 'old' }, createdAt: at(12), updatedAt: at(12), ...listed });
  await s.archiveAgent(WS, 'agent_b', at(13));
  await s.createEnvironment({ id: 'env_a', body: { name: 'default', config: { type: 'cloud' } }, createdAt: at(20), updatedAt: at(20), ...listed });
  await s.createEnvironment({ id: 'env_b', body: { name: 'gone' }, createdAt: at(21), updatedAt: at(21), ...listed });
  await s.archiveEnvironment(WS, 'env_b', at(22));

  const session = { workspaceId: WS, agentId: 'agent_a', agentVersion: 2, environmentId: 'env_a', archivedAt: null };
  const body = { title: 'sample', metadata: { k: 'v' }, usage: { input_tokens: 0, output_tokens: 0 } };
  await s.createSession({ id: 'sesn_a', status: 'idle', body, createdAt: at(30), updatedAt: at(30), ...session }, [event(1, 'session.status_idle')]);
  await s.appendEvents(
    'sesn_a',
    [event(2, 'user.message', { content: [{ type: 'text', text: tricky.system! }] }), event(3, 'session.status_running')],
    { status: 'running', updatedAt: at(103), body: { ...body, runtime: { sandbox_state: 'running' } } },
    { idempotency: { workspaceId: WS, key: 'idem-1', requestHash: 'req-hash', response: { data: [{ id: 'sevt_sample2' }] }, createdAt: at(102), expiresAt: at(100_000_000) } },
  );
  await s.appendEvents('sesn_a', [event(4, 'agent.message', { content: [{ type: 'text', text: 'done' }] }), event(5, 'session.status_idle')], {
    status: 'idle',
    updatedAt: at(105),
  });
  await s.createSession({ id: 'sesn_b', status: 'idle', body, createdAt: at(40), updatedAt: at(40), ...session }, []);
  await s.updateSession(WS, 'sesn_b', { status: 'terminated', archivedAt: at(41), updatedAt: at(41) });

  await s.appendTranscript(MAIN, [{ type: 'user', uuid: 'u-1', message: { content: 'hi' } }, { type: 'summary', summary: 'no uuid' }]);
  await s.appendTranscript(MAIN, [{ type: 'assistant', uuid: 'u-2', message: { content: tricky.system! } }]);
  await s.appendTranscript(SUB, [{ type: 'user', uuid: 'u-3', message: { content: 'sub' } }]);
  await s.appendTranscript({ ...MAIN, sessionId: 'cc-empty' }, []);

  await s.createFile({ id: 'file_up', workspaceId: WS, filename: 'notes.md', mimeType: 'text/markdown', sizeBytes: 12, scopeId: null, createdAt: at(50), expiresAt: null });
  await s.createFile({ id: 'file_out', workspaceId: WS, filename: 'out/report.csv', mimeType: 'text/csv', sizeBytes: 3_000_000_000, scopeId: 'sesn_a', createdAt: at(51), expiresAt: at(9_000) });

  const trigger = { workspaceId: WS, sessionId: 'sesn_a', createdAt: at(60), updatedAt: at(60), lastFiredAt: null, disabledAt: null, disabledReason: null };
  await s.createTrigger({ id: 'trg_cron', kind: 'cron', body: { schedule: '*/5 * * * *', message: 'tick' }, secret: null, nextFireAt: at(300), ...trigger });
  await s.createTrigger({ id: 'trg_hook', kind: 'webhook', body: { message_template: 'got {{body}}' }, secret: 'whsec', nextFireAt: null, ...trigger });
  await s.claimTriggerFire('trg_cron', at(300), at(301), at(600));
  await s.recordWebhookDelivery('trg_hook', 'sig-1', at(100_000_000));

  const usage = { workspaceId: WS, sessionId: 'sesn_a', inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, sandboxSeconds: 0 };
  await s.recordUsage({ ...usage, kind: 'tokens', name: 'claude-sonnet-4-5', inputTokens: 1200, outputTokens: 300, cacheReadInputTokens: 7, usd: 0.0081, at: at(70) });
  await s.recordUsage({ ...usage, kind: 'sandbox', name: 'bwrap', sandboxSeconds: 12.5, usd: 0.0004, at: at(71) });
  await s.setWorkspaceBudget({ workspaceId: WS, dailyUsd: 5, totalUsd: null, updatedAt: at(72) });

  await s.createWebhookEndpoint({ id: 'whe_a', workspaceId: WS, url: 'https://example.com/hook', secret: 'sek', eventTypes: ['session.status_idle'], createdAt: at(80) });
  const delivery = { endpointId: 'whe_a', eventType: 'session.status_idle', attempts: 0, lastStatusCode: null, lastError: null, deliveredAt: null };
  await s.createWebhookDeliveries([
    { id: 'whd_1', payload: { type: 'event', data: { id: 'sevt_sample1' } }, status: 'pending', nextAttemptAt: at(81), createdAt: at(81), ...delivery },
    { id: 'whd_2', payload: { type: 'event', data: { id: 'sevt_sample5' } }, status: 'pending', nextAttemptAt: at(105), createdAt: at(105), ...delivery },
  ]);
  await s.recordWebhookAttempt('whd_1', { status: 'delivered', attempts: 1, nextAttemptAt: null, lastStatusCode: 204, lastError: null, deliveredAt: at(82) });
}

/** Everything the sample holds, read back through the Store interface. */
export async function readSample(s: Store): Promise<Record<string, unknown>> {
  const all = { limit: 100, order: 'asc' as const, includeArchived: true };
  return {
    workspaces: await s.listWorkspaces(),
    apiKeys: await s.listApiKeys(WS),
    keyByHash: await s.findApiKeyByHash('hash-read'),
    revokedByHash: await s.findApiKeyByHash('hash-gone'),
    agents: await s.listAgents(WS, all),
    agentVersions: [await s.getAgentVersion(WS, 'agent_a', 1), await s.getAgentVersion(WS, 'agent_a', 2)],
    environments: await s.listEnvironments(WS, all),
    sessions: await s.listSessions(WS, all),
    events: await s.listEvents('sesn_a', { limit: 100, order: 'asc' }),
    idempotency: await s.getIdempotentResponse(WS, 'idem-1', at(200)),
    transcript: await s.loadTranscript(MAIN),
    subTranscript: await s.loadTranscript({ ...MAIN, subpath: 'subagents/agent-a' }),
    emptyTranscript: await s.loadTranscript({ ...MAIN, sessionId: 'cc-empty' }),
    transcriptSessions: (await s.listTranscriptSessions(MAIN.projectKey)).sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1)),
    transcriptSubkeys: await s.listTranscriptSubkeys(MAIN),
    files: await s.listFiles(WS, all),
    triggers: await s.listTriggers(WS, 'sesn_a', all),
    dueTriggers: await s.listDueTriggers(at(1000), 10),
    nextFireAt: await s.nextTriggerFireAt(),
    usageTotal: await s.usageTotal(WS),
    usageReport: await s.usageReport({}),
    budget: await s.getWorkspaceBudget(WS),
    webhookEndpoints: await s.listWebhookEndpoints(WS),
    webhookDeliveries: await s.listWebhookDeliveries('whe_a', 10),
  };
}
