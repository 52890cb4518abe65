import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { runTurn, startOps, type OpsServer } from './ops-helpers.js';

const execFileAsync = promisify(execFile);
const BIN = new URL('../bin/agenthost', import.meta.url).pathname;

type Cost = { tokens_usd: number; sandbox_usd: number; total_usd: number };
type Usage = { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation: { ephemeral_5m_input_tokens: number } };
const costOf = (s: unknown): Cost => (s as { runtime: { cost: Cost } }).runtime.cost;
const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) <= 2e-6, `${what}: ${actual} is not ${expected}`);

/** Sonnet at $3/$15 per million (cache writes $3.75, reads $0.30); bwrap sandboxes at $36 an hour, a cent a second. */
const PRICES = { models: { 'claude-sonnet-4-5': { input: 3, output: 15 } }, sandbox_usd_per_hour: { bwrap: 36 } };

for (const backend of TEST_BACKENDS) {
  describe(`cost and budgets (${backend})`, { timeout: 300_000 }, () => {
    let h: OpsServer;
    let agentId: string;
    let envId: string;

    before(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'agenthost-prices-'));
      const pricesFile = join(dir, 'prices.json');
      await writeFile(pricesFile, JSON.stringify(PRICES));
      h = await startOps({ backend, env: { AGENTHOST_PRICES_FILE: pricesFile } });
      agentId = (await h.client.beta.agents.create({ name: 'c', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      envId = (await h.client.beta.environments.create({ name: 'c', config: { type: 'cloud' } })).id;
    });
    after(() => h?.close());

    const script = () =>
      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'sleep 1; echo costly' } }, usage: { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 100, cache_read_input_tokens: 400 } },
        { when: 'tools', text: 'done', usage: { input_tokens: 1500, output_tokens: 30 } },
      ]);

    it("a session's cost is its tokens at the price table plus its sandbox time at the provider's rate", async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      assert.deepEqual(costOf(session), { tokens_usd: 0, sandbox_usd: 0, total_usd: 0 });
      script();
      await runTurn(h.client, session.id, 'spend');

      const live = await h.client.beta.sessions.retrieve(session.id);
      const u = live.usage as unknown as Usage;
      const expectedTokens = (u.input_tokens * 3 + u.output_tokens * 15 + u.cache_creation.ephemeral_5m_input_tokens * 3.75 + u.cache_read_input_tokens * 0.3) / 1e6;
      assert.ok(u.input_tokens >= 2500 && u.cache_read_input_tokens >= 400);
      const cost = costOf(live);
      near(cost.tokens_usd, expectedTokens, 'tokens_usd');
      // The sandbox lived at least through the one-second tool call: at least a cent.
      assert.ok(cost.sandbox_usd >= 0.01, `sandbox_usd ${cost.sandbox_usd} counts the live sandbox`);
      near(cost.total_usd, cost.tokens_usd + cost.sandbox_usd, 'total_usd');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(costOf(await h.client.beta.sessions.retrieve(session.id)).sandbox_usd > cost.sandbox_usd, 'a live sandbox keeps costing');

      const archivedAt = Date.now();
      await h.client.beta.sessions.archive(session.id);
      const ended = costOf(await h.client.beta.sessions.retrieve(session.id));
      near(ended.tokens_usd, expectedTokens, 'tokens_usd after archive');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(costOf(await h.client.beta.sessions.retrieve(session.id)), ended, 'a destroyed sandbox costs nothing more');
      const aliveSeconds = (archivedAt - Date.parse(session.created_at)) / 1000;
      assert.ok(ended.sandbox_usd <= aliveSeconds * 0.01 + 0.001, `sandbox_usd ${ended.sandbox_usd} is no more than the session's life`);

      // The workspace's usage records say the same, by kind and name.
      const res = await fetch(`${h.server.url}/v1/workspace/usage`, { headers: { 'x-api-key': h.key } });
      const report = (await res.json()) as { total_usd: number; data: Array<{ kind: string; name: string; usd: number; sandbox_seconds: number; input_tokens: number }> };
      const sandbox = report.data.find((r) => r.kind === 'sandbox')!;
      const tokens = report.data.find((r) => r.kind === 'tokens' && r.name === 'claude-sonnet-4-5')!;
      near(sandbox.usd, ended.sandbox_usd, 'recorded sandbox usd');
      near(sandbox.sandbox_seconds * 0.01, ended.sandbox_usd, 'recorded sandbox seconds at a cent a second');
      near(tokens.usd, ended.tokens_usd, 'recorded token usd');
      assert.equal(tokens.input_tokens, u.input_tokens);
    });

    it('a spent daily budget refuses new turns with a clear error; raising it lets them run', async () => {
      const { client, key } = await h.newClient(`budget-${backend}`);
      const agent = await client.beta.agents.create({ name: 'b', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
      const env = await client.beta.environments.create({ name: 'b', config: { type: 'cloud' } });
      const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
      const budget = (body?: unknown) =>
        fetch(`${h.server.url}/v1/workspace/budget`, {
          method: body ? 'POST' : 'GET',
          headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

      assert.deepEqual((await budget()).body.daily_usd, null);
      const set = await budget({ daily_usd: 0.001 });
      assert.equal(set.status, 200);
      assert.equal(set.body.daily_usd, 0.001);
      assert.equal(set.body.total_usd, null);

      // The first turn runs (nothing spent yet) and spends more than a tenth of a cent.
      script();
      await runTurn(client, session.id, 'spend');
      const spent = (await budget()).body.spent as { today_usd: number; total_usd: number };
      assert.ok(spent.today_usd > 0.001, `spent ${spent.today_usd}`);

      const refused = await client.beta.sessions.events
        .send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'more' }] }] })
        .then(() => null, (e: unknown) => e);
      assert.ok(refused instanceof Anthropic.BadRequestError, `expected a 400, got ${String(refused)}`);
      assert.match(refused.message, /workspace budget reached: this workspace has spent \$0\.\d{4} today \(UTC\) of its daily budget of \$0\.0010/);
      const listed = [];
      for await (const e of client.beta.sessions.events.list(session.id)) listed.push(e);
      assert.equal(listed.filter((e) => e.type === 'user.message').length, 1, 'the refused message is not stored');
      await assert.rejects(
        client.beta.sessions.create({ agent: agent.id, environment_id: env.id, initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'x' }] }] } as never),
        Anthropic.BadRequestError,
      );
      // Requests that start no turn still work, and other workspaces are not affected.
      await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
      await client.beta.sessions.retrieve(session.id);

      assert.equal((await budget({ daily_usd: null, total_usd: 100 })).body.daily_usd, null);
      script();
      const events = await runTurn(client, session.id, 'again');
      assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });

      // The total budget refuses the same way once the workspace's whole spending reaches it.
      const total = ((await budget()).body.spent as { total_usd: number }).total_usd;
      assert.equal((await budget({ total_usd: total / 2 })).status, 200);
      const refusedTotal = await client.beta.sessions.events
        .send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'over the total' }] }] })
        .then(() => null, (e: unknown) => e);
      assert.ok(refusedTotal instanceof Anthropic.BadRequestError, `expected a 400, got ${String(refusedTotal)}`);
      assert.match(refusedTotal.message, /workspace budget reached: .*total budget of \$/);

      const invalid = await budget({ daily_usd: -1 });
      assert.equal(invalid.status, 400);
      await client.beta.sessions.archive(session.id);
    });

    if (backend === 'sqlite') {
      it('bin/agenthost usage prints the report for a workspace since a date', async () => {
        const env: NodeJS.ProcessEnv = { ...process.env, AGENTHOST_DATA_DIR: h.dataDir, AGENTHOST_LOG_LEVEL: 'silent' };
        delete env.AGENTHOST_DATABASE_URL;
        const today = new Date().toISOString().slice(0, 10);
        const { stdout } = await execFileAsync(BIN, ['usage', '--workspace', 'ops', '--since', today], { env });
        const lines = stdout.trim().split('\n');
        assert.match(lines[0]!, new RegExp(`^usage of workspace ops since ${today}T00:00:00.000Z`));
        assert.match(lines[1]!, /^workspace\s+kind\s+name\s+records\s+input\s+output\s+cache_write\s+cache_read\s+sandbox_s\s+usd$/);
        assert.ok(lines.some((l) => /^ops\s+sandbox\s+bwrap\s+\d+/.test(l)));
        assert.ok(lines.some((l) => /^ops\s+tokens\s+claude-sonnet-4-5\s+\d+\s+\d{4,}/.test(l)));
        assert.match(lines.at(-1)!, /^total\s+0\.\d{6}$/);
        assert.ok(!stdout.includes('budget-sqlite'), 'only the named workspace');

        const json = JSON.parse((await execFileAsync(BIN, ['usage', '--json'], { env })).stdout) as { total_usd: number; data: unknown[] };
        assert.ok(json.total_usd > 0 && json.data.length >= 3);
        const future = await execFileAsync(BIN, ['usage', '--since', '2999-01-01'], { env });
        assert.match(future.stdout, /no usage recorded/);
        await assert.rejects(execFileAsync(BIN, ['usage', '--since', 'yesterday'], { env }), (e: { code?: number; stderr?: string }) => e.code === 1 && /--since/.test(e.stderr ?? ''));
      });
    }
  });
}
