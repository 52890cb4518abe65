import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { forgetPending } from '../api/pending';
import { followSession, type StreamState } from '../api/stream';
import type { Session } from '../api/types';
import { useClient } from '../app/auth';
import { errorText, useTitle } from '../app/hooks';
import { Link } from '../app/router';
import { ConfirmCard } from '../components/confirm-card';
import { StatusBadge } from '../components/status';
import { ToolInput } from '../components/tool-input';
import { tokens, usageTotals, usd } from '../lib/format';
import { addEvents, emptyTranscript, mergeHistory, pendingConfirmations, statusFromEvents, transcriptItems, type Transcript, type TranscriptItem } from '../lib/transcript';

const REFRESH_ON = new Set(['session.status_running', 'session.status_idle', 'session.status_terminated', 'span.model_request_end', 'session.updated']);

/**
 * One session: its transcript, loaded from the events list and then followed
 * live over the stream (resuming with Last-Event-ID after a drop), pending
 * approvals, a message box, interrupt and archive.
 */
export function SessionView({ id }: { id: string }) {
  const client = useClient();
  const [session, setSession] = useState<Session>();
  const [transcript, setTranscript] = useState<Transcript>(emptyTranscript);
  const [stream, setStream] = useState<{ state: StreamState; detail?: string | undefined }>({ state: 'connecting' });
  const [loadError, setLoadError] = useState<string>();
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useTitle(session?.title || id);

  const refresh = () => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => {
      client.getSession(id).then(setSession, () => undefined);
    }, 300);
  };

  useEffect(() => {
    let stopped = false;
    let follower: { close(): void } | undefined;
    setSession(undefined);
    setTranscript(emptyTranscript);
    setLoadError(undefined);
    void (async () => {
      try {
        const [s, history] = await Promise.all([client.getSession(id), client.listEvents(id)]);
        if (stopped) return;
        setSession(s);
        const initial = addEvents(emptyTranscript, history);
        setTranscript(initial);
        let opened = false;
        follower = followSession(client, id, {
          lastEventId: initial.lastEventId,
          onEvents: (events) => {
            setTranscript((t) => addEvents(t, events));
            if (events.some((e) => REFRESH_ON.has(e.type))) refresh();
          },
          onState: (state, detail) => setStream({ state, detail }),
          onOpen: () => {
            // Without a Last-Event-ID the stream starts live: list again to
            // fill anything committed between the first listing and now.
            if (!opened && !initial.lastEventId) void client.listEvents(id).then((h) => !stopped && setTranscript((t) => mergeHistory(t, h)));
            opened = true;
          },
        });
      } catch (e) {
        if (!stopped) setLoadError(errorText(e));
      }
    })();
    const poll = setInterval(refresh, 15_000);
    return () => {
      stopped = true;
      follower?.close();
      clearInterval(poll);
      clearTimeout(refreshTimer.current);
    };
  }, [client, id]);

  const items = useMemo(() => transcriptItems(transcript.events), [transcript]);
  const pending = useMemo(() => pendingConfirmations(transcript.events), [transcript]);
  const status = statusFromEvents(transcript.events) ?? session?.status ?? 'idle';
  const ended = status === 'terminated' || Boolean(session?.archived_at);

  // Follow the bottom of the transcript while the reader is there.
  const end = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      atBottom.current = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
    };
    window.addEventListener('scroll', onScroll, { passive: true });
    return () => window.removeEventListener('scroll', onScroll);
  }, []);
  useLayoutEffect(() => {
    if (atBottom.current) end.current?.scrollIntoView({ block: 'end' });
  }, [items.length]);

  if (loadError) {
    return (
      <main id="main" class="page">
        <p class="banner banner-error" role="alert">
          {loadError}
        </p>
        <Link href="/sessions">Back to sessions</Link>
      </main>
    );
  }

  return (
    <main id="main" class="page session-page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/sessions">Sessions</Link> <span aria-hidden="true">/</span>
      </nav>
      <div class="page-head">
        <h1 class="session-title">{session?.title || <span class="mono">{id}</span>}</h1>
        <StatusBadge status={status} needsApproval={pending.length > 0} />
        <StreamIndicator state={stream.state} detail={stream.detail} />
      </div>
      {session && <SessionFacts session={session} />}
      {session && <SessionActions session={session} status={status} onChange={refresh} />}

      {pending.length > 0 && (
        <section class="approvals" aria-labelledby="pending-title">
          <h2 id="pending-title">Waiting for your approval</h2>
          {pending.map((tool) => (
            <ConfirmCard key={tool.id} sessionId={id} tool={tool} onDone={() => forgetPending(id)} />
          ))}
        </section>
      )}

      <section class="transcript" aria-label="Transcript" aria-live="polite" aria-relevant="additions">
        {items.length === 0 && <p class="muted">No events yet. Send a message to start a turn.</p>}
        {items.map((item) => (
          <Item key={item.id} item={item} />
        ))}
        {status === 'running' && (
          <p class="status-line working" role="status">
            <span class="dot dot-running" aria-hidden="true" /> working…
          </p>
        )}
        <div ref={end} />
      </section>

      {!ended && <Composer sessionId={id} onSent={(events) => setTranscript((t) => addEvents(t, events))} />}
      {ended && <p class="muted">This session has ended; it takes no more messages.</p>}
    </main>
  );
}

