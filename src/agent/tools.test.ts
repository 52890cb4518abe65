import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiToolName, planTools } from './tools.js';

describe('planTools', () => {
  it('enables every toolset tool as always_allow by default', () => {
    const plan = planTools([{ type: 'agent_toolset_20260401' }]);
    assert.deepEqual(plan.tools, ['Bash', 'Edit', 'Read', 'Write', 'Glob', 'Grep', 'WebFetch', 'WebSearch']);
    assert.deepEqual(plan.allowedTools, plan.tools);
    assert.equal(plan.askTools.size, 0);
  });

  it('applies per-tool overrides over default_config', () => {
    const plan = planTools([
      {
        type: 'agent_toolset_20260401',
        default_config: { enabled: false, permission_policy: { type: 'always_ask' } },
        configs: [
          { name: 'bash', enabled: true },
          { name: 'read', enabled: true, permission_policy: { type: 'always_allow' } },
          { name: 'write', enabled: true, permission_policy: { type: 'auto' } },
        ],
      },
    ]);
    assert.deepEqual(plan.tools, ['Bash', 'Read', 'Write']);
    assert.deepEqual([...plan.askTools], ['Bash']);
    assert.deepEqual(plan.allowedTools, ['Read', 'Write']);
  });

  it('gives no tools without an agent toolset', () => {
    assert.deepEqual(planTools([]).tools, []);
    assert.deepEqual(planTools(undefined).tools, []);
    assert.deepEqual(planTools([{ type: 'custom', name: 'x' }]).tools, []);
  });

  it('maps Claude Code names back to API names', () => {
    assert.equal(apiToolName('WebFetch'), 'web_fetch');
    assert.equal(apiToolName('Bash'), 'bash');
    assert.equal(apiToolName('mcp__x__y'), 'mcp__x__y');
  });
});
