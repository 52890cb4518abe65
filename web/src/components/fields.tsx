/**
 * Labelled form controls whose error (from the API, mapped by field path)
 * sits right under the control and is tied to it with aria-describedby.
 */
import type { ComponentChildren } from 'preact';

interface BaseProps {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: ComponentChildren;
}

function Frame({ id, label, error, hint, children }: BaseProps & { children: ComponentChildren }) {
  return (
    <div class={`field${error ? ' field-invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && !error && (
        <p class="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} role="alert" data-field-error={id}>
          {error}
        </p>
      )}
    </div>
  );
}

const described = (p: BaseProps) => (p.error ? `${p.id}-error` : p.hint ? `${p.id}-hint` : undefined);

export function TextField(p: BaseProps & { value: string; onInput: (v: string) => void; placeholder?: string; autoComplete?: string; list?: string }) {
  return (
    <Frame {...p}>
      <input
        id={p.id}
        name={p.id}
        type="text"
        value={p.value}
        placeholder={p.placeholder}
        autocomplete={p.autoComplete ?? 'off'}
        list={p.list}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={described(p)}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
      />
    </Frame>
  );
}

export function TextArea(p: BaseProps & { value: string; onInput: (v: string) => void; rows?: number; placeholder?: string }) {
  return (
    <Frame {...p}>
      <textarea
        id={p.id}
        name={p.id}
        rows={p.rows ?? 4}
        value={p.value}
        placeholder={p.placeholder}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={described(p)}
        onInput={(e) => p.onInput((e.currentTarget as HTMLTextAreaElement).value)}
      />
    </Frame>
  );
}

export function SelectField(p: BaseProps & { value: string; onChange: (v: string) => void; options: Array<{ value: string; label: string }> }) {
  return (
    <Frame {...p}>
      <select
        id={p.id}
        name={p.id}
        value={p.value}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={described(p)}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Frame>
  );
}

export function FormErrors({ messages }: { messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <div class="banner banner-error" role="alert">
      {messages.map((m) => (
        <p key={m}>{m}</p>
      ))}
    </div>
  );
}
