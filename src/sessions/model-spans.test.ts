import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LiveSession } from '../agent/live-session.js';
import { silentLogger } from '../logger.js';
import { DEFAULT_LIFECYCLE } from '../resources/environment-config.js';
import { sessionRef } from '../store/contract/fixtures.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventLog, type SessionRef } from './event-log.js';
import { LiveSessions } from './live-sessions.js';
import { ModelSpans } from './model-spans.js';
import { usageOf } from './session-body.js';

const usage = { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 };

describe('ModelSpans', () => {
  let store: SqliteStore;
  let ref: SessionRef;
  let sessions: LiveSessions;
  let spans: ModelSpans;

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    ref = await sessionRef(store);
    sessions = new LiveSessions();
    spans = new ModelSpans({ sessions, events: new EventLog(store), log: silentLogger() });
  });
  afterEach(() => store.close());

  const types = async () => (await store.listEvents(ref.id, { limit: 100, order: 'asc' })).items.map((e) => e.type);

  it('records a live session’s requests as span pairs and counts their usage', async () => {
    sessions.add(ref.id, { live: { ref, isEnded: false } as unknown as LiveSession, lifecycle: DEFAULT_LIFECYCLE, provider: 'bwrap' });
    await spans.started({ sessionId: ref.id, requestId: 'r1' });
    await spans.ended({ sessionId: ref.id, requestId: 'r1', status: 200, usage });
    await spans.started({ sessionId: ref.id, requestId: 'r2' });
    await spans.ended({ sessionId: ref.id, requestId: 'r2', status: 529, usage, error: 'overloaded_error: busy' });
    const events = (await store.listEvents(ref.id, { limit: 100, order: 'asc' })).items;
    assert.deepEqual(events.map((e) => e.type), ['span.model_request_start', 'span.model_request_end', 'span.model_request_start', 'span.model_request_end']);
    assert.equal(events[1]!.body.model_request_start_id, events[0]!.id);
    assert.deepEqual([events[1]!.body.is_error, events[3]!.body.is_error], [false, true]);
    const stored = await store.getSession(ref.workspaceId, ref.id);
    assert.deepEqual(usageOf(stored!.body), { input_tokens: 20, output_tokens: 8, cache_read_input_tokens: 4, cache_creation_input_tokens: 2 });
  });

  it('records nothing for a sandbox no session runs here (a warm one), nor an end without its start', async () => {
    await spans.started({ sessionId: ref.id, requestId: 'r1' });
    sessions.add(ref.id, { live: { ref, isEnded: false } as unknown as LiveSession, lifecycle: DEFAULT_LIFECYCLE, provider: 'bwrap' });
    await spans.ended({ sessionId: ref.id, requestId: 'r1', status: 200, usage });
    assert.deepEqual(await types(), []);
  });
});
