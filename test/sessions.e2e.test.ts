import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { UPSTREAM_KEY, agentTrace, isIdle, processesMatching, readStream, startE2E, text, type AnyEvent, type E2E } from './helpers/e2e.js';

/**
 * The core, end to end: the official client over real HTTP, a real store,
 * the real Claude Code CLI in a real bubblewrap sandbox, and the scripted
 * model as the upstream. Every step of a script says `when: 'tools'` so the
 * CLI's side requests (which carry no tools) never consume it.
 */
for (const backend of TEST_BACKENDS) {
  describe(`sessions end to end (${backend}, bwrap)`, { timeout: 600_000 }, () => {
    let h: E2E;
    let agentId: string;
    let askAgentId: string;
    let envId: string;

    before(async () => {
      h = await startE2E({ backend, maxTurns: 4 });
      agentId = (await h.client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
      askAgentId = (
        await h.client.beta.agents.create({
          name: 'careful',
          model: 'claude-sonnet-4-5',
          tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
        })
      ).id;
      envId = (await h.client.beta.environments.create({ name: 'sandboxed', config: { type: 'cloud' } })).id;
    });
    after(() => h?.close());

    async function turn(sessionId: string, message: string, until: (e: AnyEvent) => boolean = isIdle): Promise<AnyEvent[]> {
      const stream = await h.client.beta.sessions.events.stream(sessionId);
      await h.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
      return readStream(stream, until);
    }

    describe('a session across two turns', () => {
      let sessionId: string;

      it('runs Bash, writes a file and streams tool_use, tool_result, message, idle(end_turn) in order', async () => {
        h.model.setScript([
          { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo hello from the sandbox > out.txt && cat out.txt && id -u' } } },
          { when: 'tools', text: 'I wrote out.txt.' },
        ]);
        const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId, title: 'two turns' });
        sessionId = session.id;
        assert.equal(session.status, 'idle');

        const events = await turn(sessionId, 'write a file');
        assert.deepEqual(agentTrace(events), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
        const toolUse = events.find((e) => e.type === 'agent.tool_use')!;
        const result = events.find((e) => e.type === 'agent.tool_result')!;
        assert.equal(toolUse.name, 'bash');
        assert.equal(toolUse.evaluated_permission, 'allow');
        assert.equal(result.tool_use_id, toolUse.id);
        assert.match(text(result), /hello from the sandbox/);
        assert.doesNotMatch(text(result), /^0$/m, 'tools must not run as root in the sandbox');
        assert.equal(text(events.find((e) => e.type === 'agent.message')!), 'I wrote out.txt.');
        assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
        assert.equal(events[0]!.type, 'user.message', 'the stream shows the committed message first');
        assert.ok(
          events.findIndex((e) => e.type === 'session.status_running') < events.findIndex((e) => e.type === 'agent.tool_use'),
          'the turn starts with status_running',
        );
        assert.ok(events.some((e) => e.type === 'span.model_request_start'));
        const spanEnd = events.find((e) => e.type === 'span.model_request_end')!;
        assert.ok((spanEnd.model_usage as { output_tokens: number }).output_tokens > 0);

        const workspace = join(h.dataDir, 'sessions', sessionId, 'workspace');
        assert.equal(await readFile(join(workspace, 'out.txt'), 'utf8'), 'hello from the sandbox\n');

        const retrieved = await h.client.beta.sessions.retrieve(sessionId);
        assert.equal(retrieved.status, 'idle');
        assert.ok((retrieved.usage.output_tokens ?? 0) > 0);
        const runtime = (retrieved as unknown as { runtime: { sandbox_state: string; provider: string; cli_version: string } }).runtime;
        assert.equal(runtime.provider, 'bwrap');
        assert.equal(runtime.sandbox_state, 'live');
        assert.match(runtime.cli_version, /^\d+\.\d+\.\d+/);
      });

      it('a second turn sees the first turn’s file and history; usage is cumulative', async () => {
        const before = await h.client.beta.sessions.retrieve(sessionId);
        h.model.setScript([
          { when: 'tools', tool_use: { name: 'Bash', input: { command: 'cat out.txt' } } },
          { when: 'tools', text: 'It still says hello.' },
        ]);
        const events = await turn(sessionId, 'what does out.txt say?');
        assert.deepEqual(agentTrace(events), ['agent.tool_use', 'agent.tool_result', 'agent.message', 'session.status_idle']);
        assert.match(text(events.find((e) => e.type === 'agent.tool_result')!), /hello from the sandbox/);

        const main = h.model.messageRequests().filter((r) => Array.isArray((r.body as { tools?: unknown[] }).tools));
        const history = JSON.stringify((main.at(-1)!.body as { messages: unknown[] }).messages);
        assert.match(history, /write a file/, 'the model sees the first user message');
        assert.match(history, /I wrote out\.txt\./, 'the model sees the first answer');

        const afterTurn = await h.client.beta.sessions.retrieve(sessionId);
        assert.ok(afterTurn.usage.output_tokens! > before.usage.output_tokens!);
        assert.ok(afterTurn.usage.input_tokens! > before.usage.input_tokens!);

        const listed = [];
        for await (const e of h.client.beta.sessions.events.list(sessionId, { limit: 5 })) listed.push(e);
        assert.equal(listed.filter((e) => e.type === 'user.message').length, 2);
        assert.equal(new Set(listed.map((e) => e.id)).size, listed.length, 'paging yields no duplicates');
      });

      it('a reconnecting stream resumes after Last-Event-ID with no gap and no duplicate', async () => {
        const all = [];
        for await (const e of h.client.beta.sessions.events.list(sessionId)) all.push(e);
        const middle = all[Math.floor(all.length / 2)]!;
        h.model.setScript([{ when: 'tools', text: 'third' }]);
        const stream = await h.client.beta.sessions.events.stream(sessionId, {}, { headers: { 'Last-Event-ID': middle.id } });
        await h.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'again' }] }] });
        const seen = await readStream(stream, (e, seenSoFar) => isIdle(e) && seenSoFar.some((x) => x.type === 'agent.message' && text(x) === 'third'));
        const expectedPrefix = all.slice(all.indexOf(middle) + 1).map((e) => e.id);
        assert.deepEqual(seen.slice(0, expectedPrefix.length).map((e) => e.id), expectedPrefix);
        assert.equal(new Set(seen.map((e) => e.id)).size, seen.length);
      });
    });

    it('always_ask: deny with a message, then allow', async () => {
      const session = await h.client.beta.sessions.create({ agent: askAgentId, environment_id: envId });
      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'touch denied.txt' } } },
        { when: 'tools', text: 'Understood, I will not.' },
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'touch allowed.txt' } } },
        { when: 'tools', text: 'Done.' },
      ]);
      const workspace = join(h.dataDir, 'sessions', session.id, 'workspace');

      const asked = await turn(session.id, 'make denied.txt');
      const ask = asked.find((e) => e.type === 'agent.tool_use')!;
      assert.equal(ask.evaluated_permission, 'ask');
      assert.deepEqual(asked.at(-1)!.stop_reason, { type: 'requires_action', event_ids: [ask.id] });
      assert.equal((await h.client.beta.sessions.retrieve(session.id)).status, 'idle');

      let stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, {
        events: [{ type: 'user.tool_confirmation', tool_use_id: ask.id, result: 'deny', deny_message: 'not in this directory' }],
      });
      const denied = await readStream(stream, isIdle);
      const deniedResult = denied.find((e) => e.type === 'agent.tool_result')!;
      assert.equal(deniedResult.is_error, true);
      assert.match(text(deniedResult), /not in this directory/);
      assert.equal(text(denied.find((e) => e.type === 'agent.message')!), 'Understood, I will not.');
      assert.equal(existsSync(join(workspace, 'denied.txt')), false);

      const asked2 = await turn(session.id, 'make allowed.txt');
      const ask2 = asked2.find((e) => e.type === 'agent.tool_use')!;
      stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask2.id, result: 'allow' }] });
      const allowed = await readStream(stream, isIdle);
      assert.deepEqual(agentTrace(allowed), ['agent.tool_result', 'agent.message', 'session.status_idle']);
      assert.equal(existsSync(join(workspace, 'allowed.txt')), true);

      await assert.rejects(
        h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask2.id, result: 'allow' }] }),
        (e: unknown) => e instanceof Anthropic.ConflictError && /not waiting/.test((e as Error).message),
      );
    });

    it('always_ask holds even a read-only command until it is allowed', async () => {
      const session = await h.client.beta.sessions.create({ agent: askAgentId, environment_id: envId });
      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo read-only' } } },
        { when: 'tools', text: 'printed' },
      ]);
      const asked = await turn(session.id, 'print something');
      const ask = asked.find((e) => e.type === 'agent.tool_use')!;
      assert.deepEqual(asked.at(-1)!.stop_reason, { type: 'requires_action', event_ids: [ask.id] });
      assert.ok(!asked.some((e) => e.type === 'agent.tool_result'), 'nothing ran before the confirmation');
      const stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: ask.id, result: 'allow' }] });
      const allowed = await readStream(stream, isIdle);
      assert.match(text(allowed.find((e) => e.type === 'agent.tool_result')!), /read-only/);
    });

    it('user.interrupt stops a 40-second tool and the session goes idle', async () => {
      // Claude Code refuses bare long `sleep`s, so the 40-second tool is a blocking read.
      // Unique on this machine: processesMatching looks at every process, and other runs of this test may be going.
      const marker = `timeout 40.${randomInt(100_000, 999_999)}`;
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: `${marker} tail -f /dev/null; echo finished` } } },
        { when: 'tools', text: 'after the sleep' },
      ]);
      const stream = await h.client.beta.sessions.events.stream(session.id);
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'sleep' }] }] });
      const started = Date.now();
      const events = await readStream(stream, (e, seen) => {
        if (e.type === 'agent.tool_use') {
          // Let the tool actually start before interrupting it.
          setTimeout(() => void h.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] }), 1500);
        }
        return isIdle(e) && seen.some((x) => x.type === 'agent.tool_use');
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 30_000, `idle after ${elapsed} ms; the tool was not stopped`);
      assert.deepEqual(events.at(-1)!.stop_reason, { type: 'end_turn' });
      assert.equal((await h.client.beta.sessions.retrieve(session.id)).status, 'idle');
      assert.deepEqual(await processesMatching(marker), [], 'the interrupted tool is gone');
      const listed = [];
      for await (const e of h.client.beta.sessions.events.list(session.id)) listed.push(e);
      assert.ok(listed.some((e) => e.type === 'user.interrupt'));
    });

    it('a budget stops the turn with budget_reached', async () => {
      const session = await h.client.beta.sessions.create({
        agent: agentId,
        environment_id: envId,
        budget: { type: 'limit', max_list_cost: { amount: '1', currency: 'USD' } },
      });
      h.model.setScript([
        { when: 'tools', usage: { input_tokens: 2_000_000, output_tokens: 10 }, tool_use: { name: 'Bash', input: { command: 'echo spend' } } },
        { when: 'tools', usage: { input_tokens: 2_000_000, output_tokens: 10 }, tool_use: { name: 'Bash', input: { command: 'echo spend more' } } },
        { when: 'tools', text: 'should not get here' },
      ]);
      const events = await turn(session.id, 'spend');
      assert.deepEqual(events.at(-1)!.stop_reason, { type: 'budget_reached' });
      assert.ok(events.some((e) => e.type === 'session.error'));
    });

    it('the maxTurns guard stops a runaway loop with a clear stop reason', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      h.model.setScript([{ when: 'tools', repeat: true, tool_use: { name: 'Bash', input: { command: 'echo again' } } }]);
      const events = await turn(session.id, 'loop forever');
      assert.deepEqual(events.at(-1)!.stop_reason, { type: 'max_turns', max_turns: 4 });
      const error = events.find((e) => e.type === 'session.error')!;
      assert.match((error.error as { message: string }).message, /max_turns/);
      assert.ok(events.filter((e) => e.type === 'agent.tool_use').length <= 4);

      // The session still works afterwards.
      h.model.setScript([{ when: 'tools', text: 'back to normal' }]);
      const next = await turn(session.id, 'stop looping');
      assert.deepEqual(next.at(-1)!.stop_reason, { type: 'end_turn' });
    });

    it('Bash in the sandbox cannot find the upstream key, while the upstream receives it', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      // The key is assembled inside the sandbox so that the command text (which
      // lands in the transcript and the event log) never contains it whole.
      const search = [
        `printf '%s%s' '${UPSTREAM_KEY.slice(0, 16)}' '${UPSTREAM_KEY.slice(16)}' > .needle`,
        'p=0; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -qaFf .needle "$f" 2>/dev/null && p=$((p+1)); done',
        'e=$(env | grep -caFf .needle)',
        'fs=$(grep -rlaFf .needle --exclude=.needle /etc /tmp "$HOME" "$PWD" "${CLAUDE_CONFIG_DIR:-/nonexistent}" 2>/dev/null | wc -l)',
        'echo "env=$e files=$fs proc=$p"; rm -f .needle',
      ].join('\n');
      h.model.setScript([
        { when: 'tools', tool_use: { name: 'Bash', input: { command: search } } },
        { when: 'tools', text: 'searched' },
      ]);
      const requestsBefore = h.model.messageRequests().length;
      const events = await turn(session.id, 'look for secrets');
      assert.equal(text(events.find((e) => e.type === 'agent.tool_result')!).trim(), 'env=0 files=0 proc=0');

      const upstream = h.model.messageRequests().slice(requestsBefore);
      assert.ok(upstream.length > 0);
      for (const r of upstream) assert.equal(r.headers['x-api-key'], UPSTREAM_KEY, 'the upstream receives the real key');

      const all = [];
      for await (const e of h.client.beta.sessions.events.list(session.id)) all.push(e);
      assert.equal(JSON.stringify(all).includes(UPSTREAM_KEY), false, 'no event holds the key');
    });

    it('another workspace sees nothing', async () => {
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: envId });
      const other = await h.newClient(`other-${backend}`);
      const listed = [];
      for await (const s of other.beta.sessions.list()) listed.push(s);
      assert.deepEqual(listed, []);
      await assert.rejects(other.beta.sessions.retrieve(session.id), Anthropic.NotFoundError);
      await assert.rejects(other.beta.sessions.events.list(session.id), Anthropic.NotFoundError);
      await assert.rejects(
        other.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }),
        Anthropic.NotFoundError,
      );
      await assert.rejects(other.beta.sessions.create({ agent: agentId, environment_id: envId }), Anthropic.NotFoundError);
      await assert.rejects(other.beta.sessions.delete(session.id), Anthropic.NotFoundError);
      assert.equal((await h.client.beta.sessions.retrieve(session.id)).id, session.id);
    });
  });
}
