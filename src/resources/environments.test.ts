import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { type EnvironmentBody, environmentBodyFromCreate, environmentBodyFromUpdate, SANDBOX_LIMIT_DEFAULTS, sandboxLimitsOf } from './environment-body.js';
import { environmentCreateSchema, environmentUpdateSchema } from './environment-schema.js';
import { EnvironmentService } from './environments.js';

const choice = { providers: ['bwrap', 'process', 'gvisor'], defaultProvider: 'bwrap' };
const create = (body: unknown) => environmentBodyFromCreate(environmentCreateSchema.parse(body), choice);
const update = (current: EnvironmentBody, body: unknown, c = choice) => environmentBodyFromUpdate(current, environmentUpdateSchema.parse(body), c);
const empty = { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] };

function rejects(fn: () => unknown, mentions: string): void {
  assert.throws(fn, (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    assert.ok(message.includes(mentions), `${message} should mention ${mentions}`);
    return true;
  });
}

describe('environment resolution', () => {
  it('fills defaults and resolves the default provider', () => {
    assert.deepEqual(create({ name: 'e' }), {
      name: 'e',
      description: null,
      config: {
        type: 'cloud',
        networking: { type: 'unrestricted' },
        packages: empty,
        sandbox: { provider: 'bwrap', memory_mib: 1024, cpus: 1, pids: 1024, disk_mib: 5120, tool_timeout_s: 600 },
        lifecycle: { pattern: 'hybrid', idle_timeout_s: 300, max_lifetime_s: 14400 },
      },
      metadata: {},
      scope: 'organization',
    });
    assert.deepEqual(create({ name: 'e', config: null, scope: null }).config.sandbox, { provider: 'bwrap', ...SANDBOX_LIMIT_DEFAULTS });
    assert.deepEqual(create({ name: 'e', config: { type: 'cloud', sandbox: { provider: 'gvisor' } } }).config.sandbox, { provider: 'gvisor', ...SANDBOX_LIMIT_DEFAULTS });
    rejects(() => create({ name: 'e', config: { type: 'cloud', sandbox: { provider: 'docker' } } }), 'configured: bwrap, process, gvisor');
  });

  it('resolves lifecycle patterns with their defaults, overrides and no-limit nulls', () => {
    assert.deepEqual(create({ name: 'e', config: { type: 'cloud', lifecycle: { pattern: 'long_running' } } }).config.lifecycle, {
      pattern: 'long_running',
      idle_timeout_s: null,
      max_lifetime_s: null,
    });
    const hybrid = create({ name: 'e', config: { type: 'cloud', lifecycle: { idle_timeout_s: 60 } } });
    assert.deepEqual(hybrid.config.lifecycle, { pattern: 'hybrid', idle_timeout_s: 60, max_lifetime_s: 14400 });
    assert.deepEqual(update(hybrid, { config: { type: 'cloud', lifecycle: { max_lifetime_s: null } } }).config.lifecycle, {
      pattern: 'hybrid',
      idle_timeout_s: 60,
      max_lifetime_s: null,
    });
    assert.deepEqual(update(hybrid, { config: { type: 'cloud', lifecycle: { pattern: 'ephemeral' } } }).config.lifecycle, {
      pattern: 'ephemeral',
      idle_timeout_s: null,
      max_lifetime_s: 3600,
    });
    assert.deepEqual(update(hybrid, { name: 'renamed' }).config.lifecycle, hybrid.config.lifecycle);
    assert.throws(() => create({ name: 'e', config: { type: 'cloud', lifecycle: { pattern: 'forever' } } }));
    assert.throws(() => create({ name: 'e', config: { type: 'cloud', lifecycle: { idle_timeout_s: 0 } } }));
    assert.throws(() => create({ name: 'e', config: { type: 'cloud', lifecycle: { idle_timeout_s: 5, ttl: 3 } } }));
  });

  it('keeps the stored provider on update unless sandbox is sent', () => {
    const env = create({ name: 'e', config: { type: 'cloud', sandbox: { provider: 'process' } } });
    const laterDefault = { ...choice, defaultProvider: 'gvisor' };
    assert.equal(update(env, { config: { type: 'cloud' } }, laterDefault).config.sandbox.provider, 'process');
    assert.equal(update(env, { config: { type: 'cloud', sandbox: {} } }, laterDefault).config.sandbox.provider, 'gvisor');
    assert.equal(update(env, { config: { type: 'cloud', sandbox: { provider: 'bwrap' } } }).config.sandbox.provider, 'bwrap');
  });

  it('resolves sandbox limits with defaults, keeps them field by field on update and validates them', () => {
    const env = create({ name: 'e', config: { type: 'cloud', sandbox: { memory_mib: 2048, cpus: 0.5, tool_timeout_s: 30 } } });
    assert.deepEqual(env.config.sandbox, { provider: 'bwrap', memory_mib: 2048, cpus: 0.5, pids: 1024, disk_mib: 5120, tool_timeout_s: 30 });
    const updated = update(env, { config: { type: 'cloud', sandbox: { provider: 'bwrap', pids: 128, cpus: null } } });
    assert.deepEqual(updated.config.sandbox, { provider: 'bwrap', memory_mib: 2048, cpus: 0.5, pids: 128, disk_mib: 5120, tool_timeout_s: 30 });
    assert.deepEqual(update(env, { name: 'x' }).config.sandbox, env.config.sandbox);
    assert.deepEqual(sandboxLimitsOf({ sandbox: { provider: 'bwrap' } } as never), SANDBOX_LIMIT_DEFAULTS);
    for (const bad of [{ memory_mib: 100 }, { memory_mib: 1.5 }, { cpus: 0 }, { cpus: 0.333 }, { pids: 10 }, { disk_mib: 0 }, { tool_timeout_s: 0 }, { gpus: 1 }]) {
      assert.throws(() => create({ name: 'e', config: { type: 'cloud', sandbox: bad } }), JSON.stringify(bad));
    }
  });

  it('keeps warm pool settings field by field, rehearse included, and validates them', () => {
    const env = create({ name: 'e', config: { type: 'cloud', warm_pool: { max: 2, rehearse: false } } });
    assert.deepEqual(env.config.warm_pool, { max: 2, rehearse: false });
    assert.deepEqual(update(env, { config: { type: 'cloud', warm_pool: { min: 1 } } }).config.warm_pool, { min: 1, max: 2, rehearse: false });
    assert.deepEqual(update(env, { config: { type: 'cloud', warm_pool: { rehearse: true } } }).config.warm_pool, { max: 2, rehearse: true });
    assert.equal(update(env, { config: { type: 'cloud', warm_pool: null } }).config.warm_pool, undefined);
    assert.equal(create({ name: 'e' }).config.warm_pool, undefined);
    for (const bad of [{ rehearse: 'yes' }, { rehearse: 1 }, { min: 3, max: 2 }, { max: -1 }, { size: 2 }]) {
      assert.throws(() => create({ name: 'e', config: { type: 'cloud', warm_pool: bad } }), JSON.stringify(bad));
    }
  });

  it('merges limited networking field by field and resets it when the type changes', () => {
    const env = create({
      name: 'e',
      config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['a.example'], allow_mcp_servers: true } },
    });
    assert.deepEqual(env.config.networking, { type: 'limited', allowed_hosts: ['a.example'], allow_mcp_servers: true, allow_package_managers: false });
    const merged = update(env, { config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['b.example:8443'], allow_mcp_servers: null } } });
    assert.deepEqual(merged.config.networking, { type: 'limited', allowed_hosts: ['b.example:8443'], allow_mcp_servers: true, allow_package_managers: false });
    const open = update(env, { config: { type: 'cloud', networking: { type: 'unrestricted' } } });
    assert.deepEqual(open.config.networking, { type: 'unrestricted' });
    const again = update(open, { config: { type: 'cloud', networking: { type: 'limited' } } });
    assert.deepEqual(again.config.networking, { type: 'limited', allowed_hosts: [], allow_mcp_servers: false, allow_package_managers: false });
    assert.deepEqual(update(env, { config: { type: 'cloud', networking: null } }).config.networking, env.config.networking);
  });

  it('refuses packages it would not install, naming the manager; empty lists are kept', () => {
    rejects(() => create({ name: 'e', config: { type: 'cloud', packages: { pip: ['numpy'] } } }), 'config.packages.pip');
    const env = create({ name: 'e', config: { type: 'cloud', packages: { pip: [], npm: [] } } });
    assert.deepEqual(env.config.packages, empty);
    rejects(() => update(env, { config: { type: 'cloud', packages: { apt: ['git'] } } }), 'config.packages.apt');
    assert.deepEqual(update(env, { config: { type: 'cloud', packages: { npm: null } } }).config.packages, empty);
    rejects(() => create({ name: 'e', config: { type: 'cloud', networking: { type: 'limited' }, packages: { npm: ['left-pad'] } } }), 'allow_package_managers');
  });

  it('updates description, name and metadata as documented', () => {
    const env = create({ name: 'e', description: 'd', metadata: { a: '1', b: '2' } });
    assert.equal(update(env, { description: '' }).description, '');
    assert.equal(update(env, { description: null }).description, null);
    assert.equal(update(env, {}).description, 'd');
    assert.equal(update(env, { name: null }).name, 'e');
    assert.deepEqual(update(env, { metadata: { a: '', b: null, c: '3' } }).metadata, { c: '3' });
    assert.deepEqual(update(env, {}), env);
    rejects(() => update(env, { scope: 'account' }), 'scope');
    rejects(() => create({ name: 'e', config: { type: 'self_hosted' } }), 'self_hosted');
  });

  it('refuses hosts and package specs that are not plain names', () => {
    const bad = [
      { networking: { type: 'limited', allowed_hosts: ['http://a.example'] } },
      { networking: { type: 'limited', allowed_hosts: ['a.example/path'] } },
      { networking: { type: 'limited', allowed_hosts: ['*'] } },
      { packages: { apt: ['git; rm -rf /'] } },
      { packages: { pip: ['-e.'] } },
      { packages: { type: 'other' } },
    ];
    for (const config of bad) assert.throws(() => create({ name: 'e', config: { type: 'cloud', ...config } }));
    assert.doesNotThrow(() => create({ name: 'e', config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['*.github.com', '10.0.0.1', 'registry.npmjs.org:443'] } } }));
  });
});

