import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentModelId, internalOf, runtimeOf, shownRuntime, usageOf, withInternal, withRuntime, withUsageAdded } from './session-body.js';

describe('session body', () => {
  it('patches runtime and internal fields, leaving the rest; undefined removes a field', () => {
    const body = { title: 't', runtime: { sandbox_state: 'live', provider: 'bwrap' }, internal: { claude_session_id: 'c1', input_committed: true } };
    const next = withInternal(withRuntime(body, { sandbox_state: 'hibernated', hibernated_at: 'now' }), { input_committed: undefined, redeliver_through: 7 });
    assert.deepEqual(next, {
      title: 't',
      runtime: { sandbox_state: 'hibernated', provider: 'bwrap', hibernated_at: 'now' },
      internal: { claude_session_id: 'c1', redeliver_through: 7 },
    });
    assert.deepEqual(body.runtime, { sandbox_state: 'live', provider: 'bwrap' }, 'the body it was given is unchanged');
    assert.equal(runtimeOf(next).sandbox_state, 'hibernated');
    assert.equal(internalOf(next).redeliver_through, 7);
    assert.deepEqual([runtimeOf({}), internalOf({})], [{}, {}]);
  });

  it('counts usage, from zero for counts the body lacks', () => {
    const add = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 };
    const once = withUsageAdded({ usage: { input_tokens: 1 } }, add);
    assert.deepEqual(usageOf(withUsageAdded(once, add)), { input_tokens: 21, output_tokens: 10, cache_read_input_tokens: 4, cache_creation_input_tokens: 2 });
    assert.deepEqual(usageOf({}), { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  it('shows runtime with the cost it is given, and null for a session without one', () => {
    assert.deepEqual(shownRuntime({ runtime: { provider: 'bwrap', cost: { tokens_usd: 1 } } }, { total_usd: 2 }), { provider: 'bwrap', cost: { total_usd: 2 } });
    assert.equal(shownRuntime({}, {}), null);
  });

  it('reads the agent model as an id or a model config', () => {
    const agent = { id: 'agent_1', version: 1, system: null, tools: [], mcp_servers: [] };
    assert.equal(agentModelId({ ...agent, model: 'claude-sonnet-4-5' }), 'claude-sonnet-4-5');
    assert.equal(agentModelId({ ...agent, model: { id: 'claude-opus-4-1' } }), 'claude-opus-4-1');
    assert.equal(agentModelId({ ...agent, model: null }), undefined);
  });
});