function StreamIndicator({ state, detail }: { state: StreamState; detail?: string | undefined }) {
  const label = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', ended: 'stream closed' }[state];
  return (
    <span class={`stream stream-${state}`} role="status" title={detail}>
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function SessionFacts({ session: s }: { session: Session }) {
  const client = useClient();
  const [envName, setEnvName] = useState<string>();
  useEffect(() => {
    client.getEnvironment(s.environment_id).then((e) => setEnvName(e.name), () => undefined);
  }, [client, s.environment_id]);
  const t = usageTotals(s.usage);
  const cost = s.runtime?.cost;
  return (
    <dl class="facts">
      <div>
        <dt>Agent</dt>
        <dd>
          <Link href={`/agents/${s.agent.id}`}>{s.agent.name}</Link> <span class="muted">v{s.agent.version}</span>
        </dd>
      </div>
      <div>
        <dt>Environment</dt>
        <dd>
          <Link href={`/environments/${s.environment_id}`}>{envName ?? <span class="mono small">{s.environment_id}</span>}</Link>
        </dd>
      </div>
      <div>
        <dt>Pattern</dt>
        <dd>{s.runtime?.pattern ?? '—'}</dd>
      </div>
      <div>
        <dt>Sandbox</dt>
        <dd>
          {s.runtime?.sandbox_state ?? '—'}
          {s.runtime?.provider && <span class="muted"> · {s.runtime.provider}</span>}
        </dd>
      </div>
      <div>
        <dt>Tokens</dt>
        <dd data-testid="session-tokens">
          {tokens(t.input)} in · {tokens(t.output)} out
        </dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd data-testid="session-cost">
          {cost ? (
            <span title={`tokens ${usd(cost.tokens_usd)} + sandbox ${usd(cost.sandbox_usd)}`}>
              {usd(cost.total_usd)} <span class="muted small">({usd(cost.tokens_usd)} tokens, {usd(cost.sandbox_usd)} sandbox)</span>
            </span>
          ) : (
            <span class="muted">not priced by this server</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>
          <time dateTime={s.created_at}>{new Date(s.created_at).toLocaleString()}</time>
        </dd>
      </div>
      <div>
        <dt>Id</dt>
        <dd class="mono small">{s.id}</dd>
      </div>
    </dl>
  );
}

function SessionActions({ session, status, onChange }: { session: Session; status: string; onChange: () => void }) {
  const client = useClient();
  const [confirmArchive, setConfirmArchive] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (session.archived_at) return null;

  async function act(fn: () => Promise<unknown>) {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      onChange();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="actions session-actions">
      <button type="button" class="btn" disabled={busy || status !== 'running'} onClick={() => void act(() => client.sendEvents(session.id, [{ type: 'user.interrupt' }]))}>
        Interrupt
      </button>
      {confirmArchive ? (
        <>
          <button
            type="button"
            class="btn btn-danger"
            disabled={busy}
            onClick={() =>
              void act(async () => {
                await client.archiveSession(session.id);
                setConfirmArchive(false);
              })
            }
          >
            Archive: stop and destroy the sandbox
          </button>
          <button type="button" class="btn" onClick={() => setConfirmArchive(false)}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" class="btn btn-danger-outline" onClick={() => setConfirmArchive(true)}>
          Archive…
        </button>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function time(at: string): string {
  return at ? new Date(at).toLocaleTimeString() : '';
}

function Item({ item }: { item: TranscriptItem }) {
  switch (item.kind) {
    case 'user':
    case 'agent':
      return (
        <article class={`msg msg-${item.kind}`} data-event-id={item.id}>
          <header>
            <strong>{item.kind === 'user' ? 'You' : 'Agent'}</strong> <time dateTime={item.at}>{time(item.at)}</time>
          </header>
          <div class="text">{item.text}</div>
        </article>
      );
    case 'thinking':
      return (
        <details class="thinking" data-event-id={item.id}>
          <summary>Thinking{item.count > 1 ? ` (${item.count})` : ''}</summary>
          <div class="text muted">{item.text || 'The model reasoned here; agenthost does not record the thinking text.'}</div>
        </details>
      );
    case 'tool': {
      const state = item.pending
        ? 'waiting for approval'
        : item.confirmation?.result === 'deny'
          ? 'denied'
          : item.result
            ? item.result.isError
              ? 'error'
              : 'done'
            : 'running';
      const long = (item.result?.text.length ?? 0) > 600 || (item.result?.text.split('\n').length ?? 0) > 12;
      return (
        <article class={`tool tool-${state.replace(/ /g, '-')}`} data-event-id={item.id} aria-label={`Tool call ${item.name}: ${state}`}>
          <header>
            <span class="tool-name">{item.server ? `${item.server} · ${item.name}` : item.name}</span>
            {item.permission && item.permission !== 'allow' && <span class={`pill pill-${item.permission}`}>{item.permission === 'ask' ? 'always ask' : item.permission}</span>}
            <span class="tool-state">{state}</span>
            <time dateTime={item.at}>{time(item.at)}</time>
          </header>
          <ToolInput name={item.name} input={item.input} />
          {item.confirmation && (
            <p class="small">
              {item.confirmation.result === 'allow' ? 'Allowed by you.' : `Denied by you${item.confirmation.message ? `: “${item.confirmation.message}”` : '.'}`}
            </p>
          )}
          {item.result && (
            <details class="tool-output" open={!long}>
              <summary>{item.result.isError ? 'Error output' : 'Output'}</summary>
              <pre class={`code${item.result.isError ? ' code-error' : ''}`}>{item.result.text || '(no output)'}</pre>
            </details>
          )}
        </article>
      );
    }
    case 'error':
      return (
        <div class="banner banner-error event-error" role="note" data-event-id={item.id} data-error-type={item.errorType}>
          <strong>Error: {item.errorType.replace(/_error$/, '').replace(/_/g, ' ')}.</strong> {item.message} <time dateTime={item.at}>{time(item.at)}</time>
        </div>
      );
    case 'status':
      return (
        <p class={`status-line status-${item.status}`} data-event-id={item.id}>
          <span class={`dot dot-${item.status}`} aria-hidden="true" />
          {item.status}
          {item.detail ? ` — ${item.detail}` : ''} <time dateTime={item.at}>{time(item.at)}</time>
        </p>
      );
    case 'interrupt':
      return (
        <p class="status-line status-interrupt" data-event-id={item.id}>
          <span class="dot" aria-hidden="true" />
          interrupted by you <time dateTime={item.at}>{time(item.at)}</time>
        </p>
      );
    case 'other':
      return (
        <p class="status-line muted small" data-event-id={item.id}>
          {item.type} <time dateTime={item.at}>{time(item.at)}</time>
        </p>
      );
  }
}

function Composer({ sessionId, onSent }: { sessionId: string; onSent: (events: Parameters<typeof addEvents>[1]) => void }) {
  const client = useClient();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function send(e?: Event) {
    e?.preventDefault();
    const message = text.trim();
    if (!message || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await client.sendEvents(sessionId, [{ type: 'user.message', content: [{ type: 'text', text: message }] }]);
      onSent(res.data);
      setText('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="composer" onSubmit={send}>
      <label for="message">Message</label>
      <textarea
        id="message"
        rows={3}
        value={text}
        placeholder="Ask the agent something (Ctrl+Enter sends)"
        aria-describedby={error ? 'message-error' : undefined}
        onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e);
        }}
      />
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy || !text.trim()}>
          {busy ? 'Sending…' : 'Send'}
        </button>
      </div>
      {error && (
        <p id="message-error" class="field-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