describe('EnvironmentService over SQLite', () => {
  let dir: string;
  let store: Store;
  let clock = Date.parse('2026-02-01T00:00:00.000Z');
  const now = () => new Date((clock += 1000));
  let environments: EnvironmentService;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agenthost-envs-'));
    store = await openStore({ dataDir: dir, log: silentLogger() });
    environments = new EnvironmentService({ store, now, ...choice });
    for (const ws of ['ws', 'ws-b']) await store.ensureWorkspace(ws, ws, new Date().toISOString());
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a default provider that is not configured', () => {
    assert.throws(() => new EnvironmentService({ store, providers: ['bwrap'], defaultProvider: 'process' }), /process/);
  });

  it('writes nothing for a no-op update and stamps real changes', async () => {
    const env = await environments.create('ws', { name: 'e', metadata: { k: 'v' } });
    assert.equal(env.created_at, '2026-02-01T00:00:01.000Z');
    assert.deepEqual(await environments.update('ws', env.id, { name: 'e', metadata: { k: 'v' }, config: { type: 'cloud' } }), env);
    const renamed = await environments.update('ws', env.id, { name: 'f' });
    assert.equal(renamed.updated_at, '2026-02-01T00:00:02.000Z');
    assert.equal(renamed.created_at, env.created_at);
  });

  it('marks archived-update refusals with error_code environment_archived', async () => {
    const env = await environments.create('ws', { name: 'old' });
    const archived = await environments.archive('ws', env.id);
    assert.ok(archived.archived_at);
    assert.deepEqual(await environments.archive('ws', env.id), archived);
    await assert.rejects(environments.update('ws', env.id, { name: 'new' }), (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.status, 400);
      assert.deepEqual(e.details, { error_code: 'environment_archived' });
      return true;
    });
  });

  it('deletes within its workspace only', async () => {
    const env = await environments.create('ws', { name: 'gone' });
    await assert.rejects(environments.delete('ws-b', env.id), (e: unknown) => e instanceof AppError && e.status === 404);
    assert.deepEqual(await environments.delete('ws', env.id), { id: env.id, type: 'environment_deleted' });
    await assert.rejects(environments.retrieve('ws', env.id), (e: unknown) => e instanceof AppError && e.status === 404);
  });
});
