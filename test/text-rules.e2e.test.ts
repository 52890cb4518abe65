import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { TEST_BACKENDS } from './helpers/harness.js';
import { startOps, type OpsServer } from './ops-helpers.js';

/**
 * What text is stored, the same on SQLite and PostgreSQL, through the
 * official client: NUL and unpaired surrogates nowhere; single-line fields
 * (names, titles, metadata, filenames, URLs) without control characters,
 * line breaks or bidi overrides; multi-line text (system prompts,
 * descriptions, messages) stored exactly as sent otherwise.
 */

const NUL = 'a\u0000b';
const LONE = 'a\ud800b';
const ESC = 'a\u001b[31mb';
const RLO = 'invoice\u202efdp.exe';
const CRLF = 'a\r\nb';
/** Multi-line text with everything it may hold besides plain characters. */
const PROSE = 'line one\r\nline two\n\ttabbed \u001b[1mbold\u001b[0m \u202eright-to-left\u202c \u0085 emoji 😀 end';

async function badRequest(what: string, call: () => Promise<unknown>, field: RegExp): Promise<void> {
  const error = await call().then(
    () => assert.fail(`${what}: accepted`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof Anthropic.BadRequestError, `${what}: ${String(error)}`);
  const message = (error.error as { error: { message: string } }).error.message;
  assert.match(message, field, `${what}: ${message}`);
}

for (const backend of TEST_BACKENDS) {
  describe(`text rules (${backend})`, { timeout: 120_000 }, () => {
    let h: OpsServer;
    let client: Anthropic;
    let agentId: string;
    let envId: string;
    let sessionId: string;

    before(async () => {
      h = await startOps({ backend });
      client = h.client;
      agentId = (await client.beta.agents.create({ name: 'texts', model: 'claude-sonnet-4-5' })).id;
      envId = (await client.beta.environments.create({ name: 'texts', config: { type: 'cloud' } })).id;
      sessionId = (await client.beta.sessions.create({ agent: agentId, environment_id: envId })).id;
    });
    after(() => h?.close());

    it('agents: single-line names and metadata, multi-line system prompts without NUL', async () => {
      const create = (body: Record<string, unknown>) => () => client.beta.agents.create({ name: 'ok', model: 'claude-sonnet-4-5', ...body } as never);
      for (const [name, value] of [['NUL', NUL], ['a lone surrogate', LONE], ['ESC', ESC], ['U+202E', RLO], ['CRLF', CRLF], ['U+0085', 'a\u0085b'], ['U+2028', 'a\u2028b']]) {
        await badRequest(`name with ${name}`, create({ name: value }), /^name: contains /);
        await badRequest(`metadata value with ${name}`, create({ metadata: { k: value } }), /^metadata\.k: contains /);
      }
      await badRequest('metadata key with ESC', create({ metadata: { [ESC]: 'v' } }), /^metadata: key "a\\u001b\[31mb" contains U\+001B/);
      await badRequest('metadata key with U+202E', create({ metadata: { [RLO]: 'v' } }), /^metadata: key "invoice\\u202efdp\.exe" contains U\+202E/);
      await badRequest('system with NUL', create({ system: NUL }), /^system: contains U\+0000/);
      await badRequest('system with a lone surrogate', create({ system: LONE }), /^system: contains an unpaired surrogate \(U\+D800\)/);
      await badRequest('description with NUL', create({ description: NUL }), /^description: contains U\+0000/);
      await badRequest('a tool schema with NUL', create({ tools: [{ type: 'custom', name: 't', description: 'd', input_schema: { type: 'object', properties: { [NUL]: {} } } }] }), /^tools\.0\.input_schema\.properties: a key contains U\+0000/);

      const agent = await client.beta.agents.create({ name: 'Ünïcode 名前 😀', model: 'claude-sonnet-4-5', system: PROSE, description: PROSE, metadata: { 'team-名': 'ops 😀' } });
      const read = await client.beta.agents.retrieve(agent.id);
      assert.equal(read.system, PROSE, 'the system prompt is stored exactly as sent');
      assert.equal(read.description, PROSE);
      assert.equal(read.name, 'Ünïcode 名前 😀');
      assert.deepEqual(read.metadata, { 'team-名': 'ops 😀' });
      await badRequest('update name with ESC', () => client.beta.agents.update(agent.id, { version: read.version, name: ESC }), /^name: contains U\+001B/);
      await badRequest('update metadata with CRLF', () => client.beta.agents.update(agent.id, { version: read.version, metadata: { k: CRLF } }), /^metadata\.k: contains U\+000D/);
      assert.equal((await client.beta.agents.retrieve(agent.id)).version, read.version, 'refused updates changed nothing');
    });

    it('environments: single-line names and metadata, multi-line descriptions', async () => {
      await badRequest('name with U+202E', () => client.beta.environments.create({ name: RLO }), /^name: contains U\+202E, a bidirectional control/);
      await badRequest('name with NUL', () => client.beta.environments.create({ name: NUL }), /^name: contains U\+0000/);
      await badRequest('metadata with ESC', () => client.beta.environments.create({ name: 'e', metadata: { k: ESC } }), /^metadata\.k: contains U\+001B/);
      const env = await client.beta.environments.create({ name: 'e', description: PROSE });
      assert.equal((await client.beta.environments.retrieve(env.id)).description, PROSE);
      await badRequest('update name with CRLF', () => client.beta.environments.update(env.id, { name: CRLF }), /^name: contains U\+000D/);
    });

    it('sessions and events: single-line titles and metadata; message text without NUL or lone surrogates', async () => {
      const create = (body: Record<string, unknown>) => () => client.beta.sessions.create({ agent: agentId, environment_id: envId, ...body } as never);
      await badRequest('title with CRLF', create({ title: CRLF }), /^title: contains U\+000D/);
      await badRequest('title with U+202E', create({ title: RLO }), /^title: contains U\+202E/);
      await badRequest('title with NUL', create({ title: NUL }), /^title: contains U\+0000/);
      await badRequest('metadata with ESC', create({ metadata: { k: ESC } }), /^metadata\.k: contains U\+001B/);
      await badRequest('metadata key with CRLF', create({ metadata: { [CRLF]: 'v' } }), /^metadata: key "a\\r\\nb" contains U\+000D/);
      await badRequest('update title with a lone surrogate', () => client.beta.sessions.update(sessionId, { title: LONE }), /^title: contains an unpaired surrogate/);
      const send = (text: string) => () => client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
      await badRequest('message text with NUL', send(NUL), /^events\.0\.content\.0\.text: contains U\+0000/);
      await badRequest('message text with a lone surrogate', send(LONE), /^events\.0\.content\.0\.text: contains an unpaired surrogate/);
      const events = await client.beta.sessions.events.list(sessionId);
      assert.ok(!events.data.some((e) => e.type === 'user.message'), 'nothing was appended');
      const titled = await client.beta.sessions.update(sessionId, { title: 'Ünïcode 😀 title', metadata: { 'k-名': 'v 😀' } });
      assert.equal((await client.beta.sessions.retrieve(titled.id)).title, 'Ünïcode 😀 title');
    });

    it('files: single-line filenames', async () => {
      for (const [name, value] of [['U+202E', RLO], ['ESC', ESC], ['NUL', NUL], ['U+0085', 'a\u0085b.txt']]) {
        await badRequest(`filename with ${name}`, async () => client.beta.files.upload({ file: await toFile(Buffer.from('x'), value) }), /^filename: contains /);
      }
      const file = await client.beta.files.upload({ file: await toFile(Buffer.from('x'), 'rapport été 😀.txt') });
      assert.equal(file.filename, 'rapport été 😀.txt');
      assert.equal((await client.beta.files.list()).data.filter((f) => f.filename !== 'rapport été 😀.txt').length, 0, 'refused uploads stored nothing');
    });

    it('triggers and webhooks: single-line schedules and URLs; templates and messages as sent, without NUL', async () => {
      const path = `/v1/sessions/${sessionId}/triggers`;
      await badRequest('schedule with a newline', () => client.post(path, { body: { type: 'cron', schedule: '0 * * * *\n', message: 'x' } }), /^schedule: contains U\+000A/);
      await badRequest('timezone with ESC', () => client.post(path, { body: { type: 'cron', schedule: '0 * * * *', timezone: ESC, message: 'x' } }), /^timezone: contains U\+001B/);
      await badRequest('message with NUL', () => client.post(path, { body: { type: 'cron', schedule: '0 * * * *', message: NUL } }), /^message: contains U\+0000/);
      await badRequest('template with NUL', () => client.post(path, { body: { type: 'webhook', message_template: NUL } }), /^message_template: contains U\+0000/);
      const cron = await client.post<{ id: string; message: string }>(path, { body: { type: 'cron', schedule: '0 * * * *', message: PROSE } });
      assert.equal(cron.message, PROSE);
      assert.equal((await client.get<{ message: string }>(`${path}/${cron.id}`)).message, PROSE);
      const hook = await client.post<{ id: string; message_template: string }>(path, { body: { type: 'webhook', message_template: PROSE } });
      assert.equal((await client.get<{ message_template: string }>(`${path}/${hook.id}`)).message_template, PROSE);
      await badRequest('webhook URL with ESC', () => client.post('/v1/webhooks', { body: { url: `https://example.com/${ESC}` } }), /^url: contains U\+001B/);
      await badRequest('webhook URL with U+202E', () => client.post('/v1/webhooks', { body: { url: `https://example.com/${RLO}` } }), /^url: contains U\+202E/);
    });
  });
}
