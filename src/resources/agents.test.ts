import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { type AgentToolset, agentBodyFromCreate, agentBodyFromUpdate } from './agent-body.js';
import { agentCreateSchema, agentUpdateSchema } from './agent-schema.js';
import { AgentService } from './agents.js';

const create = (body: unknown) => agentBodyFromCreate(agentCreateSchema.parse(body));
const base = { name: 'a', model: 'claude-opus-4-8' };

function rejects(fn: () => unknown, mentions: string): void {
  assert.throws(fn, (e: unknown) => {
    const message = e instanceof Error ? e.message + JSON.stringify((e as { issues?: unknown }).issues ?? '') : String(e);
    assert.ok(message.includes(mentions), `${message} should mention ${mentions}`);
    return true;
  });
}

describe('agent resolution', () => {
  it('fills every default', () => {
    assert.deepEqual(create(base), {
      name: 'a',
      description: null,
      system: null,
      model: { id: 'claude-opus-4-8', speed: 'standard' },
      tools: [],
      mcp_servers: [],
      skills: [],
      metadata: {},
      execution_identity: { type: 'service_account' },
      multiagent: null,
    });
  });

  it('applies default_config to every tool and lets per-tool configs win', () => {
    const body = create({
      ...base,
      tools: [
        {
          type: 'agent_toolset_20260401',
          default_config: { enabled: false, permission_policy: { type: 'always_ask' } },
          configs: [{ name: 'read', enabled: true }, { name: 'grep', permission_policy: { type: 'auto' } }],
        },
      ],
    });
    const toolset = body.tools[0] as AgentToolset;
    assert.deepEqual(toolset.default_config, { enabled: false, permission_policy: { type: 'always_ask' } });
    const byName = Object.fromEntries(toolset.configs.map((c) => [c.name, [c.enabled, c.permission_policy.type]]));
    assert.deepEqual(byName, {
      bash: [false, 'always_ask'],
      edit: [false, 'always_ask'],
      read: [true, 'always_ask'],
      write: [false, 'always_ask'],
      glob: [false, 'always_ask'],
      grep: [false, 'auto'],
      web_fetch: [false, 'always_ask'],
      web_search: [false, 'always_ask'],
    });
  });

  it('normalises web_fetch url_sources to the object form and checks tool names', () => {
    const toolset = (configs: unknown[], extra: unknown[] = []) => ({ ...base, tools: [{ type: 'agent_toolset_20260401', configs }, ...extra] });
    const body = create(toolset([{ name: 'web_fetch', url_sources: { user_input: 'none', server_tool_results: { type: 'only', tools: [{ name: 'web_search', type: 'tool_reference' }] } } }]));
    const webFetch = (body.tools[0] as AgentToolset).configs.find((c) => c.name === 'web_fetch');
    assert.deepEqual(webFetch?.url_sources, {
      client_tool_results: null,
      server_tool_results: { type: 'only', tools: [{ name: 'web_search', type: 'tool_reference' }] },
      user_input: { type: 'none' },
    });
    rejects(() => create(toolset([{ name: 'web_fetch', url_sources: { user_input: 'none', server_tool_results: 'none', client_tool_results: 'none' } }])), 'all to "none"');
    rejects(() => create(toolset([{ name: 'web_fetch', url_sources: { server_tool_results: { type: 'only', tools: [{ name: 'bash', type: 'tool_reference' }] } } }])), '"bash"');
    rejects(() => create(toolset([{ name: 'web_fetch', url_sources: { client_tool_results: { type: 'except', tools: [{ name: 'lookup', type: 'tool_reference' }] } } }])), 'not a custom tool');
    const custom = { type: 'custom', name: 'lookup', description: 'looks up', input_schema: { type: 'object' } };
    assert.doesNotThrow(() => create(toolset([{ name: 'web_fetch', url_sources: { client_tool_results: { type: 'except', tools: [{ name: 'lookup', type: 'tool_reference' }] } } }], [custom])));
    rejects(() => create(toolset([{ name: 'web_fetch', allowed_domains: ['a.com'], blocked_domains: ['b.com'] }])), 'cannot be combined');
    rejects(() => create(toolset([{ name: 'web_search', allowed_domains: [] }])), 'empty list');
  });

  it('refuses duplicates, clashes and dangling MCP references', () => {
    const custom = (name: string) => ({ type: 'custom', name, description: 'd', input_schema: { type: 'object' } });
    rejects(() => create({ ...base, tools: [custom('x'), custom('x')] }), 'custom tool name: "x"');
    rejects(() => create({ ...base, tools: [{ type: 'agent_toolset_20260401' }, custom('bash')] }), 'built-in');
    assert.doesNotThrow(() => create({ ...base, tools: [custom('bash')] }));
    const server = { name: 's', type: 'url', url: 'https://mcp.example.com' };
    rejects(() => create({ ...base, mcp_servers: [server, server], tools: [{ type: 'mcp_toolset', mcp_server_name: 's' }] }), 'server name: "s"');
    rejects(() => create({ ...base, mcp_servers: [server], tools: [{ type: 'mcp_toolset', mcp_server_name: 's' }, { type: 'mcp_toolset', mcp_server_name: 's' }] }), 'more than once');
    rejects(() => create({ ...base, tools: [{ type: 'mcp_toolset', mcp_server_name: 's', configs: [{ name: 't' }, { name: 't' }] }], mcp_servers: [server] }), '"t"');
  });

  it('resolves skills, effort and refuses what agenthost cannot honour', () => {
    const body = create({ ...base, model: { id: 'm', effort: 'low', inference_geo: 'eu' }, skills: [{ type: 'anthropic', skill_id: 'xlsx' }, { type: 'custom', skill_id: 'skill_1', version: '3' }] });
    assert.deepEqual(body.model, { id: 'm', effort: { type: 'low' }, inference_geo: 'eu', speed: 'standard' });
    assert.deepEqual(body.skills, [
      { type: 'anthropic', skill_id: 'xlsx', version: 'latest' },
      { type: 'custom', skill_id: 'skill_1', version: '3' },
    ]);
    rejects(() => create({ ...base, skills: [{ type: 'anthropic', skill_id: 'x' }, { type: 'anthropic', skill_id: 'x', version: '2' }] }), 'skill');
    rejects(() => create({ ...base, multiagent: { type: 'multiagent_20261001' } }), 'multiagent');
    rejects(() => create({ ...base, execution_identity: { type: 'aws_role', role_arn: 'arn' } }), 'aws_role');
    assert.deepEqual(create({ ...base, execution_identity: null, multiagent: null }).execution_identity, { type: 'service_account' });
  });

  it('merges updates: model effort kept unless cleared, metadata patched, lists replaced', () => {
    const current = create({ ...base, model: { id: 'm', effort: { type: 'high' }, inference_geo: 'us' }, metadata: { a: '1', b: '2' }, skills: [{ type: 'anthropic', skill_id: 'pdf' }] });
    const update = (p: unknown) => agentBodyFromUpdate(current, agentUpdateSchema.parse(p));
    assert.deepEqual(update({ model: { id: 'm2' } }).model, { id: 'm2', effort: { type: 'high' }, speed: 'standard' });
    assert.deepEqual(update({ model: { id: 'm2', effort: null } }).model, { id: 'm2', speed: 'standard' });
    assert.deepEqual(update({ model: 'm3' }).model, { id: 'm3', effort: { type: 'high' }, speed: 'standard' });
    assert.deepEqual(update({ metadata: { a: null, c: '3' } }).metadata, { b: '2', c: '3' });
    assert.deepEqual(update({ metadata: null }).metadata, {});
    assert.deepEqual(update({ skills: null }).skills, []);
    assert.deepEqual(update({}), current);
    rejects(() => update({ metadata: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v'])) }), 'at most 16');
    rejects(() => agentUpdateSchema.parse({ name: null }), 'name');
  });
});

describe('AgentService over SQLite', () => {
  let dir: string;
  let store: Store;
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const now = () => new Date((clock += 1000));
  let agents: AgentService;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agenthost-agents-'));
    store = await openStore({ dataDir: dir, log: silentLogger() });
    agents = new AgentService({ store, now });
    // Agents reference their workspace; these ids are used as given.
    for (const ws of ['ws', 'ws-a', 'ws-b', 'other-ws']) await store.ensureWorkspace(ws, ws, new Date().toISOString());
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stamps times from the injected clock and bumps only on change', async () => {
    const a = await agents.create('ws', base);
    assert.equal(a.created_at, '2026-01-01T00:00:01.000Z');
    const same = await agents.update('ws', a.id, { name: 'a' });
    assert.deepEqual(same, a);
    const b = await agents.update('ws', a.id, { name: 'b' });
    assert.equal(b.version, 2);
    // The no-op update read no clock and wrote nothing.
    assert.equal(b.updated_at, '2026-01-01T00:00:02.000Z');
    assert.equal(b.created_at, a.created_at);
    const old = await agents.retrieve('ws', a.id, 1);
    assert.equal(old.updated_at, a.updated_at);
    assert.equal(old.name, 'a');
  });

  it('re-applies unconditional updates that race, and refuses a conditional loser', async () => {
    const a = await agents.create('ws', base);
    await Promise.all([agents.update('ws', a.id, { description: 'd' }), agents.update('ws', a.id, { system: 's' })]);
    const merged = await agents.retrieve('ws', a.id);
    assert.equal(merged.version, 3);
    assert.equal(merged.description, 'd');
    assert.equal(merged.system, 's');

    const results = await Promise.allSettled([
      agents.update('ws', a.id, { name: 'x', version: 3 }),
      agents.update('ws', a.id, { name: 'y', version: 3 }),
    ]);
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.ok(rejected[0]!.reason instanceof AppError);
    assert.equal(rejected[0]!.reason.code, 'conflict_error');
    assert.equal((await agents.retrieve('ws', a.id)).version, 4);
  });

  it('pages through versions in both orders with next and prev cursors', async () => {
    const a = await agents.create('ws', base);
    for (let i = 2; i <= 5; i++) await agents.update('ws', a.id, { name: `v${i}` });
    const desc1 = await agents.listVersions('ws', a.id, { limit: 2 });
    assert.deepEqual(desc1.data.map((v) => v.version), [5, 4]);
    assert.equal(desc1.prev_page, null);
    const desc2 = await agents.listVersions('ws', a.id, { limit: 2, page: desc1.next_page });
    assert.deepEqual(desc2.data.map((v) => v.version), [3, 2]);
    const back = await agents.listVersions('ws', a.id, { limit: 2, page: desc2.prev_page });
    assert.deepEqual(back.data.map((v) => v.version), [5, 4]);
    const desc3 = await agents.listVersions('ws', a.id, { limit: 2, page: desc2.next_page });
    assert.deepEqual(desc3.data.map((v) => v.version), [1]);
    assert.equal(desc3.next_page, null);
    const asc = await agents.listVersions('ws', a.id, { limit: 3, order: 'asc' });
    assert.deepEqual(asc.data.map((v) => [v.version, v.name]), [
      [1, 'a'],
      [2, 'v2'],
      [3, 'v3'],
    ]);
    assert.equal(asc.first_id, a.id);
    await assert.rejects(agents.listVersions('other-ws', a.id, {}), (e: unknown) => e instanceof AppError && e.code === 'not_found_error');
  });

  it('keeps workspaces apart', async () => {
    const a = await agents.create('ws-a', base);
    await assert.rejects(agents.retrieve('ws-b', a.id), (e: unknown) => e instanceof AppError && e.status === 404);
    await assert.rejects(agents.archive('ws-b', a.id), (e: unknown) => e instanceof AppError && e.status === 404);
    assert.equal((await agents.list('ws-b', {})).data.length, 0);
    assert.equal((await agents.list('ws-a', {})).data.length, 1);
  });
});
