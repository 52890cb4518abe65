import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapAssistantContent, mapResult, mapToolResult } from './mapping.js';

describe('mapAssistantContent', () => {
  it('maps text, thinking and tool_use blocks in order, marking asks', () => {
    const out = mapAssistantContent(
      [
        { type: 'thinking', thinking: 'hmm' },
        { type: 'text', text: 'Running it.' },
        { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
        { type: 'tool_use', id: 'toolu_2', name: 'Read', input: { file_path: 'a' } },
      ],
      new Set(['Bash']),
    );
    assert.deepEqual(
      out.map((o) => o.draft.type),
      ['agent.thinking', 'agent.message', 'agent.tool_use', 'agent.tool_use'],
    );
    assert.deepEqual(out[1]!.draft.fields, { content: [{ type: 'text', text: 'Running it.' }] });
    assert.deepEqual(out[2]!.draft.fields, { name: 'bash', input: { command: 'ls' }, evaluated_permission: 'ask' });
    assert.equal(out[3]!.draft.fields!.evaluated_permission, 'allow');
    assert.deepEqual(out[2]!.toolUse, { sdkToolUseId: 'toolu_1', claudeName: 'Bash' });
  });

  it('drops empty text', () => {
    assert.deepEqual(mapAssistantContent([{ type: 'text', text: '' }], new Set()), []);
  });
});

describe('mapToolResult', () => {
  it('keeps text content and the error flag', () => {
    const d = mapToolResult({ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'out' }], is_error: true }, 'sevt_1');
    assert.deepEqual(d, { type: 'agent.tool_result', fields: { tool_use_id: 'sevt_1', content: [{ type: 'text', text: 'out' }], is_error: true } });
    assert.deepEqual(mapToolResult({ type: 'tool_result', content: 'plain' }, 'e').fields!.content, [{ type: 'text', text: 'plain' }]);
  });
});

describe('mapResult', () => {
  it('maps success, limits and failures to stop reasons and errors', () => {
    assert.deepEqual(mapResult({ type: 'result', subtype: 'success' }, 5), { stopReason: { type: 'end_turn' } });
    const turns = mapResult({ type: 'result', subtype: 'error_max_turns' }, 5);
    assert.deepEqual(turns.stopReason, { type: 'max_turns', max_turns: 5 });
    assert.equal(turns.error!.type, 'session.error');
    assert.deepEqual(mapResult({ type: 'result', subtype: 'error_max_budget_usd' }, 5).stopReason, { type: 'budget_reached' });
    const failed = mapResult({ type: 'result', subtype: 'error_during_execution', errors: ['boom'] }, 5);
    assert.match(JSON.stringify(failed.error), /boom/);
  });

  it('maps a model request that failed for good to the API model error of its status', () => {
    const failed = (status: number) =>
      mapResult({ type: 'result', subtype: 'success', is_error: true, api_error_status: status, result: `API Error: ${status} nope` }, 5);
    const errorOf = (m: ReturnType<typeof mapResult>) => (m.error!.fields as { error: { type: string; message: string; retry_status: { type: string } } }).error;
    assert.deepEqual(failed(400).stopReason, { type: 'retries_exhausted' });
    assert.equal(errorOf(failed(400)).type, 'model_request_failed_error');
    assert.equal(errorOf(failed(400)).retry_status.type, 'terminal');
    assert.match(errorOf(failed(400)).message, /status 400: API Error: 400 nope/);
    assert.equal(errorOf(failed(429)).type, 'model_rate_limited_error');
    assert.equal(errorOf(failed(529)).type, 'model_overloaded_error');
    assert.equal(errorOf(failed(503)).type, 'model_request_failed_error');
    assert.equal(errorOf(failed(503)).retry_status.type, 'exhausted');
    // A turn that merely ends on an error-looking reply is not a model error.
    assert.deepEqual(mapResult({ type: 'result', subtype: 'success', is_error: false, result: 'API Error: 400' }, 5), { stopReason: { type: 'end_turn' } });
    assert.equal(errorOf(mapResult({ type: 'result', subtype: 'error_max_turns' }, 5)).type, 'tool_use_limit_reached_error');
  });
});
