import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { startOps, type OpsServer } from './ops-helpers.js';

/**
 * A cron trigger may fire at most once a minute by default
 * (AGENTHOST_CRON_MIN_INTERVAL_S): a schedule whose next fires come closer
 * together is a 400 naming `schedule`, and nothing is stored.
 */
for (const backend of TEST_BACKENDS) {
  describe(`cron trigger minimum interval (${backend})`, { timeout: 120_000 }, () => {
    let h: OpsServer;
    let sessionId: string;

    before(async () => {
      h = await startOps({ backend });
      const agent = await h.client.beta.agents.create({ name: 'cron', model: 'claude-sonnet-4-5' });
      const env = await h.client.beta.environments.create({ name: 'cron', config: { type: 'cloud' } });
      sessionId = (await h.client.beta.sessions.create({ agent: agent.id, environment_id: env.id })).id;
    });
    after(() => h?.close());

    const create = (schedule: string) => h.client.post<{ id: string; schedule: string }>(`/v1/sessions/${sessionId}/triggers`, { body: { type: 'cron', schedule, message: 'tick' } });

    it('refuses schedules that fire more often than once every 60 s', async () => {
      for (const [schedule, gap] of [
        ['* * * * * *', 1],
        ['*/30 * * * * *', 30],
        ['0,59 * * * * *', 1],
        ['0,10 * 3 * * *', 10],
      ] as const) {
        const error = await create(schedule).then(
          () => assert.fail(`accepted ${schedule}`),
          (e: unknown) => e,
        );
        assert.ok(error instanceof Anthropic.BadRequestError, `${schedule}: ${String(error)}`);
        const message = (error.error as { error: { message: string } }).error.message;
        assert.match(message, /^schedule: /, schedule);
        assert.match(message, new RegExp(`fires ${gap} s apart; a cron trigger may fire at most once every 60 s`), schedule);
      }
      const listed = await h.client.get<{ data: unknown[] }>(`/v1/sessions/${sessionId}/triggers`);
      assert.deepEqual(listed.data, [], 'nothing was stored');
    });

    it('accepts schedules of one minute and longer', async () => {
      for (const schedule of ['* * * * *', '15 * * * * *', '0 9 * * 1-5', '@hourly']) {
        const trigger = await create(schedule);
        assert.equal(trigger.schedule, schedule);
        await h.client.delete(`/v1/sessions/${sessionId}/triggers/${trigger.id}`);
      }
    });
  });
}
