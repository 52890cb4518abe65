import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Agent, AgentCreateParams, AgentToolset, AgentUpdateParams } from '../api/types';
import { useClient } from '../app/auth';
import { errorText, useNow, usePolling, useTitle } from '../app/hooks';
import { Link, navigate } from '../app/router';
import { FormErrors, SelectField, TextArea, TextField } from '../components/fields';
import { mapFieldErrors, type FieldErrors } from '../lib/field-errors';
import { age } from '../lib/format';

const TOOL_NAMES = ['bash', 'edit', 'read', 'write', 'glob', 'grep', 'web_fetch', 'web_search'] as const;
type ToolName = (typeof TOOL_NAMES)[number];
type Policy = 'always_allow' | 'always_ask';
const FIELDS = ['name', 'model', 'description', 'system', 'tools', 'metadata'];
const noErrors: FieldErrors = { fields: {}, general: [] };

function toolset(agent: Agent): AgentToolset | undefined {
  return agent.tools.find((t): t is AgentToolset => t.type === 'agent_toolset_20260401');
}

function toolSummary(agent: Agent): string {
  const ts = toolset(agent);
  if (!ts) return agent.tools.length ? `${agent.tools.length} tool set(s)` : 'no tools';
  const enabled = ts.configs.filter((c) => c.enabled);
  const asks = enabled.filter((c) => c.permission_policy?.type === 'always_ask').map((c) => c.name);
  return `${enabled.length} built-in tools${asks.length ? `; asks before ${asks.join(', ')}` : ''}`;
}

