import { useState } from 'preact/hooks';
import type { ApiClient } from '../api/client';
import type { Session } from '../api/types';
import { useClient } from '../app/auth';
import { usePolling, useTitle } from '../app/hooks';
import { Link } from '../app/router';
import { BarChart } from '../components/bar-chart';
import { shortId, tokens, usageTotals, usd } from '../lib/format';
import { usagePerDay, type DayUsage, type SessionUsageInput } from '../lib/usage';

interface UsageData {
  sessions: Session[];
  days: DayUsage[];
  priced: boolean;
}

/** At most this many sessions are read (newest first); the page says so when it stops there. */
const MAX_SESSIONS = 500;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function loadUsage(client: ApiClient, window: number, signal: AbortSignal): Promise<UsageData> {
  const sessions = await client.listAll<Session>('/v1/sessions', { include_archived: true, limit: 100 }, MAX_SESSIONS, signal);
  const since = Date.now() - window * 86_400_000;
  // Only sessions active in the window have requests in it.
  const recent = sessions.filter((s) => Date.parse(s.updated_at) >= since - 86_400_000);
  const inputs = await mapLimit<Session, SessionUsageInput>(recent, 4, async (s) => ({
    id: s.id,
    created_at: s.created_at,
    costUsd: s.runtime?.cost?.total_usd,
    spans: await client.modelRequestEnds(s.id, signal),
  }));
  return { sessions, days: usagePerDay(inputs, window), priced: sessions.some((s) => s.runtime?.cost) };
}

/** Tokens and cost for the workspace: per day (chart) and per session (table). */
export function Usage() {
  useTitle('Usage');
  const client = useClient();
  const [window, setWindow] = useState(14);
  const usage = usePolling((signal) => loadUsage(client, window, signal), 30_000, [client, window]);
  const data = usage.data;

  const totals = (data?.sessions ?? []).reduce(
    (acc, s) => {
      const t = usageTotals(s.usage);
      return { input: acc.input + t.input, output: acc.output + t.output, usd: acc.usd + (s.runtime?.cost?.total_usd ?? 0) };
    },
    { input: 0, output: 0, usd: 0 },
  );
  const bySession = [...(data?.sessions ?? [])]
    .map((s) => ({ s, t: usageTotals(s.usage), cost: s.runtime?.cost?.total_usd }))
    .filter((r) => r.t.total > 0 || (r.cost ?? 0) > 0)
    .sort((a, b) => (b.cost ?? 0) - (a.cost ?? 0) || b.t.total - a.t.total);
  const maxSession = Math.max(0, ...bySession.map((r) => (data?.priced ? (r.cost ?? 0) : r.t.total))) || 1;

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Usage</h1>
        <div class="field field-inline">
          <label for="usage-window">Days</label>
          <select id="usage-window" value={String(window)} onChange={(e) => setWindow(Number((e.currentTarget as HTMLSelectElement).value))}>
            <option value="7">7</option>
            <option value="14">14</option>
            <option value="30">30</option>
          </select>
        </div>
        <button type="button" class="btn" onClick={usage.reload}>
          Refresh
        </button>
      </div>
      {usage.error && (
        <p class="banner banner-error" role="alert">
          {usage.error}
        </p>
      )}
      {!data ? (
        <p class="muted">{usage.loading ? 'Loading…' : ''}</p>
      ) : (
        <>
          <div class="stats">
            <div class="stat">
              <span class="stat-label">Cost</span>
              <span class="stat-value" data-testid="usage-total-cost">
                {data.priced ? usd(totals.usd) : '—'}
              </span>
              {!data.priced && <span class="muted small">this server reports no cost; tokens only</span>}
            </div>
            <div class="stat">
              <span class="stat-label">Input tokens</span>
              <span class="stat-value">{tokens(totals.input)}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Output tokens</span>
              <span class="stat-value">{tokens(totals.output)}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Sessions</span>
              <span class="stat-value">
                {data.sessions.length}
                {data.sessions.length >= MAX_SESSIONS ? '+' : ''}
              </span>
            </div>
          </div>

          {data.priced && (
            <section class="card">
              <BarChart
                title={`Cost per day (UTC), last ${window} days`}
                labels={data.days.map((d) => d.day.slice(5))}
                series={[{ key: 'usd', label: 'cost (tokens and sandbox)', className: 'fill-cost' }]}
                values={data.days.map((d) => [d.usd ?? 0])}
                format={(n) => (n > 0 && n < 1 ? `$${+n.toFixed(4)}` : usd(n))}
                height={200}
              />
              <p class="muted small">Each session’s cost is spread over the days of its model requests, in proportion to their tokens.</p>
            </section>
          )}
          <section class="card">
            <BarChart
              title={`Tokens per day (UTC), last ${window} days`}
              labels={data.days.map((d) => d.day.slice(5))}
              series={[
                { key: 'input', label: 'input', className: 'fill-input' },
                { key: 'output', label: 'output', className: 'fill-output' },
              ]}
              values={data.days.map((d) => [d.input, d.output])}
              format={tokens}
            />
          </section>

          <section class="card" aria-labelledby="per-session">
            <h2 id="per-session">Per session</h2>
            {bySession.length === 0 ? (
              <p class="muted">No usage yet.</p>
            ) : (
              <table class="table table-cards usage-table">
                <thead>
                  <tr>
                    <th scope="col">Session</th>
                    <th scope="col" class="num">
                      Input
                    </th>
                    <th scope="col" class="num">
                      Output
                    </th>
                    <th scope="col" class="num">
                      Cost
                    </th>
                    <th scope="col" class="bar-col">
                      <span class="visually-hidden">Share</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {bySession.map(({ s, t, cost }) => (
                    <tr key={s.id} data-session-id={s.id}>
                      <td data-label="Session">
                        <Link href={`/sessions/${s.id}`}>{s.title || shortId(s.id)}</Link>
                      </td>
                      <td data-label="Input" class="num">
                        {tokens(t.input)}
                      </td>
                      <td data-label="Output" class="num">
                        {tokens(t.output)}
                      </td>
                      <td data-label="Cost" class="num">
                        {cost !== undefined ? usd(cost) : '—'}
                      </td>
                      <td class="bar-col" aria-hidden="true">
                        <svg viewBox="0 0 100 8" preserveAspectRatio="none" class="minibar">
                          <rect width={(100 * (data.priced ? (cost ?? 0) : t.total)) / maxSession} height="8" rx="2" class="fill-input" />
                        </svg>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </main>
  );
}
