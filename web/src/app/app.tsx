import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient } from '../api/client';
import { AgentForm, Agents } from '../screens/agents';
import { EnvironmentForm, Environments } from '../screens/environments';
import { NewSession } from '../screens/new-session';
import { SessionView } from '../screens/session-view';
import { Sessions } from '../screens/sessions';
import { SignIn } from '../screens/sign-in';
import { Usage } from '../screens/usage';
import { ClientContext, storedKey, storeKey } from './auth';
import { Link, match, navigate, useLocation } from './router';

const NAV = [
  { href: '/sessions', label: 'Sessions' },
  { href: '/agents', label: 'Agents' },
  { href: '/environments', label: 'Environments' },
  { href: '/usage', label: 'Usage' },
];

function Screen({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === '/' || path === '/sessions') return <Sessions />;
  if (match('/sessions/new', path)) return <NewSession />;
  if ((p = match('/sessions/:id', path))) return <SessionView key={p.id} id={p.id!} />;
  if (path === '/agents') return <Agents />;
  if (match('/agents/new', path)) return <AgentForm key="new" />;
  if ((p = match('/agents/:id', path))) return <AgentForm key={p.id} id={p.id} />;
  if (path === '/environments') return <Environments />;
  if (match('/environments/new', path)) return <EnvironmentForm key="new" />;
  if ((p = match('/environments/:id', path))) return <EnvironmentForm key={p.id} id={p.id} />;
  if (path === '/usage') return <Usage />;
  return (
    <main id="main" class="page">
      <h1>Not found</h1>
      <p>
        Nothing here. <Link href="/sessions">Go to sessions</Link>.
      </p>
    </main>
  );
}

export function App() {
  const { path } = useLocation();
  const [key, setKey] = useState<string | null>(storedKey);
  const [notice, setNotice] = useState<string>();
  const client = useMemo(() => (key ? new ApiClient(key) : null), [key]);

  const signOut = (message?: string) => {
    storeKey(null);
    setKey(null);
    setNotice(message);
  };

  useEffect(() => {
    if (client) client.onUnauthorized = () => signOut('The server no longer accepts this key. Sign in again.');
  }, [client]);

  if (!client) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(c) => {
          storeKey(c.key);
          setNotice(undefined);
          setKey(c.key);
          if (path === '/' || path === '/sign-in') navigate('/sessions', { replace: true });
        }}
      />
    );
  }

  const current = NAV.find((n) => path === n.href || path.startsWith(`${n.href}/`)) ?? (path === '/' ? NAV[0] : undefined);
  return (
    <ClientContext.Provider value={client}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/sessions" class="brand">
          <span class="brand-mark" aria-hidden="true" />
          agenthost
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={current === n ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="btn btn-quiet signout" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <Screen path={path} />
    </ClientContext.Provider>
  );
}
