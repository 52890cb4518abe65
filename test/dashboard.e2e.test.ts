import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { createApiKey } from '../src/api/auth.js';
import { CONSOLE_DIST } from '../src/api/routes/console.js';
import { startE2E, waitFor, type AnyEvent, type E2E } from './helpers/e2e.js';

/**
 * The web console in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real agenthost: real store, the Claude Code CLI
 * in bwrap, the scripted model upstream. Everything the console does goes
 * through the public API with the key typed into its sign-in form.
 * Screenshots of the main screens land in test-output/screenshots/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const UI_TIMEOUT = 90_000;
/**
 * How far a shown cost may trail the API's: a live sandbox keeps costing
 * ($0.05 an hour by default), and the session view rereads the session at
 * most every 15 s. A minute of sandbox time is about $0.0008.
 */
const SANDBOX_DRIFT = 0.001;

describe('web console (sqlite, bwrap, chromium)', { timeout: 900_000 }, () => {
  let h: E2E;
  let key: string;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;
  let sessionId: string;
  let envId: string;
  /** A second session, started later from the API while the console watches the list. */
  let probeId: string;
  const requests: string[] = [];
  const pageErrors: string[] = [];

  async function newContext(viewport: { width: number; height: number }): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
    context.on('request', (r) => requests.push(r.url()));
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e.message)));
    return context;
  }

  async function shot(p: Page, name: string): Promise<void> {
    await p.evaluate('window.scrollTo(0, 0)');
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, animations: 'disabled' });
  }

  async function signIn(p: Page, withKey: string): Promise<void> {
    await p.goto(`${h.server.url}/`);
    await p.getByLabel('Workspace API key').fill(withKey);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    assert.ok(existsSync(join(CONSOLE_DIST, 'index.html')), 'web/dist is missing: run `npm run build:web` (npm test does)');
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install.sh installs Debian's chromium`);
    await mkdir(SHOTS, { recursive: true });
    h = await startE2E({ backend: 'sqlite', maxTurns: 6 });
    // A second key of the e2e workspace, so the API client and the console see the same data.
    key = (await createApiKey(h.server.store, 'e2e')).key;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
    });
    desktop = await newContext(DESKTOP);
    page = await desktop.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('serves the console at / with a long cache for hashed assets and index.html for client routes', async () => {
    // As a browser's page load asks for it (a client that does not accept HTML gets the API's 404).
    const index = await fetch(`${h.server.url}/sessions/anything`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html references a hashed script');
    const js = await fetch(`${h.server.url}${asset}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    // API paths keep the API's own 404, and the page needs no key.
    const api404 = await fetch(`${h.server.url}/v1/nothing-here`);
    assert.equal(api404.status, 404);
    assert.equal(((await api404.json()) as { error: { type: string } }).error.type, 'not_found_error');
    assert.equal((await fetch(`${h.server.url}/assets/missing-file.js`)).status, 404);
  });

  it('refuses a wrong key with a visible message', async () => {
    await page.goto(`${h.server.url}/`);
    await shot(page, 'desktop-01-sign-in');
    await signIn(page, 'sk-ah-not-a-real-key');
    const error = page.locator('#api-key-error');
    await error.waitFor();
    assert.match(await error.innerText(), /refused.*invalid x-api-key/i);
    assert.equal(await page.getByRole('heading', { name: 'Sessions' }).count(), 0, 'still on the sign-in screen');
    await shot(page, 'desktop-02-sign-in-refused');
  });

  it('signs in and creates an agent through the form, showing the API’s validation error next to the field', async () => {
    await page.getByLabel('Workspace API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(await page.evaluate<number>('Object.keys(localStorage).length'), 0, 'nothing in localStorage');
    assert.ok(await page.evaluate<boolean>("Object.values(sessionStorage).some((v) => v.startsWith('sk-ah-'))"), 'the key is in sessionStorage');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('link', { name: 'New agent' }).click();
    await page.getByLabel('Name', { exact: true }).fill('careful');
    await page.getByLabel('Model').fill('bad model!');
    await page.getByLabel('bash permission').selectOption('always_ask');
    await page.getByRole('button', { name: 'Create agent' }).click();
    const modelError = page.locator('#model-error');
    await modelError.waitFor();
    assert.match(await modelError.innerText(), /must be a model id/);
    assert.equal(await page.getByLabel('Model').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Model').getAttribute('aria-describedby'), 'model-error');
    await shot(page, 'desktop-03-agent-form-error');

    await page.getByLabel('Model').fill('claude-sonnet-4-5');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page.getByRole('heading', { name: 'Edit careful' }).waitFor();
    const agents = (await h.client.beta.agents.list()).data;
    const careful = agents.find((a) => a.name === 'careful');
    assert.ok(careful, 'the agent exists');
    const toolset = careful.tools.find((t) => t.type === 'agent_toolset_20260401') as { configs: Array<{ name: string; permission_policy: { type: string } }> };
    assert.equal(toolset.configs.find((c) => c.name === 'bash')?.permission_policy.type, 'always_ask');
    assert.equal(toolset.configs.find((c) => c.name === 'read')?.permission_policy.type, 'always_allow');

    // Editing bumps the version.
    await page.getByLabel('Description (optional)').fill('asks before running commands');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved as version 2.').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('link', { name: 'careful' }).waitFor();
    await shot(page, 'desktop-04-agents');
  });

  it('creates an environment through the form, with the validation error next to the field', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('link', { name: 'New environment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('sandboxed');
    await page.getByLabel('Memory (MiB)').fill('100');
    await page.getByRole('button', { name: 'Create environment' }).click();
    const memoryError = page.locator('#memory_mib-error');
    await memoryError.waitFor();
    assert.match(await memoryError.innerText(), />=\s*256/);
    await shot(page, 'desktop-05-environment-form-error');

    await page.getByLabel('Memory (MiB)').fill('1024');
    await page.getByRole('button', { name: 'Create environment' }).click();
    await page.getByRole('heading', { name: 'Edit sandboxed' }).waitFor();
    const env = (await h.client.beta.environments.list()).data.find((e) => e.name === 'sandboxed');
    assert.ok(env);
    envId = env.id;
    assert.equal(sandboxOf(env).memory_mib, 1024);
  });

  it('edits an environment through its form: a refused value is shown next to its field and saves nothing, a valid edit is saved', async () => {
    assert.equal(new URL(page.url()).pathname, `/environments/${envId}`);
    const cpus = page.getByLabel('CPUs');
    const originalCpus = await cpus.inputValue();
    assert.equal(Number(originalCpus), sandboxOf(await h.client.beta.environments.retrieve(envId)).cpus, 'the form shows the saved CPUs');
    assert.equal(await page.getByLabel('Memory (MiB)').inputValue(), '1024');

    // Two changes, one the API refuses: the error sits under its field and nothing is saved.
    await page.getByLabel('Memory (MiB)').fill('1536');
    await cpus.fill('0.125');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const cpusError = page.locator('#cpus-error');
    await cpusError.waitFor();
    assert.match(await cpusError.innerText(), /at most two decimals/);
    assert.equal(await cpus.getAttribute('aria-invalid'), 'true');
    assert.equal(await cpus.getAttribute('aria-describedby'), 'cpus-error');
    assert.equal(await page.locator('[data-field-error]').count(), 1, 'only the CPUs field has an error');
    assert.equal(await page.getByText('Saved.', { exact: true }).count(), 0);
    assert.equal(sandboxOf(await h.client.beta.environments.retrieve(envId)).memory_mib, 1024, 'the refused edit saved nothing');
    await shot(page, 'desktop-06-environment-edit-error');

    await cpus.fill(originalCpus);
    await page.getByLabel('Description (optional)').fill('bwrap with 1.5 GiB');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.', { exact: true }).waitFor();
    assert.equal(await cpusError.count(), 0, 'the error is gone');
    const saved = await h.client.beta.environments.retrieve(envId);
    assert.equal(sandboxOf(saved).memory_mib, 1536);
    assert.equal(sandboxOf(saved).cpus, Number(originalCpus));
    assert.equal(saved.description, 'bwrap with 1.5 GiB');
    assert.equal(saved.name, 'sandboxed');
    // The form shows what the API returned.
    assert.equal(await page.getByLabel('Memory (MiB)').inputValue(), '1536');
    await shot(page, 'desktop-07-environment-edited');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments' }).click();
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'sandboxed' }) });
    await row.waitFor();
    assert.match(await row.locator('[data-label="Limits"]').innerText(), /^1536 MiB/);
    assert.match(await row.innerText(), /bwrap with 1\.5 GiB/);
    await shot(page, 'desktop-08-environments');
  });

  it('starts a session; an always_ask call waits, is allowed from the session view, and the tool output and reply stream in', async () => {
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'echo allowed-by-console > allowed.txt && cat allowed.txt' } } },
      { when: 'tools', text: 'Wrote allowed.txt.' },
      { when: 'tools', tool_use: { name: 'Bash', input: { command: 'touch denied.txt' } } },
      { when: 'tools', text: 'Understood, I did not.' },
    ]);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('link', { name: 'New session' }).click();
    await page.getByLabel('Agent').selectOption({ label: 'careful (v2)' });
    await page.getByLabel('Environment').selectOption({ label: 'sandboxed' });
    await page.getByLabel('Title (optional)').fill('console e2e');
    await page.getByLabel('First message (optional)').fill('write allowed.txt');
    await shot(page, 'desktop-09-new-session');
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL(/\/sessions\/sesn_/);
    sessionId = new URL(page.url()).pathname.split('/').pop()!;

    const approval = page.locator('.approvals .confirm');
    await approval.waitFor();
    assert.match(await approval.innerText(), /echo allowed-by-console > allowed\.txt/);
    await page.locator('.stream-live').waitFor();
    await shot(page, 'desktop-10-session-waiting-for-approval');
    await approval.getByRole('button', { name: 'Allow' }).click();

    await page.locator('.msg-agent', { hasText: 'Wrote allowed.txt.' }).waitFor();
    const tool = page.locator('article.tool').first();
    await tool.locator('.tool-output pre', { hasText: 'allowed-by-console' }).waitFor();
    assert.match(await tool.innerText(), /Allowed by you/);
    await page.locator('.status-line', { hasText: 'turn ended' }).waitFor();
    assert.equal(await page.locator('.approvals').count(), 0, 'nothing pending any more');
    assert.ok(existsSync(join(h.dataDir, 'sessions', sessionId, 'workspace', 'allowed.txt')));
  });

  it('a second always_ask call stands out in the sessions list, whose cells, filters and search work, and is denied there with a message', async () => {
    await page.getByLabel('Message').fill('now create denied.txt');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.approvals .confirm', { hasText: 'touch denied.txt' }).waitFor();
    // A second session that never ran, for the filters to tell apart.
    const careful = (await h.client.beta.agents.list()).data.find((a) => a.name === 'careful')!;
    probeId = (await h.client.beta.sessions.create({ agent: careful.id, environment_id: envId, title: 'filter probe' })).id;

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    const row = page.locator(`tr[data-session-id="${sessionId}"]`);
    const probeRow = page.locator(`tr[data-session-id="${probeId}"]`);
    await row.locator('.badge-ask', { hasText: 'needs approval' }).waitFor();
    await probeRow.waitFor();
    assert.match((await row.getAttribute('class')) ?? '', /row-ask/);
    assert.doesNotMatch((await probeRow.getAttribute('class')) ?? '', /row-ask/);
    const card = page.locator('.approvals .confirm', { hasText: 'touch denied.txt' });
    await card.waitFor();

    // Every cell of both rows, against the API.
    const api = await sessionJson(h, sessionId);
    assert.ok(api.runtime.pattern, 'the API names a lifecycle pattern');
    assert.equal(await cell(row, 'Status').innerText(), 'needs approval');
    assert.equal(await cell(row, 'Pattern').innerText(), api.runtime.pattern);
    assert.equal(await cell(row, 'Agent').innerText(), 'careful');
    assert.equal(await cell(row, 'Environment').innerText(), 'sandboxed');
    assertAge(await cell(row, 'Age').innerText(), api.created_at);
    await eventually('the Sandbox cell to show the API’s sandbox_state', async () => {
      const [shown, state] = [await cell(row, 'Sandbox').innerText(), (await sessionJson(h, sessionId)).runtime.sandbox_state];
      return shown === state && state !== 'destroyed' ? undefined : `shown ${shown}, API ${state}`;
    });
    await eventually('the Cost cell to show the API’s cost', async () => {
      const shown = await cell(row, 'Cost').innerText();
      const cost = (await sessionJson(h, sessionId)).runtime.cost;
      const [usd] = dollars(shown);
      return usd !== undefined && usd > 0 && cost.total_usd > 0 && near(usd, cost.total_usd, SANDBOX_DRIFT) ? undefined : `shown ${shown}, API ${JSON.stringify(cost)}`;
    });
    const probe = await sessionJson(h, probeId);
    assert.deepEqual(
      await Promise.all(['Status', 'Pattern', 'Sandbox', 'Agent', 'Environment', 'Cost'].map((label) => cell(probeRow, label).innerText())),
      ['idle', probe.runtime.pattern, 'destroyed', 'careful', 'sandboxed', '$0'],
    );
    assertAge(await cell(probeRow, 'Age').innerText(), probe.created_at);
    await shot(page, 'desktop-11-sessions-needs-approval');

    // The status filter: "Needs approval" is the console's own, the others the API's `statuses`.
    const status = page.locator('#filter-status');
    const noMatch = page.getByText('No session matches these filters.');
    await status.selectOption({ label: 'Needs approval' });
    await probeRow.waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    assert.equal(await page.locator('tr[data-session-id]').count(), 1);
    await shot(page, 'desktop-12-sessions-filter-needs-approval');
    await status.selectOption({ label: 'Running' });
    await noMatch.waitFor();
    assert.equal(await page.locator('tr[data-session-id]').count(), 0);
    await status.selectOption({ label: 'Idle' });
    await probeRow.waitFor();
    await row.waitFor();
    await status.selectOption({ label: 'Terminated' });
    await noMatch.waitFor();
    await status.selectOption({ label: 'All statuses' });
    await row.waitFor();
    await probeRow.waitFor();

    // Search: by title (any case) or by a piece of the id, and together with the status filter.
    const search = page.locator('#filter-search');
    await search.fill('PROBE');
    await row.waitFor({ state: 'detached' });
    assert.equal(await probeRow.count(), 1);
    await shot(page, 'desktop-13-sessions-search');
    await search.fill(sessionId.slice(-8));
    await probeRow.waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    await search.fill('console');
    await status.selectOption({ label: 'Needs approval' });
    await row.waitFor();
    await search.fill('probe');
    await noMatch.waitFor();
    await search.fill('');
    await status.selectOption({ label: 'All statuses' });
    await row.waitFor();
    await probeRow.waitFor();

    await card.getByRole('button', { name: 'Deny…' }).click();
    await card.getByLabel('Message to the agent (optional)').fill('not from the console test');
    await card.getByRole('button', { name: 'Deny', exact: true }).click();
    // Answered: the list drops the card and the row's badge.
    await card.waitFor({ state: 'detached' });
    await row.locator('.badge-ask').waitFor({ state: 'detached' });

    await page.getByRole('link', { name: 'console e2e' }).click();
    await page.locator('.msg-agent', { hasText: 'Understood, I did not.' }).waitFor();
    const denied = page.locator('article.tool-denied');
    await denied.waitFor();
    assert.match(await denied.innerText(), /Denied by you: “not from the console test”/);
    assert.match(await denied.locator('.tool-output pre').innerText(), /not from the console test/);
    assert.equal(existsSync(join(h.dataDir, 'sessions', sessionId, 'workspace', 'denied.txt')), false);

    // Every event is on the page once, in the API's order: compared once the
    // turn has ended, so no event lands between reading the log and the page.
    await waitFor('the turn to end', async () => ((await h.client.beta.sessions.retrieve(sessionId)).status === 'idle' ? true : undefined), 30_000);
    const expected = await displayedIds(h, sessionId);
    await waitFor('all events on the page', async () => ((await page.locator('[data-event-id]').count()) === expected.length ? true : undefined), 30_000);
    assert.deepEqual(await page.locator('[data-event-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id'))), expected);
    assert.equal(await page.locator('.msg-user').count(), 2);
    await shot(page, 'desktop-14-session');
  });

  it('a row changes state without a reload, and a failed turn shows its session.error in the session view', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    const probeRow = page.locator(`tr[data-session-id="${probeId}"]`);
    await probeRow.waitFor();
    assert.equal(await cell(probeRow, 'Status').innerText(), 'idle');
    assert.equal(await cell(probeRow, 'Cost').innerText(), '$0');
    // A reload would drop this.
    await page.evaluate('window.sameDocument = true');

    // A model that never stops calling a tool: the turn runs for a while (each request takes
    // 1.5 s) and then fails on the server's max_turns guard (6 here) with a session.error. (An
    // upstream error status would not do: Claude Code turns it into an agent message.)
    h.model.setScript([{ when: 'tools', delayMs: 1_500, tool_use: { name: 'Read', input: { file_path: '/tmp/nothing-here.txt' } }, repeat: true }]);
    await h.client.beta.sessions.events.send(probeId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'read forever' }] }] });
    await probeRow.locator('td[data-label="Status"]', { hasText: /^running$/ }).waitFor();
    await shot(page, 'desktop-15-sessions-live-update');
    await waitFor('the failed turn to end', async () => ((await sessionJson(h, probeId)).status === 'idle' ? true : undefined), 120_000);
    await probeRow.locator('td[data-label="Status"]', { hasText: /^idle$/ }).waitFor();
    await eventually('the probe row’s Cost cell to show its sandbox time', async () => {
      const shown = await cell(probeRow, 'Cost').innerText();
      const cost = (await sessionJson(h, probeId)).runtime.cost;
      const [usd] = dollars(shown);
      return usd !== undefined && usd > 0 && near(usd, cost.total_usd, SANDBOX_DRIFT) ? undefined : `shown ${shown}, API ${JSON.stringify(cost)}`;
    });
    assert.equal(await page.evaluate<unknown>('window.sameDocument'), true, 'the list updated in place, without a reload');

    const events: AnyEvent[] = [];
    for await (const e of h.client.beta.sessions.events.list(probeId)) events.push(e as unknown as AnyEvent);
    const apiError = events.find((e) => e.type === 'session.error') as (AnyEvent & { error: { type: string; message: string } }) | undefined;
    assert.ok(apiError, `the failed turn has a session.error; events: ${events.map((e) => e.type).join(', ')}`);
    assert.equal(apiError.error.type, 'tool_use_limit_reached_error');

    await probeRow.getByRole('link', { name: 'filter probe' }).click();
    await page.waitForURL(`**/sessions/${probeId}`);
    const shown = page.locator(`.transcript [data-event-id="${apiError.id}"]`);
    await shown.waitFor();
    assert.match((await shown.getAttribute('class')) ?? '', /event-error/);
    const text = await shown.innerText();
    // In words: "Error: tool use limit reached." and the API's message, whole.
    assert.ok(apiError.error.message.length > 0);
    assert.ok(text.startsWith('Error: tool use limit reached. '), `the error's type, in words: ${text}`);
    assert.ok(text.includes(apiError.error.message), `the error's message is shown whole: ${text}`);
    assert.doesNotMatch(text, /[{}]|\[object|undefined/, 'no raw JSON or placeholders');
    assert.equal(await shown.getAttribute('role'), 'note');
    // It reads after the message that caused it, and the stop line says the turn is over.
    const ids = await page.locator('.transcript [data-event-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id')));
    const userMessage = events.find((e) => e.type === 'user.message')!;
    assert.ok(ids.indexOf(userMessage.id) < ids.indexOf(apiError.id), 'the error follows the user message');
    assert.match(await page.locator('.transcript .status-line.status-idle').last().innerText(), /stopped after 6 model turns/);
    assert.deepEqual(ids, await displayedIds(h, probeId), 'the transcript is the API’s');
    await shot(page, 'desktop-16-session-error');
  });

  it('reconnects after a dropped stream with Last-Event-ID, losing and duplicating nothing', async () => {
    const all: AnyEvent[] = [];
    for await (const e of h.client.beta.sessions.events.list(sessionId)) all.push(e as unknown as AnyEvent);
    assert.ok(all.length > 10);
    const sse = (events: AnyEvent[]) => events.map((e) => `event: ${e.type}\nid: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`).join('');
    const streamHeaders: Array<string | undefined> = [];
    // A new tab: sessionStorage is per tab, so it signs in first.
    const reconnecting = await desktop.newPage();
    reconnecting.setDefaultTimeout(UI_TIMEOUT);
    await signIn(reconnecting, key);
    await reconnecting.getByRole('heading', { name: 'Sessions' }).waitFor();
    // The history listing returns only the first events, and the first stream
    // sends a few more (one of them again) and then drops.
    await reconnecting.route(`**/v1/sessions/${sessionId}/events?*`, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { data: AnyEvent[] };
      await route.fulfill({ response: res, json: { ...body, data: all.slice(0, 3), next_page: null, has_more: false } });
    });
    await reconnecting.route(`**/v1/sessions/${sessionId}/events/stream`, async (route) => {
      streamHeaders.push(route.request().headers()['last-event-id']);
      if (streamHeaders.length === 1) {
        await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `: ping\n\n${sse(all.slice(2, 7))}` });
      } else await route.continue();
    });
    await reconnecting.goto(`${h.server.url}/sessions/${sessionId}`);
    const expected = await displayedIds(h, sessionId);
    await waitFor('the replayed transcript', async () => ((await reconnecting.locator('[data-event-id]').count()) >= expected.length ? true : undefined), 30_000);
    await reconnecting.locator('.stream-live').waitFor();
    assert.deepEqual(streamHeaders.slice(0, 2), [all[2]!.id, all[6]!.id], 'the first stream resumes after the listing, the reconnect after the last event delivered');
    assert.deepEqual(await reconnecting.locator('[data-event-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id'))), expected);
    await reconnecting.close();
  });

  it('shows a real cost, consistent with the API, on the session, the sessions list and the Usage screen', async () => {
    const session = await sessionJson(h, sessionId);
    assert.ok(session.usage.output_tokens > 0);
    const cost = session.runtime.cost;
    assert.ok(cost, 'the server prices every session');
    assert.ok(cost.tokens_usd > 0, `tokens are priced: ${JSON.stringify(cost)}`);
    assert.ok(cost.total_usd >= cost.tokens_usd);

    // The session view: the total and its split, each a dollar amount matching the API.
    await page.goto(`${h.server.url}/sessions/${sessionId}`);
    const facts = page.locator('[data-testid="session-cost"]');
    await facts.filter({ hasText: '$' }).waitFor();
    await eventually('the session view’s cost to match the API', async () => {
      const text = await facts.innerText();
      const [total, tokensUsd, sandboxUsd] = dollars(text);
      const c = (await sessionJson(h, sessionId)).runtime.cost;
      const ok =
        total !== undefined && tokensUsd !== undefined && sandboxUsd !== undefined &&
        total > 0 && near(total, c.total_usd, SANDBOX_DRIFT) && near(tokensUsd, c.tokens_usd) && near(sandboxUsd, c.sandbox_usd, SANDBOX_DRIFT);
      return ok ? undefined : `shown “${text}”, API ${JSON.stringify(c)}`;
    });
    assert.match(await facts.innerText(), /^\$[\d.]+ \(\$[\d.]+ tokens, <?\$[\d.]+ sandbox\)$/);
    assert.match(await page.locator('[data-testid="session-tokens"]').innerText(), /in · \d+ out/);

    // The Usage screen: its total is the workspace's, read between two API sums (sandboxes keep costing).
    const before = await workspaceCost(h);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Per session' }).waitFor();
    const totalText = await page.locator('[data-testid="usage-total-cost"]').innerText();
    const after = await workspaceCost(h);
    assert.match(totalText, /^\$\d/);
    const [total] = dollars(totalText);
    assert.ok(total! > 0);
    assert.ok(total! >= before - tolerance(before) && total! <= after + tolerance(after), `Usage shows ${totalText}; the API's sum went from ${before} to ${after}`);

    // The session's own row, and the cost chart: drawn, and its values (the table under it) add up to the total.
    const usageRow = page.locator(`.usage-table tr[data-session-id="${sessionId}"]`);
    await usageRow.waitFor();
    const [rowCost] = dollars(await cell(usageRow, 'Cost').innerText());
    assert.ok(rowCost !== undefined && near(rowCost, (await sessionJson(h, sessionId)).runtime.cost.total_usd, SANDBOX_DRIFT), `per-session cost ${rowCost}`);
    const costChart = page.locator('figure.chart', { hasText: 'Cost per day' });
    const bars = costChart.locator('svg[role="img"] rect.fill-cost');
    assert.ok((await bars.count()) >= 1, 'a cost bar is drawn');
    assert.ok(Number(await bars.first().getAttribute('height')) > 0);
    const perDay = (await costChart.locator('.chart-table tbody td').evaluateAll((tds) => tds.map((td) => td.textContent ?? ''))).flatMap(dollars);
    const chartSum = perDay.reduce((a, b) => a + b, 0);
    assert.ok(chartSum > 0 && Math.abs(chartSum - total!) <= tolerance(total!) + 0.0001 * perDay.length, `the chart's days add up to ${chartSum}, the total is ${total}`);
    // Today's tokens are drawn too.
    assert.ok((await page.locator('.chart svg[role="img"] rect.fill-input').count()) >= 1);
    assert.ok((await page.locator('.chart svg[role="img"] rect.fill-output').count()) >= 1);
    await shot(page, 'desktop-17-usage');
  });

  it('works at phone width: every main screen fits without sideways scrolling', async () => {
    const phone = await newContext(PHONE);
    const p = await phone.newPage();
    p.setDefaultTimeout(UI_TIMEOUT);
    await p.goto(`${h.server.url}/`);
    await shot(p, 'phone-01-sign-in');
    await signIn(p, key);
    const screens: Array<[string, string, () => Promise<unknown>]> = [
      ['phone-02-sessions', '/sessions', () => p.locator(`tr[data-session-id="${sessionId}"]`).waitFor()],
      ['phone-03-session', `/sessions/${sessionId}`, () => p.locator('.msg-agent', { hasText: 'Understood' }).waitFor()],
      ['phone-04-agents', '/agents', () => p.getByRole('link', { name: 'careful' }).waitFor()],
      ['phone-05-agent-form', '/agents/new', () => p.getByLabel('Model').waitFor()],
      ['phone-06-environments', '/environments', () => p.getByRole('link', { name: 'sandboxed' }).waitFor()],
      ['phone-07-environment-form', '/environments/new', () => p.getByLabel('Memory (MiB)').waitFor()],
      ['phone-08-environment-edit', `/environments/${envId}`, () => p.getByRole('heading', { name: 'Edit sandboxed' }).waitFor()],
      ['phone-09-new-session', '/sessions/new', () => p.getByLabel('First message (optional)').waitFor()],
      ['phone-10-usage', '/usage', () => p.locator('.chart svg[role="img"] rect.fill-cost').first().waitFor()],
      ['phone-11-session-error', `/sessions/${probeId}`, () => p.locator('.event-error').waitFor()],
    ];
    await p.getByRole('heading', { name: 'Sessions' }).waitFor();
    for (const [name, path, ready] of screens) {
      await p.goto(`${h.server.url}${path}`);
      await ready();
      const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 390px`);
      await shot(p, name);
    }
    await phone.close();
  });

  it('is keyboard reachable: skip link, navigation and actions take focus in order', async () => {
    await page.goto(`${h.server.url}/sessions`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content');
    const focused: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate<string>('`${document.activeElement.tagName}:${document.activeElement.textContent.trim() || document.activeElement.id}`'));
    }
    assert.deepEqual(focused.slice(0, 7), ['A:agenthost', 'A:Sessions', 'A:Agents', 'A:Environments', 'A:Usage', 'BUTTON:Sign out', 'A:New session']);
    // The focus ring is visible.
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    assert.equal(outline, 'solid');
    // Enter on a focused link navigates.
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'New session' }).waitFor();
  });

  it('interrupts a running tool and archives the session from the session view', async () => {
    const marker = `timeout 40.${Date.now() % 1000}`;
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: `${marker} tail -f /dev/null; echo finished` } } },
      { when: 'tools', text: 'after the wait' },
    ]);
    await page.goto(`${h.server.url}/sessions/${sessionId}`);
    await page.getByLabel('Message').fill('wait a while');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.approvals .confirm', { hasText: marker }).getByRole('button', { name: 'Allow' }).click();
    await page.locator('article.tool-running', { hasText: marker }).waitFor();
    await page.waitForTimeout(1_500); // let the tool start
    const interrupt = page.getByRole('button', { name: 'Interrupt' });
    assert.equal(await interrupt.isEnabled(), true);
    const started = Date.now();
    await interrupt.click();
    await page.locator('.status-line', { hasText: 'interrupted by you' }).waitFor();
    await page.locator('.status-line', { hasText: 'turn ended' }).nth(2).waitFor();
    assert.ok(Date.now() - started < 30_000, 'the 40-second tool was stopped');
    assert.equal(await interrupt.isDisabled(), true, 'nothing runs any more');

    await page.getByRole('button', { name: 'Archive…' }).click();
    await page.getByRole('button', { name: /^Archive: stop/ }).click();
    await page.locator('.page-head .badge', { hasText: 'terminated' }).waitFor();
    await page.getByText('This session has ended').waitFor();
    assert.equal(await page.getByLabel('Message').count(), 0, 'no message box on an ended session');
    const archived = await h.client.beta.sessions.retrieve(sessionId);
    assert.ok(archived.archived_at);
    assert.equal(archived.status, 'terminated');
  });

  it('pages the sessions list beyond its first page with Show more', async () => {
    const environment = await h.client.beta.environments.create({ name: 'paging', config: { type: 'cloud' } });
    const agent = await h.client.beta.agents.create({ name: 'paging', model: 'claude-sonnet-4-5' });
    const total = (await h.client.beta.sessions.list({ limit: 100 })).data.length;
    const created: string[] = [];
    // More than one page of the console's list (50), none started: no message, no sandbox.
    for (let i = 0; i < 55; i++) created.push((await h.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: `paged ${i}` })).id);
    await page.goto(`${h.server.url}/sessions`);
    const rows = page.locator('tr[data-session-id]');
    await page.locator(`tr[data-session-id="${created.at(-1)}"]`).waitFor();
    assert.equal(await rows.count(), 50, 'one page');
    assert.equal(await page.locator(`tr[data-session-id="${created[0]}"]`).count(), 0, 'the oldest new session is on the next page');
    await page.getByRole('button', { name: /^Show more/ }).click();
    await page.locator(`tr[data-session-id="${created[0]}"]`).waitFor();
    assert.equal(await rows.count(), Math.min(100, total + 55), 'two pages');
    await shot(page, 'desktop-18-sessions-more');
  });

  it('made no request beyond its own origin, and the page raised no errors', () => {
    const origin = new URL(h.server.url).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    assert.ok(requests.some((u) => u.includes('/v1/sessions')), 'the console used the API');
    assert.deepEqual(pageErrors, []);
  });
});

/** The ids the transcript shows: every event but spans, tool results and confirmations (shown inside their call). */
async function displayedIds(h: E2E, sessionId: string): Promise<string[]> {
  const hidden = new Set(['agent.tool_result', 'agent.mcp_tool_result', 'user.custom_tool_result', 'user.tool_confirmation']);
  const out: string[] = [];
  let previous = '';
  for await (const raw of h.client.beta.sessions.events.list(sessionId)) {
    const e = raw as unknown as AnyEvent;
    if (e.type.startsWith('span.') || hidden.has(e.type)) continue;
    // Consecutive thinking shows as one line.
    if (!(e.type === 'agent.thinking' && previous === 'agent.thinking')) out.push(e.id);
    previous = e.type;
  }
  return out;
}

interface SessionJson {
  status: string;
  created_at: string;
  usage: { output_tokens: number };
  runtime: { pattern?: string; sandbox_state?: string; cost: { tokens_usd: number; sandbox_usd: number; total_usd: number } };
}

/** A session as the API returns it, with agenthost's `runtime` extension. */
async function sessionJson(h: E2E, id: string): Promise<SessionJson> {
  return (await h.client.beta.sessions.retrieve(id)) as unknown as SessionJson;
}

/** The sum of every session's `runtime.cost.total_usd` in the workspace, archived ones included. */
async function workspaceCost(h: E2E): Promise<number> {
  let sum = 0;
  for await (const s of h.client.beta.sessions.list({ include_archived: true, limit: 100 })) sum += (s as unknown as SessionJson).runtime.cost.total_usd;
  return sum;
}

function sandboxOf(env: { config: unknown }): { memory_mib: number; cpus: number } {
  return (env.config as { sandbox: { memory_mib: number; cpus: number } }).sandbox;
}

/** A table cell by its data-label (what phone widths show as the cell's heading). */
function cell(row: Locator, label: string): Locator {
  return row.locator(`td[data-label="${label}"]`);
}

/** The dollar amounts in a text, in order: "$0.21 ($0.20 tokens, <$0.0001 sandbox)" is [0.21, 0.2, 0.0001]. */
function dollars(text: string): number[] {
  return [...text.matchAll(/\$(\d[\d,]*(?:\.\d+)?)/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
}

/** How far the console's rounding of `usd` may be from it ("$0.0123" below a cent, "$1.23" above). */
function tolerance(usd: number): number {
  return usd < 0.01 ? 0.0001 : 0.005;
}

/** Whether a shown amount is `actual` as the console rounds it, allowing `drift` of further spending. */
function near(shown: number, actual: number, drift = 0): boolean {
  return shown >= actual - drift - tolerance(actual) - 1e-9 && shown <= actual + tolerance(actual) + 1e-9;
}

/** An "Age" cell ("12s", "3m") is the time since `createdAt`, give or take the list's refresh. */
function assertAge(shown: string, createdAt: string): void {
  const m = /^(\d+)([smhd])$/.exec(shown);
  assert.ok(m, `an age: ${shown}`);
  const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const actual = (Date.now() - Date.parse(createdAt)) / 1000;
  const unit = seconds / Number(m[1]) || 1;
  assert.ok(seconds <= actual + 1 && seconds >= actual - unit - 10, `age ${shown} for a session ${Math.round(actual)} s old`);
}

/** Retries `check` (undefined when satisfied, else what it saw) for up to `timeoutMs`; fails with the last observation. */
async function eventually(what: string, check: () => Promise<string | undefined>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await check();
    if (seen === undefined) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw ${seen}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
