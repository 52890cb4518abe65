import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('fills defaults and freezes', () => {
    const c = loadConfig({ AGENTHOST_DATA_DIR: '/tmp/x' });
    assert.equal(c.port, 4100);
    assert.equal(c.defaultProvider, 'bwrap');
    assert.equal(c.databaseUrl, undefined);
    assert.ok(Object.isFrozen(c));
  });

  it('has the documented limits on by default', () => {
    const c = loadConfig({});
    assert.deepEqual({ ...c.limits }, { ratePerS: 100, burst: 200, streamsPerKey: 32, liveSessionsPerWorkspace: 20 });
    assert.equal(c.bodyLimit, 8 * 1024 * 1024);
    assert.equal(c.fileSizeLimit, 500 * 1024 * 1024);
    assert.equal(c.maxTurns, 100);
  });

  it('lists every problem at once', () => {
    assert.throws(
      () => loadConfig({ AGENTHOST_PORT: 'abc', AGENTHOST_DATABASE_URL: 'mysql://x', AGENTHOST_ALLOW_PROCESS_PROVIDER: 'maybe' }),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 3 && /AGENTHOST_PORT/.test(e.message),
    );
  });

  it('does not read "false" as true', () => {
    assert.equal(loadConfig({ AGENTHOST_ALLOW_PROCESS_PROVIDER: 'false' }).allowProcessProvider, false);
    assert.equal(loadConfig({ AGENTHOST_ALLOW_PROCESS_PROVIDER: 'true' }).allowProcessProvider, true);
  });

  it('refuses the process provider as default unless allowed', () => {
    assert.throws(() => loadConfig({ AGENTHOST_DEFAULT_PROVIDER: 'process' }), /AGENTHOST_ALLOW_PROCESS_PROVIDER/);
  });
});
