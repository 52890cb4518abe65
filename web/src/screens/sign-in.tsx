import { useState } from 'preact/hooks';
import { ApiClient, ApiError } from '../api/client';
import { useTitle } from '../app/hooks';

/**
 * Sign-in with a workspace API key. The key is checked with an ordinary API
 * call (listing one session); a refused key stays on this screen with the
 * server's reason.
 */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (client: ApiClient) => void; notice?: string | undefined }) {
  useTitle('Sign in');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter a workspace API key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    const client = new ApiClient(trimmed);
    try {
      await client.listSessions({ limit: 1 });
      onSignedIn(client);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setError(`This key was refused: ${err.message}.`);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span class="brand-mark" aria-hidden="true" /> agenthost console
        </h1>
        <p class="muted">Sign in with a workspace API key. It stays in this browser tab only and is sent with each API call, like any client’s.</p>
        {notice && !error && (
          <p class="banner banner-info" role="status">
            {notice}
          </p>
        )}
        <div class={`field${error ? ' field-invalid' : ''}`}>
          <label for="api-key">Workspace API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="sk-ah-…"
            value={key}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'api-key-error' : 'api-key-hint'}
            onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
          />
          {error ? (
            <p id="api-key-error" class="field-error" role="alert">
              {error}
            </p>
          ) : (
            <p id="api-key-hint" class="field-hint">
              Create one with <code>agenthost keys create --workspace NAME</code>.
            </p>
          )}
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
