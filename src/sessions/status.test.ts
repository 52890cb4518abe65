import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionStatus } from '../store/store.js';
import { changesStatus, statusAfter } from './status.js';

const e = (...types: string[]) => types.map((type) => ({ type }));

describe('statusAfter', () => {
  it('follows each status event, and the last one wins', () => {
    assert.equal(statusAfter('idle', e('session.status_running')), 'running');
    assert.equal(statusAfter('running', e('agent.message', 'session.error', 'session.status_idle')), 'idle');
    assert.equal(statusAfter('idle', e('session.status_running', 'session.status_idle')), 'idle');
    assert.equal(statusAfter('running', e('session.status_rescheduled')), 'rescheduling');
    assert.equal(statusAfter('rescheduling', e('session.status_running')), 'running');
    assert.equal(statusAfter('idle', e('session.status_terminated')), 'terminated');
  });

  it('leaves the status as it is for events that are not status events', () => {
    for (const status of ['idle', 'running', 'rescheduling', 'terminated'] as SessionStatus[]) {
      assert.equal(statusAfter(status, e('user.message', 'agent.tool_use', 'span.model_request_end', 'session.error')), status);
      assert.equal(statusAfter(status, []), status);
    }
  });

  it('keeps a terminated session terminated', () => {
    assert.equal(statusAfter('terminated', e('session.status_idle')), 'terminated');
    assert.equal(statusAfter('running', e('session.status_terminated', 'session.status_running')), 'terminated');
  });

  it('says which appends can change the status', () => {
    assert.equal(changesStatus(e('agent.message', 'session.status_idle')), true);
    assert.equal(changesStatus(e('agent.message', 'user.message')), false);
  });
});
