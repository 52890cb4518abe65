import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Agent, Environment, SessionCreateParams } from '../api/types';
import { useClient } from '../app/auth';
import { errorText, usePolling, useTitle } from '../app/hooks';
import { Link, navigate } from '../app/router';
import { FormErrors, SelectField, TextArea, TextField } from '../components/fields';
import { mapFieldErrors, type FieldErrors } from '../lib/field-errors';

const FIELDS = ['agent', 'environment_id', 'title', 'initial_events'];

export function NewSession() {
  useTitle('New session');
  const client = useClient();
  const choices = usePolling<{ agents: Agent[]; envs: Environment[] }>(
    async () => {
      const [agents, envs] = await Promise.all([client.listAgents(), client.listEnvironments()]);
      return { agents, envs };
    },
    0,
    [client],
  );
  const [agent, setAgent] = useState('');
  const [env, setEnv] = useState('');
  const [title, setTitle] = useState('');
  const [message, setMessage] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({ fields: {}, general: [] });
  const [busy, setBusy] = useState(false);

  const agents = choices.data?.agents ?? [];
  const envs = choices.data?.envs ?? [];
  const agentId = agent || agents[0]?.id || '';
  const envId = env || envs[0]?.id || '';

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({ fields: {}, general: [] });
    const body: SessionCreateParams = {
      agent: agentId,
      environment_id: envId,
      ...(title.trim() ? { title: title.trim() } : {}),
      ...(message.trim() ? { initial_events: [{ type: 'user.message', content: [{ type: 'text', text: message.trim() }] }] } : {}),
    };
    try {
      const session = await client.createSession(body);
      navigate(`/sessions/${session.id}`);
    } catch (err) {
      setErrors(err instanceof ApiError ? mapFieldErrors(err.message, FIELDS) : { fields: {}, general: [errorText(err)] });
    } finally {
      setBusy(false);
    }
  }

  const missing = choices.data && (agents.length === 0 || envs.length === 0);
  return (
    <main id="main" class="page page-narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/sessions">Sessions</Link> <span aria-hidden="true">/</span>
      </nav>
      <h1>New session</h1>
      {choices.error && (
        <p class="banner banner-error" role="alert">
          {choices.error}
        </p>
      )}
      {missing ? (
        <p class="banner banner-info">
          A session needs an agent and an environment. {agents.length === 0 && <Link href="/agents/new">Create an agent</Link>}
          {agents.length === 0 && envs.length === 0 && ' and '}
          {envs.length === 0 && <Link href="/environments/new">create an environment</Link>} first.
        </p>
      ) : (
        <form class="card form" onSubmit={submit} noValidate>
          <FormErrors messages={errors.general} />
          <SelectField id="agent" label="Agent" value={agentId} onChange={setAgent} error={errors.fields.agent} options={agents.map((a) => ({ value: a.id, label: `${a.name} (v${a.version})` }))} />
          <SelectField
            id="environment_id"
            label="Environment"
            value={envId}
            onChange={setEnv}
            error={errors.fields.environment_id}
            options={envs.map((e) => ({ value: e.id, label: e.name }))}
          />
          <TextField id="title" label="Title (optional)" value={title} onInput={setTitle} error={errors.fields.title} />
          <TextArea
            id="first-message"
            label="First message (optional)"
            value={message}
            onInput={setMessage}
            error={errors.fields.initial_events}
            hint="Sent as the session’s first user.message; the turn starts right away."
          />
          <div class="actions">
            <button type="submit" class="btn btn-primary" disabled={busy || !agentId || !envId}>
              {busy ? 'Starting…' : 'Start session'}
            </button>
            <Link href="/sessions" class="btn">
              Cancel
            </Link>
          </div>
        </form>
      )}
    </main>
  );
}
