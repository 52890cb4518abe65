import { useMemo, useState } from 'preact/hooks';
import { forgetPending, pendingFor } from '../api/pending';
import type { Environment, Session, SessionStatus, ToolUseEvent } from '../api/types';
import { useClient } from '../app/auth';
import { usePolling, useNow, useTitle } from '../app/hooks';
import { Link } from '../app/router';
import { ConfirmCard } from '../components/confirm-card';
import { SandboxBadge, StatusBadge } from '../components/status';
import { age, shortId, tokens, usageTotals, usd } from '../lib/format';

const STATUSES: Array<{ value: '' | SessionStatus | 'approval'; label: string }> = [
  { value: '', label: 'All statuses' },
  { value: 'approval', label: 'Needs approval' },
  { value: 'running', label: 'Running' },
  { value: 'idle', label: 'Idle' },
  { value: 'rescheduling', label: 'Rescheduling' },
  { value: 'terminated', label: 'Terminated' },
];

interface Row {
  session: Session;
  pending: ToolUseEvent[];
}

/** Sessions per page of the list; "Show more" adds a page. */
export const SESSIONS_PAGE = 50;

/** Sessions, newest first, refreshed every 3 s; calls waiting for approval on top. */
export function Sessions() {
  useTitle('Sessions');
  const client = useClient();
  const now = useNow();
  const [status, setStatus] = useState<string>('');
  const [search, setSearch] = useState('');
  const [archived, setArchived] = useState(false);
  const [pages, setPages] = useState(1);

  const envs = usePolling<Map<string, Environment>>(async () => new Map((await client.listEnvironments()).map((e) => [e.id, e])), 30_000, [client]);
  // The first `pages` pages, walked with the API's cursors on every refresh.
  const list = usePolling<{ rows: Row[]; more: boolean }>(
    async (signal) => {
      const statuses = status && status !== 'approval' ? [status as SessionStatus] : undefined;
      const sessions: Session[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < pages; i++) {
        const page: Awaited<ReturnType<typeof client.listSessions>> = await client.listSessions({
          limit: SESSIONS_PAGE,
          ...(statuses ? { statuses } : {}),
          ...(archived ? { include_archived: true } : {}),
          ...(cursor ? { page: cursor } : {}),
        });
        sessions.push(...page.data);
        cursor = page.next_page;
        if (!cursor) break;
      }
      const rows = await Promise.all(sessions.map(async (session) => ({ session, pending: await pendingFor(client, session, signal).catch(() => []) })));
      return { rows, more: cursor !== null };
    },
    3_000,
    [client, status, archived, pages],
  );

  const all = list.data?.rows ?? [];
  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    return all.filter(
      (r) => (status !== 'approval' || r.pending.length > 0) && (!q || r.session.id.toLowerCase().includes(q) || (r.session.title ?? '').toLowerCase().includes(q)),
    );
  }, [list.data, search, status]);
  const waiting = all.filter((r) => r.pending.length > 0);
  // A status filter narrows the API's answer itself: an empty page may still be a filtered one.
  const filtered = status !== '' || search.trim() !== '';

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Sessions</h1>
        <Link href="/sessions/new" class="btn btn-primary">
          New session
        </Link>
      </div>

      {waiting.length > 0 && (
        <section class="approvals" aria-labelledby="approvals-title">
          <h2 id="approvals-title">
            Waiting for approval <span class="count">{waiting.reduce((n, r) => n + r.pending.length, 0)}</span>
          </h2>
          {waiting.map((r) =>
            r.pending.map((tool) => (
              <ConfirmCard
                key={tool.id}
                sessionId={r.session.id}
                tool={tool}
                heading={<Link href={`/sessions/${r.session.id}`}>{r.session.title || shortId(r.session.id)}</Link>}
                onDone={() => {
                  forgetPending(r.session.id);
                  list.reload();
                }}
              />
            )),
          )}
        </section>
      )}

      <div class="filters" role="search">
        <div class="field field-inline">
          <label for="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}>
            {STATUSES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field field-inline field-grow">
          <label for="filter-search">Search</label>
          <input id="filter-search" type="search" placeholder="Title or session id" value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <label class="check">
          <input type="checkbox" checked={archived} onChange={(e) => setArchived((e.currentTarget as HTMLInputElement).checked)} /> Include archived
        </label>
      </div>

      {list.error && (
        <p class="banner banner-error" role="alert">
          {list.error}
        </p>
      )}
      {list.loading && !list.data ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <div class="empty">
          <p>{filtered ? 'No session matches these filters.' : 'No sessions yet.'}</p>
          {!filtered && <Link href="/sessions/new">Start one</Link>}
        </div>
      ) : (
        <table class="table table-cards sessions-table">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Status</th>
              <th scope="col">Pattern</th>
              <th scope="col">Sandbox</th>
              <th scope="col">Agent</th>
              <th scope="col">Environment</th>
              <th scope="col">Age</th>
              <th scope="col" class="num">
                Cost
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ session: s, pending }) => {
              const cost = s.runtime?.cost?.total_usd;
              const t = usageTotals(s.usage);
              return (
                <tr key={s.id} class={pending.length ? 'row-ask' : undefined} data-session-id={s.id}>
                  <td data-label="Session">
                    <Link href={`/sessions/${s.id}`} class="strong">
                      {s.title || <span class="mono">{shortId(s.id)}</span>}
                    </Link>
                    {s.title && <div class="mono muted small">{shortId(s.id)}</div>}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={s.status} needsApproval={pending.length > 0} />
                    {s.archived_at && <span class="pill">archived</span>}
                  </td>
                  <td data-label="Pattern">{s.runtime?.pattern ?? <span class="muted">—</span>}</td>
                  <td data-label="Sandbox">
                    <SandboxBadge session={s} />
                  </td>
                  <td data-label="Agent">{s.agent?.name ?? '—'}</td>
                  <td data-label="Environment">{envs.data?.get(s.environment_id)?.name ?? <span class="mono small">{shortId(s.environment_id)}</span>}</td>
                  <td data-label="Age">
                    <time dateTime={s.created_at} title={new Date(s.created_at).toLocaleString()}>
                      {age(s.created_at, now)}
                    </time>
                  </td>
                  <td data-label="Cost" class="num" title={`${t.input.toLocaleString()} input, ${t.output.toLocaleString()} output tokens`}>
                    {cost !== undefined ? usd(cost) : `${tokens(t.total)} tok`}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {list.data?.more && (
        <p class="more">
          <button type="button" class="btn" onClick={() => setPages((n) => n + 1)} disabled={list.loading}>
            Show more ({all.length} shown)
          </button>
        </p>
      )}
    </main>
  );
}
