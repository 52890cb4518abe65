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
    assert.deepEqual({ ...c.connections }, { max: undefined, perAddress: 256, headersTimeoutMs: 20_000, bodyMinBytesPerS: 1024, bodyTimeoutMs: 20_000 });
    assert.equal(loadConfig({ AGENTHOST_MAX_CONNECTIONS: '5000' }).connections.max, 5000);
    assert.throws(() => loadConfig({ AGENTHOST_MAX_CONNECTIONS: '3' }), /AGENTHOST_MAX_CONNECTIONS/);
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

  it('gives previews a listener of their own and refuses settings that would put them on the API’s origin', () => {
    assert.deepEqual({ ...loadConfig({}).previews }, { port: 0, publicUrl: undefined, baseUrl: undefined });
    assert.equal(loadConfig({ AGENTHOST_PREVIEW_PORT: '4101', AGENTHOST_PREVIEW_PUBLIC_URL: 'https://previews.example.com/' }).previews.publicUrl, 'https://previews.example.com');
    const refused = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
    refused({ AGENTHOST_PORT: '4100', AGENTHOST_PREVIEW_PORT: '4100' }, /AGENTHOST_PREVIEW_PORT: must differ from AGENTHOST_PORT/);
    refused({ AGENTHOST_PUBLIC_URL: 'https://agents.example.com', AGENTHOST_PREVIEW_PUBLIC_URL: 'https://agents.example.com/' }, /AGENTHOST_PREVIEW_PUBLIC_URL: is the API’s origin/);
    refused({ AGENTHOST_PREVIEW_PUBLIC_URL: 'https://p.example.com', AGENTHOST_PREVIEW_BASE_URL: 'https://preview.example.com' }, /set one of the two/);
    refused({ AGENTHOST_PREVIEW_BASE_URL: 'http://10.0.0.1' }, /needs a domain name/);
    refused({ AGENTHOST_PUBLIC_URL: 'https://api.preview.example.com', AGENTHOST_PREVIEW_BASE_URL: 'https://preview.example.com' }, /is in the preview domain/);
    assert.equal(loadConfig({ AGENTHOST_PUBLIC_URL: 'https://agents.example.com', AGENTHOST_PREVIEW_BASE_URL: 'https://example-previews.net' }).previews.baseUrl, 'https://example-previews.net');
  });
});
