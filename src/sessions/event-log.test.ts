import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { EventRecord } from '../store/store.js';
import { sessionRef } from '../store/contract/fixtures.js';
import { EventLog } from './event-log.js';

describe('EventLog', () => {
  let store: SqliteStore;
  let ref: { id: string; workspaceId: string };
  let log: EventLog;

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    ref = await sessionRef(store);
    log = new EventLog(store);
  });
  afterEach(() => store.close());

  it('publishes only committed events, in seq order, under concurrent appends', async () => {
    const seen: EventRecord[] = [];
    log.subscribe(ref.id, (events) => {
      seen.push(...events);
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(ref, [{ type: 'agent.message', fields: { n: i } }])));
    assert.deepEqual(
      seen.map((e) => e.seq),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const stored = await store.listEvents(ref.id, { limit: 100, order: 'asc' });
    assert.deepEqual(stored.items.map((e) => e.id), seen.map((e) => e.id));
  });

  it('applies session mutations against the latest stored state', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        log.append(ref, [{ type: 'span.model_request_end' }], (s) => ({ body: { ...s.body, count: Number(s.body.count ?? 0) + 1 } })),
      ),
    );
    assert.equal((await store.getSession(ref.workspaceId, ref.id))!.body.count, 20);
  });

  it('publishes nothing when the commit fails', async () => {
    const seen: EventRecord[] = [];
    log.subscribe(ref.id, (events) => void seen.push(...events));
    await store.deleteSession(ref.workspaceId, ref.id);
    await assert.rejects(log.append(ref, [{ type: 'agent.message' }]));
    assert.deepEqual(seen, []);
  });

  it('hands each subscriber the events of one commit together', async () => {
    const batches: string[][] = [];
    log.subscribe(ref.id, (events) => void batches.push(events.map((e) => e.type)));
    await log.append(ref, [{ type: 'a' }, { type: 'b' }]);
    await log.append(ref, [{ type: 'c' }]);
    log.publish(ref.id, []);
    assert.deepEqual(batches, [['a', 'b'], ['c']]);
  });

  it('sets the session status from the status events appended, in the same commit', async () => {
    const statuses: string[] = [];
    log.subscribe(ref.id, () => void store.getSession(ref.workspaceId, ref.id).then((s) => statuses.push(s!.status)));
    const { session: running } = await log.append(ref, [{ type: 'session.status_running' }]);
    assert.equal(running.status, 'running');
    await log.append(ref, [{ type: 'agent.message' }]);
    assert.equal((await store.getSession(ref.workspaceId, ref.id))!.status, 'running');
    const { session: idle } = await log.append(ref, [{ type: 'session.error' }, { type: 'session.status_idle' }], (s) => ({ body: { ...s.body, n: 1 } }));
    assert.deepEqual([idle.status, idle.body.n], ['idle', 1]);
    await log.append(ref, [{ type: 'session.status_terminated' }]);
    await log.append(ref, [{ type: 'session.status_idle' }]);
    assert.equal((await store.getSession(ref.workspaceId, ref.id))!.status, 'terminated');
  });

  it('hands every published event to its observers, with the workspace, before subscribers', async () => {
    const seen: string[] = [];
    const observed = new EventLog(store, {
      observers: [
        { observe: (id, event, ws) => void seen.push(`first ${event.type} ${id === ref.id} ${ws}`) },
        {
          observe: () => {
            throw new Error('broken observer');
          },
        },
        { observe: (_id, event) => void seen.push(`second ${event.type}`) },
      ],
    });
    observed.subscribe(ref.id, (events) => void seen.push(...events.map((e) => `subscriber ${e.type}`)));
    await observed.append(ref, [{ type: 'a' }, { type: 'b' }]);
    assert.deepEqual(seen, [`first a true ${ref.workspaceId}`, 'second a', `first b true ${ref.workspaceId}`, 'second b', 'subscriber a', 'subscriber b']);
  });

  it('keeps other subscribers when one throws, and unsubscribes', async () => {
    const seen: string[] = [];
    log.subscribe(ref.id, () => {
      throw new Error('broken subscriber');
    });
    const off = log.subscribe(ref.id, (events) => void seen.push(...events.map((e) => e.type)));
    await log.append(ref, [{ type: 'a' }]);
    off();
    await log.append(ref, [{ type: 'b' }]);
    assert.deepEqual(seen, ['a']);
    assert.equal(log.subscriberCount(ref.id), 1);
  });
});
