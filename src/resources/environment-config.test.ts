import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../store/store.js';
import { environmentBodyFromCreate } from './environment-body.js';
import { environmentConfig } from './environment-config.js';
import { environmentCreateSchema } from './environment-schema.js';

const choice = { providers: ['bwrap', 'gvisor'], defaultProvider: 'bwrap' };
const stored = (params: unknown) => environmentBodyFromCreate(environmentCreateSchema.parse(params), choice) as unknown as JsonObject;
const pool = { min: 1, max: 4, idleTimeoutS: 600 };

describe('environmentConfig', () => {
  it('reads a stored environment: provider, lifecycle, limits, networking', () => {
    const body = stored({
      name: 'e',
      config: {
        type: 'cloud',
        sandbox: { provider: 'gvisor', memory_mib: 2048, tool_timeout_s: 30 },
        lifecycle: { pattern: 'shared' },
        networking: { type: 'limited', allowed_hosts: ['example.com'] },
      },
    });
    assert.deepEqual(environmentConfig(body, { provider: 'bwrap' }), {
      provider: 'gvisor',
      lifecycle: { pattern: 'shared', idle_timeout_s: 1800, max_lifetime_s: null },
      limits: { memoryMib: 2048, cpus: 1, pids: 1024, diskMib: 5120, toolTimeoutS: 30 },
      networking: { type: 'limited', allowed_hosts: ['example.com'], allow_mcp_servers: false, allow_package_managers: false },
      warmPool: undefined,
    });
  });

  it('gives an environment stored before a key existed the defaults', () => {
    assert.deepEqual(environmentConfig({ name: 'old', config: { type: 'cloud' } }, { provider: 'process' }), {
      provider: 'process',
      lifecycle: { pattern: 'hybrid', idle_timeout_s: 300, max_lifetime_s: 4 * 3600 },
      limits: { memoryMib: 1024, cpus: 1, pids: 1024, diskMib: 5120, toolTimeoutS: 600 },
      networking: { type: 'unrestricted' },
      warmPool: undefined,
    });
    assert.equal(environmentConfig({}, { provider: 'bwrap' }).provider, 'bwrap');
  });

  it('fills the warm pool from the server defaults, min never above max, rehearsing unless told not to', () => {
    assert.deepEqual(environmentConfig(stored({ name: 'e' }), { provider: 'bwrap', warmPool: pool }).warmPool, { ...pool, rehearse: true });
    const own = stored({ name: 'e', config: { type: 'cloud', warm_pool: { max: 0, rehearse: false } } });
    assert.deepEqual(environmentConfig(own, { provider: 'bwrap', warmPool: pool }).warmPool, { min: 0, max: 0, idleTimeoutS: 600, rehearse: false });
    const sized = stored({ name: 'e', config: { type: 'cloud', warm_pool: { min: 2, idle_timeout_s: 5 } } });
    assert.deepEqual(environmentConfig(sized, { provider: 'bwrap', warmPool: pool }).warmPool, { min: 2, max: 4, idleTimeoutS: 5, rehearse: true });
    assert.equal(environmentConfig(sized, { provider: 'bwrap' }).warmPool, undefined, 'a server without warm pools has none');
  });
});
