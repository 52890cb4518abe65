import { describe, expect, it } from 'vitest';
import { fieldFor, mapFieldErrors, splitApiMessage } from './field-errors';

describe('splitApiMessage', () => {
  it('splits the "; "-joined parts and reads each path', () => {
    expect(
      splitApiMessage('config.lifecycle.pattern: Invalid option: expected one of "a"|"b"; config.lifecycle.idle_timeout_s: Too small: expected number to be >=1'),
    ).toEqual([
      { path: 'config.lifecycle.pattern', text: 'Invalid option: expected one of "a"|"b"' },
      { path: 'config.lifecycle.idle_timeout_s', text: 'Too small: expected number to be >=1' },
    ]);
  });

  it('does not split on a "; " that is not followed by a path', () => {
    expect(splitApiMessage('name: bad; really bad')).toEqual([{ path: 'name', text: 'bad; really bad' }]);
  });

  it('keeps messages without a path', () => {
    expect(splitApiMessage('request body is empty; send a JSON object')).toEqual([{ path: null, text: 'request body is empty; send a JSON object' }]);
  });

  it('reads numeric path segments', () => {
    expect(splitApiMessage('tools.0.configs.1.permission_policy.type: Invalid')[0]!.path).toBe('tools.0.configs.1.permission_policy.type');
  });
});

describe('mapFieldErrors', () => {
  const fields = ['name', 'model', 'tools', 'config.sandbox.memory_mib', 'config.sandbox', 'config.lifecycle.pattern'];

  it('puts each part next to its field', () => {
    const r = mapFieldErrors('model: must be a model id such as "claude-opus-4-8"', fields);
    expect(r).toEqual({ fields: { model: 'must be a model id such as "claude-opus-4-8"' }, general: [] });
  });

  it('joins several messages for one field', () => {
    const r = mapFieldErrors('name: Too small: expected string to have >=1 characters; name: must not be blank', fields);
    expect(r.fields.name).toBe('Too small: expected string to have >=1 characters; must not be blank');
  });

  it('uses the longest matching prefix and keeps the deeper path', () => {
    expect(fieldFor('config.sandbox.memory_mib', fields)).toBe('config.sandbox.memory_mib');
    expect(fieldFor('config.sandbox.cpus', fields)).toBe('config.sandbox');
    const r = mapFieldErrors('tools.0.configs.0.permission_policy.type: Invalid discriminator value', fields);
    expect(r.fields.tools).toBe('0.configs.0.permission_policy.type: Invalid discriminator value');
  });

  it('does not match a field that is only a string prefix', () => {
    expect(fieldFor('names', ['name'])).toBeUndefined();
  });

  it('leaves unclaimed parts as general errors', () => {
    expect(mapFieldErrors('metadata: at most 16 keys; invalid x-api-key', fields)).toEqual({ fields: {}, general: ['metadata: at most 16 keys; invalid x-api-key'] });
    expect(mapFieldErrors('conflict: version 3 is stale', fields).general).toEqual(['conflict: version 3 is stale']);
  });
});