export function Agents() {
  useTitle('Agents');
  const client = useClient();
  const now = useNow(30_000);
  const list = usePolling((_s) => client.listAgents(), 0, [client]);
  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Agents</h1>
        <Link href="/agents/new" class="btn btn-primary">
          New agent
        </Link>
      </div>
      {list.error && (
        <p class="banner banner-error" role="alert">
          {list.error}
        </p>
      )}
      {list.data?.length === 0 && (
        <div class="empty">
          <p>No agents yet.</p>
        </div>
      )}
      {list.data && list.data.length > 0 && (
        <table class="table table-cards">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Model</th>
              <th scope="col">Version</th>
              <th scope="col">Tools</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((a) => (
              <tr key={a.id}>
                <td data-label="Name">
                  <Link href={`/agents/${a.id}`} class="strong">
                    {a.name}
                  </Link>
                  {a.description && <div class="muted small">{a.description}</div>}
                </td>
                <td data-label="Model" class="mono small">
                  {a.model.id}
                </td>
                <td data-label="Version">v{a.version}</td>
                <td data-label="Tools">{toolSummary(a)}</td>
                <td data-label="Updated">{age(a.updated_at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

interface Draft {
  name: string;
  model: string;
  description: string;
  system: string;
  builtin: boolean;
  defaultPolicy: Policy;
  tools: Record<ToolName, { enabled: boolean; policy: Policy | 'default' }>;
}

function emptyDraft(): Draft {
  return {
    name: '',
    model: 'claude-sonnet-4-5',
    description: '',
    system: '',
    builtin: true,
    defaultPolicy: 'always_allow',
    tools: Object.fromEntries(TOOL_NAMES.map((n) => [n, { enabled: true, policy: 'default' }])) as Draft['tools'],
  };
}

function draftOf(agent: Agent): Draft {
  const d = emptyDraft();
  d.name = agent.name;
  d.model = agent.model.id;
  d.description = agent.description ?? '';
  d.system = agent.system ?? '';
  const ts = toolset(agent);
  d.builtin = Boolean(ts);
  if (ts) {
    d.defaultPolicy = ts.default_config.permission_policy?.type === 'always_ask' ? 'always_ask' : 'always_allow';
    for (const c of ts.configs) {
      if (!(TOOL_NAMES as readonly string[]).includes(c.name)) continue;
      const policy = c.permission_policy?.type === 'always_ask' ? 'always_ask' : 'always_allow';
      d.tools[c.name as ToolName] = { enabled: c.enabled, policy: policy === d.defaultPolicy ? 'default' : policy };
    }
  }
  return d;
}

function toolsParam(d: Draft): NonNullable<AgentCreateParams['tools']> {
  if (!d.builtin) return [];
  return [
    {
      type: 'agent_toolset_20260401',
      default_config: { enabled: true, permission_policy: { type: d.defaultPolicy } },
      configs: TOOL_NAMES.filter((n) => !d.tools[n].enabled || d.tools[n].policy !== 'default').map((n) => ({
        name: n,
        enabled: d.tools[n].enabled,
        ...(d.tools[n].policy !== 'default' ? { permission_policy: { type: d.tools[n].policy as Policy } } : {}),
      })),
    },
  ];
}

/** Create (no id) or edit an agent. Edits send the version they started from: a concurrent change is a visible conflict. */
export function AgentForm({ id }: { id?: string | undefined }) {
  const client = useClient();
  useTitle(id ? 'Edit agent' : 'New agent');
  const [agent, setAgent] = useState<Agent>();
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [toolsDirty, setToolsDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string>();

  useEffect(() => {
    if (!id) return;
    client.getAgent(id).then(
      (a) => {
        setAgent(a);
        setDraft(draftOf(a));
      },
      (e) => setErrors({ fields: {}, general: [errorText(e)] }),
    );
  }, [client, id]);

  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft((d) => ({ ...d, [k]: v }));
  const setTool = (n: ToolName, v: Partial<Draft['tools'][ToolName]>) => {
    setToolsDirty(true);
    setDraft((d) => ({ ...d, tools: { ...d.tools, [n]: { ...d.tools[n], ...v } } }));
  };

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors(noErrors);
    setSaved(undefined);
    try {
      if (!agent) {
        const body: AgentCreateParams = {
          name: draft.name,
          model: draft.model,
          ...(draft.description ? { description: draft.description } : {}),
          ...(draft.system ? { system: draft.system } : {}),
          tools: toolsParam(draft),
        };
        const created = await client.createAgent(body);
        navigate(`/agents/${created.id}`, { replace: true });
        setSaved(`Created ${created.name}.`);
      } else {
        const body: AgentUpdateParams = {
          version: agent.version,
          name: draft.name,
          model: draft.model,
          description: draft.description || null,
          system: draft.system || null,
          ...(toolsDirty ? { tools: toolsParam(draft) } : {}),
        };
        const updated = await client.updateAgent(agent.id, body);
        setAgent(updated);
        setDraft(draftOf(updated));
        setToolsDirty(false);
        setSaved(`Saved as version ${updated.version}.`);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setErrors({ fields: {}, general: [`${err.message} Reload to see the latest version.`] });
      else setErrors(err instanceof ApiError ? mapFieldErrors(err.message, FIELDS) : { fields: {}, general: [errorText(err)] });
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="page page-narrow">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/agents">Agents</Link> <span aria-hidden="true">/</span>
      </nav>
      <h1>{agent ? `Edit ${agent.name}` : 'New agent'}</h1>
      {agent && (
        <p class="muted small">
          <span class="mono">{agent.id}</span> · version {agent.version}
        </p>
      )}
      <form class="card form" onSubmit={submit} noValidate aria-label="Agent">
        <FormErrors messages={errors.general} />
        {saved && (
          <p class="banner banner-ok" role="status">
            {saved}
          </p>
        )}
        <TextField id="name" label="Name" value={draft.name} onInput={(v) => set('name', v)} error={errors.fields.name} />
        <TextField
          id="model"
          label="Model"
          value={draft.model}
          onInput={(v) => set('model', v)}
          error={errors.fields.model}
          list="models"
          hint="A model id, e.g. claude-sonnet-4-5."
        />
        <datalist id="models">
          <option value="claude-sonnet-4-5" />
          <option value="claude-opus-4-5" />
          <option value="claude-haiku-4-5" />
        </datalist>
        <TextField id="description" label="Description (optional)" value={draft.description} onInput={(v) => set('description', v)} error={errors.fields.description} />
        <TextArea id="system" label="System prompt (optional)" rows={5} value={draft.system} onInput={(v) => set('system', v)} error={errors.fields.system} />

        <fieldset class="tools" aria-describedby={errors.fields.tools ? 'tools-error' : undefined}>
          <legend>Built-in tools</legend>
          <label class="check">
            <input
              type="checkbox"
              checked={draft.builtin}
              onChange={(e) => {
                setToolsDirty(true);
                set('builtin', (e.currentTarget as HTMLInputElement).checked);
              }}
            />{' '}
            Give the agent Claude Code’s tools (agent_toolset_20260401)
          </label>
          {draft.builtin && (
            <>
              <SelectField
                id="default-policy"
                label="Permission for tools without their own"
                value={draft.defaultPolicy}
                onChange={(v) => {
                  setToolsDirty(true);
                  set('defaultPolicy', v as Policy);
                }}
                options={[
                  { value: 'always_allow', label: 'Always allow' },
                  { value: 'always_ask', label: 'Always ask a human' },
                ]}
              />
              <table class="table tool-table">
                <thead>
                  <tr>
                    <th scope="col">Tool</th>
                    <th scope="col">Enabled</th>
                    <th scope="col">Permission</th>
                  </tr>
                </thead>
                <tbody>
                  {TOOL_NAMES.map((n) => (
                    <tr key={n}>
                      <th scope="row" class="mono">
                        {n}
                      </th>
                      <td>
                        <input type="checkbox" aria-label={`${n} enabled`} checked={draft.tools[n].enabled} onChange={(e) => setTool(n, { enabled: (e.currentTarget as HTMLInputElement).checked })} />
                      </td>
                      <td>
                        <select aria-label={`${n} permission`} value={draft.tools[n].policy} onChange={(e) => setTool(n, { policy: (e.currentTarget as HTMLSelectElement).value as Policy })}>
                          <option value="default">default</option>
                          <option value="always_allow">always allow</option>
                          <option value="always_ask">always ask</option>
                        </select>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          {errors.fields.tools && (
            <p id="tools-error" class="field-error" role="alert">
              {errors.fields.tools}
            </p>
          )}
        </fieldset>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : agent ? 'Save changes' : 'Create agent'}
          </button>
          <Link href="/agents" class="btn">
            {agent ? 'Back' : 'Cancel'}
          </Link>
        </div>
      </form>
    </main>
  );
}
