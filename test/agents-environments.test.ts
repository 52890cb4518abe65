import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic, {
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
} from '@anthropic-ai/sdk';
import { registerAgentRoutes } from '../src/api/routes/agents.js';
import { registerEnvironmentRoutes } from '../src/api/routes/environments.js';
import { AgentService } from '../src/resources/agents.js';
import { EnvironmentService } from '../src/resources/environments.js';
import { TEST_BACKENDS, type TestServer, startTestServer } from './helpers/harness.js';

const MODEL = 'claude-opus-4-8';
const PROVIDERS = ['bwrap', 'process'];

/** Awaits a rejected client call and checks its class, status, error type and message. */
async function expectApiError(
  call: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => APIError,
  expected: { status: number; type: string; message?: RegExp | string[] },
): Promise<APIError> {
  const error = await call.then(
    (value) => assert.fail(`expected ${errorClass.name}, got a response: ${JSON.stringify(value).slice(0, 300)}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
  assert.equal(error.status, expected.status);
  assert.equal(error.type, expected.type);
  const message = error.apiMessage ?? '';
  if (expected.message instanceof RegExp) assert.match(message, expected.message);
  else for (const part of expected.message ?? []) assert.ok(message.includes(part), `message ${JSON.stringify(message)} should mention ${part}`);
  return error;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

for (const backend of TEST_BACKENDS) {
  describe(`agents and environments over HTTP (${backend})`, () => {
    let server: TestServer;
    let client: Anthropic;

    before(async () => {
      server = await startTestServer({
        store: backend,
        routes: (app, { store }) => {
          registerAgentRoutes(app, new AgentService({ store }));
          registerEnvironmentRoutes(app, new EnvironmentService({ store, providers: PROVIDERS, defaultProvider: 'bwrap' }));
        },
      });
      client = server.client;
    });

    after(async () => {
      await server?.close();
    });

    describe('agents', () => {
      it('creates an agent with every default resolved and retrieves it', async () => {
        const agent = await client.beta.agents.create({ name: 'Minimal', model: MODEL });
        assert.match(agent.id, /^agent_/);
        assert.equal(agent.type, 'agent');
        assert.equal(agent.name, 'Minimal');
        assert.deepEqual(agent.model, { id: MODEL, speed: 'standard' });
        assert.equal(agent.description, null);
        assert.equal(agent.system, null);
        assert.deepEqual(agent.tools, []);
        assert.deepEqual(agent.mcp_servers, []);
        assert.deepEqual(agent.skills, []);
        assert.deepEqual(agent.metadata, {});
        assert.equal(agent.multiagent, null);
        assert.deepEqual(agent.execution_identity, { type: 'service_account' });
        assert.equal(agent.version, 1);
        assert.equal(agent.archived_at, null);
        assert.equal(agent.created_at, agent.updated_at);
        assert.ok(!Number.isNaN(Date.parse(agent.created_at)));

        assert.deepEqual(await client.beta.agents.retrieve(agent.id), agent);
      });

      it('resolves tool configs, permission policies and MCP servers', async () => {
        const agent = await client.beta.agents.create({
          name: 'Tooled',
          model: { id: MODEL, effort: 'high' },
          system: 'You fix bugs.',
          description: 'fixes bugs',
          metadata: { team: 'core' },
          mcp_servers: [{ name: 'docs', type: 'url', url: 'https://mcp.example.com/sse' }],
          tools: [
            {
              type: 'agent_toolset_20260401',
              configs: [
                { name: 'bash', permission_policy: { type: 'always_ask' } },
                { name: 'web_search', enabled: false },
              ],
            },
            { type: 'mcp_toolset', mcp_server_name: 'docs', configs: [{ name: 'search', permission_policy: { type: 'always_allow' } }] },
          ],
        });
        assert.deepEqual(agent.model, { id: MODEL, effort: { type: 'high' }, speed: 'standard' });
        assert.equal(agent.system, 'You fix bugs.');
        assert.equal(agent.description, 'fixes bugs');
        assert.deepEqual(agent.metadata, { team: 'core' });
        assert.deepEqual(agent.mcp_servers, [{ name: 'docs', type: 'url', url: 'https://mcp.example.com/sse' }]);
        const [toolset, mcp] = agent.tools;
        assert.ok(toolset?.type === 'agent_toolset_20260401');
        assert.deepEqual(toolset.default_config, { enabled: true, permission_policy: { type: 'always_allow' } });
        assert.deepEqual(
          toolset.configs.map((c) => [c.name, c.enabled, c.permission_policy.type]),
          [
            ['bash', true, 'always_ask'],
            ['edit', true, 'always_allow'],
            ['read', true, 'always_allow'],
            ['write', true, 'always_allow'],
            ['glob', true, 'always_allow'],
            ['grep', true, 'always_allow'],
            ['web_fetch', true, 'always_allow'],
            ['web_search', false, 'always_allow'],
          ],
        );
        assert.ok(toolset.configs.every((c) => c.type === c.name));
        assert.ok(mcp?.type === 'mcp_toolset');
        assert.deepEqual(mcp.default_config, { enabled: true, permission_policy: { type: 'always_ask' } });
        assert.deepEqual(mcp.configs, [{ name: 'search', enabled: true, permission_policy: { type: 'always_allow' } }]);

        // The resolved shape is valid input: sending it back changes nothing.
        const same = await client.beta.agents.update(agent.id, { tools: agent.tools, mcp_servers: agent.mcp_servers, version: 1 });
        assert.equal(same.version, 1);
        assert.deepEqual(same, agent);
      });

      it('bumps the version on update and keeps every version readable', async () => {
        const v1 = await client.beta.agents.create({ name: 'Versioned', model: MODEL, metadata: { a: '1', b: '2' } });
        const v2 = await client.beta.agents.update(v1.id, { name: 'Versioned 2', metadata: { a: null, c: '3' }, version: 1 });
        assert.equal(v2.version, 2);
        assert.equal(v2.name, 'Versioned 2');
        assert.deepEqual(v2.metadata, { b: '2', c: '3' });
        assert.equal(v2.created_at, v1.created_at);
        assert.ok(Date.parse(v2.updated_at) >= Date.parse(v1.updated_at));

        const v3 = await client.beta.agents.update(v1.id, { system: 'be brief' });
        assert.equal(v3.version, 3);
        assert.equal(v3.name, 'Versioned 2');
        assert.equal(v3.system, 'be brief');

        const old = await client.beta.agents.retrieve(v1.id, { version: 1 });
        assert.equal(old.version, 1);
        assert.equal(old.name, 'Versioned');
        assert.deepEqual(old.metadata, { a: '1', b: '2' });
        assert.equal((await client.beta.agents.retrieve(v1.id, { version: 2 })).name, 'Versioned 2');
        assert.equal((await client.beta.agents.retrieve(v1.id)).version, 3);
        await expectApiError(client.beta.agents.retrieve(v1.id, { version: 4 }), NotFoundError, { status: 404, type: 'not_found_error' });

        const versions = await collect(client.beta.agents.versions.list(v1.id));
        assert.deepEqual(
          versions.map((v) => [v.version, v.name]),
          [
            [3, 'Versioned 2'],
            [2, 'Versioned 2'],
            [1, 'Versioned'],
          ],
        );
        const paged = await collect(client.beta.agents.versions.list(v1.id, { limit: 2 }));
        assert.deepEqual(
          paged.map((v) => v.version),
          [3, 2, 1],
        );
        const firstPage = await client.beta.agents.versions.list(v1.id, { limit: 2 });
        assert.deepEqual(
          firstPage.data.map((v) => v.version),
          [3, 2],
        );
        assert.ok(firstPage.next_page);
      });

      it('refuses a stale version with 409 and changes nothing', async () => {
        const agent = await client.beta.agents.create({ name: 'Contended', model: MODEL });
        const updated = await client.beta.agents.update(agent.id, { description: 'first', version: 1 });
        await expectApiError(client.beta.agents.update(agent.id, { description: 'second', version: 1 }), ConflictError, {
          status: 409,
          type: 'conflict_error',
          message: ['version 2'],
        });
        assert.deepEqual(await client.beta.agents.retrieve(agent.id), updated);
      });

      it('keeps the version when an update changes nothing', async () => {
        const agent = await client.beta.agents.create({ name: 'Stable', model: MODEL, system: 'hi', metadata: { k: 'v' } });
        const same = await client.beta.agents.update(agent.id, { name: 'Stable', system: 'hi', metadata: { k: 'v' }, model: MODEL });
        assert.deepEqual(same, agent);
        const empty = await client.beta.agents.update(agent.id, {});
        assert.deepEqual(empty, agent);
        assert.deepEqual(
          (await collect(client.beta.agents.versions.list(agent.id))).map((v) => v.version),
          [1],
        );
      });

      it('clears fields with null and empty strings as the client documents', async () => {
        const agent = await client.beta.agents.create({
          name: 'Clearable',
          model: MODEL,
          description: 'd',
          system: 's',
          tools: [{ type: 'agent_toolset_20260401' }],
        });
        const cleared = await client.beta.agents.update(agent.id, { description: '', system: null, tools: null });
        assert.equal(cleared.description, null);
        assert.equal(cleared.system, null);
        assert.deepEqual(cleared.tools, []);
        assert.equal(cleared.version, 2);
      });

      it('lists newest first, pages with for-await and with an explicit page, filters archived', async () => {
        const own = await server.newClient('agent-lister');
        const created = [];
        for (let i = 0; i < 7; i++) created.push(await own.beta.agents.create({ name: `agent ${i}`, model: MODEL }));
        const newestFirst = created.map((a) => a.id).reverse();

        const all = await collect(own.beta.agents.list({ limit: 3 }));
        assert.deepEqual(
          all.map((a) => a.id),
          newestFirst,
        );

        const page1 = await own.beta.agents.list({ limit: 3 });
        assert.deepEqual(
          page1.data.map((a) => a.id),
          newestFirst.slice(0, 3),
        );
        assert.ok(page1.next_page);
        assert.ok(page1.hasNextPage());
        const page2 = await own.beta.agents.list({ limit: 3, page: page1.next_page });
        assert.deepEqual(
          page2.data.map((a) => a.id),
          newestFirst.slice(3, 6),
        );
        const page3 = await own.beta.agents.list({ limit: 3, page: page2.next_page! });
        assert.deepEqual(
          page3.data.map((a) => a.id),
          newestFirst.slice(6),
        );
        assert.equal(page3.next_page, null);
        assert.equal(page3.hasNextPage(), false);
        const viaGetNext = await page1.getNextPage();
        assert.deepEqual(
          viaGetNext.data.map((a) => a.id),
          newestFirst.slice(3, 6),
        );

        const defaultPage = await own.beta.agents.list();
        assert.equal(defaultPage.data.length, 7);
        assert.equal(defaultPage.next_page, null);

        const archived = await own.beta.agents.archive(created[2]!.id);
        const visible = await collect(own.beta.agents.list());
        assert.deepEqual(
          visible.map((a) => a.id),
          newestFirst.filter((id) => id !== archived.id),
        );
        const withArchived = await collect(own.beta.agents.list({ include_archived: true }));
        assert.deepEqual(
          withArchived.map((a) => a.id),
          newestFirst,
        );

        assert.deepEqual(await collect(own.beta.agents.list({ 'created_at[gte]': '2999-01-01T00:00:00Z' })), []);
        assert.equal((await collect(own.beta.agents.list({ 'created_at[lte]': '2999-01-01T00:00:00Z' }))).length, 6);
        await expectApiError(own.beta.agents.list({ limit: 1001 }), BadRequestError, { status: 400, type: 'invalid_request_error', message: ['limit'] });
        await expectApiError(own.beta.agents.list({ page: 'not-a-cursor' }), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['page'],
        });
      });

      it('archives once and refuses updates to an archived agent', async () => {
        const agent = await client.beta.agents.create({ name: 'Retiring', model: MODEL });
        const archived = await client.beta.agents.archive(agent.id);
        assert.ok(archived.archived_at);
        assert.equal(archived.version, 1);
        const again = await client.beta.agents.archive(agent.id);
        assert.equal(again.archived_at, archived.archived_at);
        await expectApiError(client.beta.agents.update(agent.id, { name: 'Back' }), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['archived'],
        });
        assert.deepEqual(await client.beta.agents.retrieve(agent.id), again);
      });

      it('answers unknown ids and other workspaces with 404', async () => {
        const agent = await client.beta.agents.create({ name: 'Private', model: MODEL });
        const stranger = await server.newClient('stranger-agents');
        const missing = 'agent_doesnotexist';
        for (const [c, id] of [
          [client, missing],
          [stranger, agent.id],
        ] as const) {
          const notFound = { status: 404, type: 'not_found_error', message: [id] };
          await expectApiError(c.beta.agents.retrieve(id), NotFoundError, notFound);
          await expectApiError(c.beta.agents.update(id, { name: 'mine now' }), NotFoundError, notFound);
          await expectApiError(c.beta.agents.archive(id), NotFoundError, notFound);
          await expectApiError(collect(c.beta.agents.versions.list(id)), NotFoundError, notFound);
        }
        assert.deepEqual(await collect(stranger.beta.agents.list({ include_archived: true })), []);
        assert.deepEqual(await client.beta.agents.retrieve(agent.id), agent);
      });

      it('rejects invalid bodies naming the field, and stores nothing', async () => {
        const agent = await client.beta.agents.create({ name: 'Guarded', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }] });
        const bad = (body: unknown) => body as Anthropic.Beta.Agents.AgentUpdateParams;
        const cases: Array<[unknown, string[]]> = [
          [{ name: 42 }, ['name']],
          [{ name: '' }, ['name']],
          [{ tools: 'bash' }, ['tools']],
          [{ metadata: { k: 7 } }, ['metadata.k']],
          [{ version: 'one' }, ['version']],
          [{ model: 12 }, ['model']],
          [{ system: 'x'.repeat(100_001) }, ['system']],
          [{ colour: 'blue' }, ['colour']],
          [{ tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash' }, { name: 'bash' }] }] }, ['bash', 'more than once']],
          [{ tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', colour: 1 }] }] }, ['tools.0.configs.0', 'colour']],
          [{ tools: [{ type: 'agent_toolset_20260401' }, { type: 'agent_toolset_20260401' }] }, ['more than once']],
          [{ tools: [{ type: 'mcp_toolset', mcp_server_name: 'nowhere' }] }, ['nowhere']],
          [{ mcp_servers: [{ name: 'unused', type: 'url', url: 'https://x.example' }] }, ['unused']],
          [{ multiagent: { type: 'coordinator', agents: [] } }, ['multiagent']],
          [{ execution_identity: { type: 'aws_role', role_arn: 'arn:aws:iam::1:role/x' } }, ['aws_role']],
          [{ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, ['metadata', '16']],
        ];
        for (const [body, mentions] of cases) {
          await expectApiError(client.beta.agents.update(agent.id, bad(body)), BadRequestError, {
            status: 400,
            type: 'invalid_request_error',
            message: mentions,
          });
        }
        await expectApiError(client.beta.agents.create({ name: 'x', model: MODEL, colour: 'blue' } as never), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['colour'],
        });
        await expectApiError(client.beta.agents.create({ name: 'x' } as never), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['model'],
        });
        assert.deepEqual(await client.beta.agents.retrieve(agent.id), agent);
        assert.deepEqual(
          (await collect(client.beta.agents.versions.list(agent.id))).map((v) => v.version),
          [1],
        );
      });
    });

    describe('environments', () => {
      it('creates an environment with defaults filled in', async () => {
        const env = await client.beta.environments.create({ name: 'default-env' });
        assert.match(env.id, /^env_/);
        assert.equal(env.type, 'environment');
        assert.equal(env.name, 'default-env');
        assert.equal(env.description, null);
        assert.deepEqual(env.metadata, {});
        assert.equal(env.scope, 'organization');
        assert.deepEqual(env.config, {
          type: 'cloud',
          networking: { type: 'unrestricted' },
          packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] },
          sandbox: { provider: 'bwrap', memory_mib: 1024, cpus: 1, pids: 1024, disk_mib: 5120, tool_timeout_s: 600 },
          lifecycle: { pattern: 'hybrid', idle_timeout_s: 300, max_lifetime_s: 14400 },
        });
        assert.equal(env.archived_at, null);
        assert.equal(env.created_at, env.updated_at);
        assert.deepEqual(await client.beta.environments.retrieve(env.id), env);
      });

      it('creates limited networking on a chosen provider and updates it field by field', async () => {
        const env = await client.beta.environments.create({
          name: 'locked-down',
          description: 'no internet',
          metadata: { owner: 'ops', tier: 'gold' },
          config: {
            type: 'cloud',
            networking: { type: 'limited', allowed_hosts: ['pypi.org', '*.example.com'], allow_package_managers: true },
            packages: { pip: [] },
            sandbox: { provider: 'process' },
          } as Anthropic.Beta.Environments.BetaCloudConfigParams,
        });
        assert.deepEqual(env.config, {
          type: 'cloud',
          networking: { type: 'limited', allowed_hosts: ['pypi.org', '*.example.com'], allow_mcp_servers: false, allow_package_managers: true },
          packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] },
          sandbox: { provider: 'process', memory_mib: 1024, cpus: 1, pids: 1024, disk_mib: 5120, tool_timeout_s: 600 },
          lifecycle: { pattern: 'hybrid', idle_timeout_s: 300, max_lifetime_s: 14400 },
        });

        const updated = await client.beta.environments.update(env.id, {
          name: 'locked-down-2',
          metadata: { tier: '', region: 'eu' },
          config: { type: 'cloud', networking: { type: 'limited', allow_mcp_servers: true } },
        });
        assert.equal(updated.name, 'locked-down-2');
        assert.equal(updated.description, 'no internet');
        assert.deepEqual(updated.metadata, { owner: 'ops', region: 'eu' });
        assert.deepEqual(updated.config, {
          ...env.config,
          networking: { type: 'limited', allowed_hosts: ['pypi.org', '*.example.com'], allow_mcp_servers: true, allow_package_managers: true },
        });
        assert.ok(Date.parse(updated.updated_at) >= Date.parse(env.updated_at));

        const noop = await client.beta.environments.update(updated.id, { name: 'locked-down-2', metadata: { owner: 'ops' } });
        assert.deepEqual(noop, updated);

        const described = await client.beta.environments.update(env.id, { description: null });
        assert.equal(described.description, null);
        assert.deepEqual(await client.beta.environments.retrieve(env.id), described);
      });

      it('lists newest first with paging, archives, refuses updates when archived, deletes', async () => {
        const own = await server.newClient('env-lister');
        const created = [];
        for (let i = 0; i < 5; i++) created.push(await own.beta.environments.create({ name: `env ${i}` }));
        const newestFirst = created.map((e) => e.id).reverse();
        assert.deepEqual(
          (await collect(own.beta.environments.list({ limit: 2 }))).map((e) => e.id),
          newestFirst,
        );
        const page1 = await own.beta.environments.list({ limit: 2 });
        const page2 = await own.beta.environments.list({ limit: 2, page: page1.next_page! });
        assert.deepEqual(
          page2.data.map((e) => e.id),
          newestFirst.slice(2, 4),
        );

        const target = created[1]!;
        const archived = await own.beta.environments.archive(target.id);
        assert.ok(archived.archived_at);
        assert.deepEqual(
          (await collect(own.beta.environments.list())).map((e) => e.id),
          newestFirst.filter((id) => id !== target.id),
        );
        assert.equal((await collect(own.beta.environments.list({ include_archived: true }))).length, 5);
        await expectApiError(own.beta.environments.update(target.id, { name: 'revived' }), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['archived'],
        });
        assert.deepEqual(await own.beta.environments.retrieve(target.id), archived);

        const deleted = await own.beta.environments.delete(target.id);
        assert.deepEqual(deleted, { id: target.id, type: 'environment_deleted' });
        await expectApiError(own.beta.environments.retrieve(target.id), NotFoundError, { status: 404, type: 'not_found_error', message: [target.id] });
        await expectApiError(own.beta.environments.delete(target.id), NotFoundError, { status: 404, type: 'not_found_error' });
        assert.equal((await collect(own.beta.environments.list({ include_archived: true }))).length, 4);
      });

      it('refuses to delete an environment that sessions still use', async () => {
        const env = await client.beta.environments.create({ name: 'in-use' });
        const agent = await client.beta.agents.create({ name: 'user', model: MODEL });
        const at = new Date().toISOString();
        // Sessions are not this module's API; a stored row is all the reference needs.
        await server.store.createSession(
          {
            id: `sesn_ref${Date.now()}`,
            workspaceId: server.workspaceId,
            agentId: agent.id,
            agentVersion: 1,
            environmentId: env.id,
            status: 'idle',
            body: {},
            createdAt: at,
            updatedAt: at,
            archivedAt: null,
          },
          [],
        );
        await expectApiError(client.beta.environments.delete(env.id), ConflictError, { status: 409, type: 'conflict_error', message: ['sessions'] });
        assert.deepEqual(await client.beta.environments.retrieve(env.id), env);
      });

      it('answers unknown ids and other workspaces with 404', async () => {
        const env = await client.beta.environments.create({ name: 'private-env' });
        const stranger = await server.newClient('stranger-envs');
        for (const [c, id] of [
          [client, 'env_doesnotexist'],
          [stranger, env.id],
        ] as const) {
          const notFound = { status: 404, type: 'not_found_error', message: [id] };
          await expectApiError(c.beta.environments.retrieve(id), NotFoundError, notFound);
          await expectApiError(c.beta.environments.update(id, { name: 'mine' }), NotFoundError, notFound);
          await expectApiError(c.beta.environments.archive(id), NotFoundError, notFound);
          await expectApiError(c.beta.environments.delete(id), NotFoundError, notFound);
        }
        assert.deepEqual(await collect(stranger.beta.environments.list({ include_archived: true })), []);
        assert.deepEqual(await client.beta.environments.retrieve(env.id), env);
      });

      it('rejects invalid bodies naming the field, and stores nothing', async () => {
        const env = await client.beta.environments.create({ name: 'guarded-env', metadata: { a: 'b' } });
        const bad = (body: unknown) => body as Anthropic.Beta.Environments.EnvironmentUpdateParams;
        const cases: Array<[unknown, string[]]> = [
          [{ name: 7 }, ['name']],
          [{ description: false }, ['description']],
          [{ flavour: 'x' }, ['flavour']],
          [{ config: { type: 'cloud', bogus: true } }, ['config', 'bogus']],
          [{ config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: 'pypi.org' } } }, ['config.networking.allowed_hosts']],
          [{ config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['https://pypi.org/simple'] } } }, ['allowed_hosts']],
          [{ config: { type: 'cloud', networking: { type: 'open' } } }, ['config.networking']],
          [{ config: { type: 'cloud', sandbox: { provider: 'nope' } } }, ['nope', 'bwrap', 'process']],
          [{ config: { type: 'cloud', sandbox: { provider: 'bwrap', gpus: 2 } } }, ['config.sandbox', 'gpus']],
          [{ config: { type: 'cloud', sandbox: { provider: 'bwrap', memory_mib: 10 } } }, ['config.sandbox.memory_mib']],
          [{ config: { type: 'cloud', packages: { pip: ['--index-url=http://evil'] } } }, ['config.packages.pip']],
          [{ config: { type: 'self_hosted' } }, ['self_hosted']],
          [{ config: { type: 'cloud', networking: { type: 'limited' }, packages: { npm: ['left-pad'] } } }, ['allow_package_managers']],
          [{ config: { type: 'cloud', packages: { npm: ['left-pad@1.3.0'] } } }, ['config.packages.npm', 'does not install packages']],
          [{ scope: 'account' }, ['scope']],
          [{ metadata: { a: 5 } }, ['metadata.a']],
        ];
        for (const [body, mentions] of cases) {
          await expectApiError(client.beta.environments.update(env.id, bad(body)), BadRequestError, {
            status: 400,
            type: 'invalid_request_error',
            message: mentions,
          });
        }
        await expectApiError(
          client.beta.environments.create({ name: 'bad-provider', config: { type: 'cloud', sandbox: { provider: 'docker' } } as never }),
          BadRequestError,
          { status: 400, type: 'invalid_request_error', message: ['docker', 'bwrap, process'] },
        );
        await expectApiError(client.beta.environments.create({ name: 'x', colour: 1 } as never), BadRequestError, {
          status: 400,
          type: 'invalid_request_error',
          message: ['colour'],
        });
        assert.deepEqual(await client.beta.environments.retrieve(env.id), env);
        assert.equal((await collect(client.beta.environments.list())).filter((e) => e.name === 'bad-provider' || e.name === 'x').length, 0);
      });
    });

    describe('transport', () => {
      it('answers malformed JSON with a 400 in the API error shape and changes nothing', async () => {
        const agent = await client.beta.agents.create({ name: 'Unbroken', model: MODEL });
        for (const path of ['/v1/agents', `/v1/agents/${agent.id}`, '/v1/environments']) {
          const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: server.headers(), body: '{"name": "half' });
          assert.equal(response.status, 400);
          assert.ok(response.headers.get('request-id'));
          const body = (await response.json()) as { type: string; error: { type: string; message: string } };
          assert.equal(body.type, 'error');
          assert.equal(body.error.type, 'invalid_request_error');
          assert.match(body.error.message, /JSON/);
        }
        const notObject = await fetch(`${server.url}/v1/agents/${agent.id}`, { method: 'POST', headers: server.headers(), body: '[1,2]' });
        assert.equal(notObject.status, 400);
        assert.equal(((await notObject.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
        assert.deepEqual(await client.beta.agents.retrieve(agent.id), agent);
      });

      it('rejects a missing or wrong API key with 401', async () => {
        const noKey = await fetch(`${server.url}/v1/agents`, { headers: { 'anthropic-beta': 'managed-agents-2026-04-01' } });
        assert.equal(noKey.status, 401);
        const body = (await noKey.json()) as { type: string; error: { type: string } };
        assert.deepEqual([body.type, body.error.type], ['error', 'authentication_error']);

        const wrong = new Anthropic({ baseURL: server.url, apiKey: 'sk-ah-wrong', maxRetries: 0 });
        await expectApiError(wrong.beta.agents.list(), AuthenticationError, { status: 401, type: 'authentication_error' });
        await expectApiError(wrong.beta.environments.create({ name: 'nope' }), AuthenticationError, {
          status: 401,
          type: 'authentication_error',
        });
        assert.equal((await collect(client.beta.environments.list())).filter((e) => e.name === 'nope').length, 0);
      });
    });
  });
}
