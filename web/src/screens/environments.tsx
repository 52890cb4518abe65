import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Environment, EnvironmentCreateParams, EnvironmentExtensions } from '../api/types';
import { useClient } from '../app/auth';
import { errorText, useNow, usePolling, useTitle } from '../app/hooks';
import { Link, navigate } from '../app/router';
import { FormErrors, SelectField, TextField } from '../components/fields';
import { mapFieldErrors, type FieldErrors } from '../lib/field-errors';
import { age } from '../lib/format';

const noErrors: FieldErrors = { fields: {}, general: [] };
const NUMBER_FIELDS = [
  ['config.sandbox.memory_mib', 'Memory (MiB)'],
  ['config.sandbox.cpus', 'CPUs'],
  ['config.sandbox.tool_timeout_s', 'Tool timeout (s)'],
  ['config.lifecycle.idle_timeout_s', 'Idle timeout (s)'],
  ['config.lifecycle.max_lifetime_s', 'Max lifetime (s)'],
] as const;
type NumberField = (typeof NUMBER_FIELDS)[number][0];
const FIELDS = [
  'name',
  'description',
  'config',
  'config.sandbox.provider',
  'config.networking',
  'config.lifecycle.pattern',
  'config.packages',
  ...NUMBER_FIELDS.map(([f]) => f),
];

type Config = EnvironmentExtensions & { networking?: { type: string } | null; packages?: Record<string, unknown> | null };

function configOf(env: Environment): Config {
  return env.config as unknown as Config;
}

