import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreConflictError, StoreNotFoundError } from '../store.js';
import { agent, at, environment, event, ids, range, seqs, session, workspace, type GetStore } from './fixtures.js';

const page = { limit: 100, order: 'asc' as const };

export function sessionTests(store: GetStore): void {
  describe('sessions', () => {
    it('createSession stores the session and its initial events as seqs 1..n', async () => {
      const ws = await workspace(store());
      const a = await agent(store(), ws);
      const initial = [event('session.status_idle', at(2)), event('user.message', at(2)), event('x', at(3))];
      const { session: s, events } = await session(store(), ws, { agent: a, createdAt: at(2), events: initial });
      assert.equal(s.workspaceId, ws);
      assert.equal(s.agentId, a.id);
      assert.equal(s.agentVersion, 1);
      assert.equal(s.status, 'idle');
      assert.equal(s.createdAt, at(2));
      assert.equal(s.archivedAt, null);
      assert.ok(Number.isInteger(s.seq) && s.seq > 0);
      assert.deepEqual(seqs(events), [1, 2, 3]);
      assert.deepEqual(ids(events), ids(initial));
      assert.deepEqual(
        events.map((e) => ({ type: e.type, body: e.body, createdAt: e.createdAt, sessionId: e.sessionId })),
        initial.map((e) => ({ type: e.type, body: e.body, createdAt: e.createdAt, sessionId: s.id })),
      );
      assert.deepEqual(await store().getSession(ws, s.id), s);
      assert.deepEqual((await store().listEvents(s.id, page)).items, events);
    });

    it('createSession is atomic: a failing initial event leaves no session behind', async () => {
      const ws = await workspace(store());
      const first = event();
      const id = 'sesn_atomic';
      await assert.rejects(session(store(), ws, { id, events: [first, { ...event(), id: first.id }] }), StoreConflictError);
      assert.equal(await store().getSession(ws, id), null);
      assert.deepEqual((await store().listSessions(ws, page)).items, []);
      assert.deepEqual((await store().listEvents(id, page)).items, []);
    });

    it('createSession rejects a duplicate id and references it cannot resolve', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const { session: s } = await session(store(), ws);
      await assert.rejects(session(store(), ws, { id: s.id }), StoreConflictError);
      const a = await agent(store(), ws);
      const env = await environment(store(), ws);
      const foreignAgent = await agent(store(), other);
      const foreignEnv = await environment(store(), other);
      await assert.rejects(session(store(), ws, { agent: a, agentVersion: 2 }), StoreNotFoundError);
      await assert.rejects(session(store(), ws, { agent: foreignAgent, environmentId: env.id }), StoreNotFoundError);
      await assert.rejects(session(store(), ws, { agent: a, environmentId: foreignEnv.id }), StoreNotFoundError);
    });

    it('updateSession applies only the fields it is given', async () => {
      const ws = await workspace(store());
      const { session: s } = await session(store(), ws, { createdAt: at(1), body: { title: 'first' } });
      const running = await store().updateSession(ws, s.id, { status: 'running', updatedAt: at(2) });
      assert.deepEqual(running, { ...s, status: 'running', updatedAt: at(2) });
      const retitled = await store().updateSession(ws, s.id, { body: { title: 'second' }, updatedAt: at(3) });
      assert.deepEqual(retitled, { ...s, status: 'running', body: { title: 'second' }, updatedAt: at(3) });
      const archived = await store().updateSession(ws, s.id, { archivedAt: at(4), updatedAt: at(4) });
      assert.equal(archived?.archivedAt, at(4));
      const restored = await store().updateSession(ws, s.id, { archivedAt: null, updatedAt: at(5) });
      assert.equal(restored?.archivedAt, null);
      assert.deepEqual(await store().getSession(ws, s.id), restored);
      assert.equal(await store().updateSession(ws, 'sesn_unknown', { status: 'idle', updatedAt: at(6) }), null);
    });

    it('another workspace can neither see, change nor delete a session', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const { session: s } = await session(store(), ws);
      assert.equal(await store().getSession(other, s.id), null);
      assert.equal(await store().updateSession(other, s.id, { status: 'terminated', updatedAt: at(2) }), null);
      assert.equal(await store().deleteSession(other, s.id), false);
      assert.deepEqual((await store().listSessions(other, page)).items, []);
      assert.deepEqual(await store().getSession(ws, s.id), s);
    });

    it('listSessions filters by agent, agent version and status', async () => {
      const ws = await workspace(store());
      const a = await agent(store(), ws);
      const b = await agent(store(), ws);
      const s1 = (await session(store(), ws, { agent: a, status: 'idle' })).session;
      await store().updateAgent(ws, a.id, 1, { name: 'v2' }, at(1));
      const s2 = (await session(store(), ws, { agent: a, agentVersion: 2, status: 'running' })).session;
      const s3 = (await session(store(), ws, { agent: b, status: 'terminated' })).session;
      const list = async (q: object) => ids((await store().listSessions(ws, { ...page, ...q })).items);
      assert.deepEqual(await list({}), [s1.id, s2.id, s3.id]);
      assert.deepEqual(await list({ agentId: a.id }), [s1.id, s2.id]);
      assert.deepEqual(await list({ agentId: a.id, agentVersion: 2 }), [s2.id]);
      assert.deepEqual(await list({ statuses: ['idle', 'terminated'] }), [s1.id, s3.id]);
      assert.deepEqual(await list({ statuses: [] }), [s1.id, s2.id, s3.id]);
      assert.deepEqual(await list({ agentId: b.id, statuses: ['idle'] }), []);
    });

    it('listSessionsByStatus spans workspaces in seq order', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const s1 = (await session(store(), ws, { status: 'running' })).session;
      await session(store(), ws, { status: 'idle' });
      const s3 = (await session(store(), other, { status: 'rescheduling' })).session;
      const s4 = (await session(store(), other, { status: 'running' })).session;
      const found = await store().listSessionsByStatus(['running', 'rescheduling']);
      assert.deepEqual(ids(found), [s1.id, s3.id, s4.id]);
      assert.deepEqual(found[1], s3);
      assert.deepEqual(await store().listSessionsByStatus([]), []);
    });

    it('existingSessionIds finds sessions of every workspace among the ids given', async () => {
      const a = (await session(store(), await workspace(store()))).session;
      const b = (await session(store(), await workspace(store()))).session;
      const many = Array.from({ length: 1200 }, (_, i) => `sesn_absent${i}`);
      assert.deepEqual([...(await store().existingSessionIds([...many, a.id, 'sesn_gone', b.id]))].sort(), [a.id, b.id].sort());
      assert.equal((await store().existingSessionIds([])).size, 0);
    });

    it('deleteSession removes the session and its whole event log', async () => {
      const ws = await workspace(store());
      const { session: s, events } = await session(store(), ws, { events: range(1, 4).map(() => event()) });
      assert.equal(await store().deleteSession(ws, s.id), true);
      assert.equal(await store().getSession(ws, s.id), null);
      assert.deepEqual((await store().listEvents(s.id, page)).items, []);
      assert.equal(await store().getEvent(s.id, events[0]!.id), null);
      assert.equal(await store().deleteSession(ws, s.id), false);
    });
  });
}
