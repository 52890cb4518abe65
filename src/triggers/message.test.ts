import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TriggerRecord } from '../store/store.js';
import { cronContent, webhookContent } from './message.js';

const at = new Date('2025-01-06T08:00:00.000Z');

function trigger(kind: TriggerRecord['kind'], body: TriggerRecord['body']): TriggerRecord {
  return {
    id: 'trg_1',
    workspaceId: 'wrkspc_1',
    sessionId: 'sesn_1',
    seq: 1,
    kind,
    body,
    secret: kind === 'webhook' ? 'whsec_x' : null,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    lastFiredAt: null,
    nextFireAt: null,
    disabledAt: null,
    disabledReason: null,
  };
}

describe('trigger messages', () => {
  it('a cron text message follows a line naming the trigger, its schedule and the fire time', () => {
    const t = trigger('cron', { schedule: '0 9 * * 1-5', timezone: 'Europe/Berlin', message: 'Standup notes, please.' });
    assert.deepEqual(cronContent(t, at), [
      { type: 'text', text: '[trigger trg_1: cron "0 9 * * 1-5" (Europe/Berlin) fired at 2025-01-06T08:00:00.000Z]\nStandup notes, please.' },
    ]);
  });

  it('cron content blocks follow the header as their own block', () => {
    const blocks = [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }];
    const content = cronContent(trigger('cron', { schedule: '* * * * *', timezone: 'UTC', message: blocks }), at);
    assert.deepEqual(content, [{ type: 'text', text: '[trigger trg_1: cron "* * * * *" (UTC) fired at 2025-01-06T08:00:00.000Z]' }, ...blocks]);
  });

  it('a webhook body replaces every {{body}} in the template, verbatim', () => {
    const t = trigger('webhook', { message_template: 'Got {{body}} (again: {{body}})' });
    const body = '{"a":"$& $1 $$"}';
    assert.deepEqual(webhookContent(t, at, body), [
      { type: 'text', text: `[trigger trg_1: webhook delivery received at 2025-01-06T08:00:00.000Z]\nGot ${body} (again: ${body})` },
    ]);
  });

  it('the default template', () => {
    const [block] = webhookContent(trigger('webhook', {}), at, 'ping') as { text: string }[];
    assert.equal(block!.text, '[trigger trg_1: webhook delivery received at 2025-01-06T08:00:00.000Z]\nWebhook received:\nping');
  });
});