export function Environments() {
  useTitle('Environments');
  const client = useClient();
  const now = useNow(30_000);
  const list = usePolling((_s) => client.listEnvironments(), 0, [client]);
  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Environments</h1>
        <Link href="/environments/new" class="btn btn-primary">
          New environment
        </Link>
      </div>
      {list.error && (
        <p class="banner banner-error" role="alert">
          {list.error}
        </p>
      )}
      {list.data?.length === 0 && (
        <div class="empty">
          <p>No environments yet.</p>
        </div>
      )}
      {list.data && list.data.length > 0 && (
        <table class="table table-cards">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Provider</th>
              <th scope="col">Pattern</th>
              <th scope="col">Network</th>
              <th scope="col">Limits</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((e) => {
              const c = configOf(e);
              return (
                <tr key={e.id}>
                  <td data-label="Name">
                    <Link href={`/environments/${e.id}`} class="strong">
                      {e.name}
                    </Link>
                    {e.description && <div class="muted small">{e.description}</div>}
                  </td>
                  <td data-label="Provider">{c.sandbox?.provider ?? '—'}</td>
                  <td data-label="Pattern">{c.lifecycle?.pattern ?? '—'}</td>
                  <td data-label="Network">{c.networking?.type ?? '—'}</td>
                  <td data-label="Limits" class="small">
                    {c.sandbox ? `${c.sandbox.memory_mib ?? '?'} MiB · ${c.sandbox.cpus ?? '?'} CPU` : '—'}
                  </td>
                  <td data-label="Updated">{age(e.updated_at, now)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}

interface Draft {
  name: string;
  description: string;
  provider: string;
  networking: string;
  pattern: string;
  numbers: Record<NumberField, string>;
}

function emptyDraft(): Draft {
  return {
    name: '',
    description: '',
    provider: '',
    networking: 'unrestricted',
    pattern: '',
    numbers: Object.fromEntries(NUMBER_FIELDS.map(([f]) => [f, ''])) as Draft['numbers'],
  };
}

function draftOf(env: Environment): Draft {
  const c = configOf(env);
  const str = (n: number | null | undefined) => (n === null || n === undefined ? '' : String(n));
  return {
    name: env.name,
    description: env.description ?? '',
    provider: c.sandbox?.provider ?? '',
    networking: c.networking?.type ?? 'unrestricted',
    pattern: c.lifecycle?.pattern ?? '',
    numbers: {
      'config.sandbox.memory_mib': str(c.sandbox?.memory_mib),
      'config.sandbox.cpus': str(c.sandbox?.cpus),
      'config.sandbox.tool_timeout_s': str(c.sandbox?.tool_timeout_s),
      'config.lifecycle.idle_timeout_s': str(c.lifecycle?.idle_timeout_s),
      'config.lifecycle.max_lifetime_s': str(c.lifecycle?.max_lifetime_s),
    },
  };
}

/** A number if the text is one; otherwise the text itself, so the API's message explains what is wrong. */
function numberOrText(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

function configParam(d: Draft): Record<string, unknown> {
  const n = (f: NumberField) => numberOrText(d.numbers[f]);
  const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));
  const sandbox = compact({
    provider: d.provider || undefined,
    memory_mib: n('config.sandbox.memory_mib'),
    cpus: n('config.sandbox.cpus'),
    tool_timeout_s: n('config.sandbox.tool_timeout_s'),
  });
  const lifecycle = compact({
    pattern: d.pattern || undefined,
    idle_timeout_s: n('config.lifecycle.idle_timeout_s'),
    max_lifetime_s: n('config.lifecycle.max_lifetime_s'),
  });
  return {
    type: 'cloud',
    networking: { type: d.networking },
    ...(Object.keys(sandbox).length ? { sandbox } : {}),
    ...(Object.keys(lifecycle).length ? { lifecycle } : {}),
  };
}

/** Create (no id) or edit an environment, including agenthost's sandbox and lifecycle settings. */
export function EnvironmentForm({ id }: { id?: string | undefined }) {
  const client = useClient();
  useTitle(id ? 'Edit environment' : 'New environment');
  const [env, setEnv] = useState<Environment>();
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [errors, setErrors] = useState<FieldErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string>();

  useEffect(() => {
    if (!id) return;
    client.getEnvironment(id).then(
      (e) => {
        setEnv(e);
        setDraft(draftOf(e));
      },
      (e) => setErrors({ fields: {}, general: [errorText(e)] }),
    );
  }, [client, id]);

  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft((d) => ({ ...d, [k]: v }));

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors(noErrors);
    setSaved(undefined);
    // The extensions (sandbox, lifecycle) are beyond the client's types.
    const config = configParam(draft) as unknown as EnvironmentCreateParams['config'];
    try {
      if (!env) {
        const created = await client.createEnvironment({ name: draft.name, ...(draft.description ? { description: draft.description } : {}), config });
        navigate(`/environments/${created.id}`, { replace: true });
        setSaved(`Created ${created.name}.`);
      } else {
        const updated = await client.updateEnvironment(env.id, { name: draft.name, description: draft.description || null, config });
        setEnv(updated);
        setDraft(draftOf(updated));
        setSaved('Saved.');
      }
    } catch (err) {
      setErrors(err instanceof ApiError ? mapFieldErrors(err.message, FIELDS) : { fields: {}, general: [errorText(err)] });
    } finally {
      setBusy(false);
    }
  }

  const f = errors.fields;
  // Errors about a whole section (e.g. `config.sandbox.pids`) show with the form.
  const general = [...errors.general, ...(f.config ? [`config: ${f.config}`] : [])];
  return (
    <main id="main" class="page page-narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/environments">Environments</Link> <span aria-hidden="true">/</span>
      </nav>
      <h1>{env ? `Edit ${env.name}` : 'New environment'}</h1>
      {env && <p class="muted small mono">{env.id}</p>}
      <form class="card form" onSubmit={submit} noValidate aria-label="Environment">
        <FormErrors messages={general} />
        {saved && (
          <p class="banner banner-ok" role="status">
            {saved}
          </p>
        )}
        <TextField id="name" label="Name" value={draft.name} onInput={(v) => set('name', v)} error={f.name} />
        <TextField id="description" label="Description (optional)" value={draft.description} onInput={(v) => set('description', v)} error={f.description} />
        <div class="grid-2">
          <SelectField
            id="provider"
            label="Sandbox provider"
            value={draft.provider}
            onChange={(v) => set('provider', v)}
            error={f['config.sandbox.provider']}
            options={[
              { value: '', label: 'Server default' },
              { value: 'bwrap', label: 'bwrap' },
              { value: 'gvisor', label: 'gvisor' },
              { value: 'process', label: 'process (no isolation)' },
            ]}
          />
          <SelectField
            id="networking"
            label="Network"
            value={draft.networking}
            onChange={(v) => set('networking', v)}
            error={f['config.networking']}
            options={[
              { value: 'unrestricted', label: 'unrestricted' },
              { value: 'limited', label: 'limited' },
            ]}
          />
          <SelectField
            id="pattern"
            label="Lifecycle pattern"
            value={draft.pattern}
            onChange={(v) => set('pattern', v)}
            error={f['config.lifecycle.pattern']}
            options={[
              { value: '', label: 'Default (hybrid)' },
              { value: 'ephemeral', label: 'ephemeral' },
              { value: 'hybrid', label: 'hybrid' },
              { value: 'long_running', label: 'long_running' },
              { value: 'shared', label: 'shared' },
            ]}
          />
          {NUMBER_FIELDS.map(([field, label]) => (
            <TextField
              key={field}
              id={field.split('.').pop()!}
              label={label}
              value={draft.numbers[field]}
              onInput={(v) => set('numbers', { ...draft.numbers, [field]: v })}
              error={f[field]}
              placeholder="default"
            />
          ))}
        </div>
        {f['config.packages'] && (
          <p class="field-error" role="alert">
            {f['config.packages']}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : env ? 'Save changes' : 'Create environment'}
          </button>
          <Link href="/environments" class="btn">
            {env ? 'Back' : 'Cancel'}
          </Link>
        </div>
      </form>
    </main>
  );
}
