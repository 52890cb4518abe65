/**
 * One `always_ask` tool call waiting for a human: what it wants to run, and
 * Allow / Deny (with an optional message the agent will read).
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { ToolUseEvent } from '../api/types';
import { useClient } from '../app/auth';
import { errorText } from '../app/hooks';
import { ToolInput } from './tool-input';

export function ConfirmCard({ sessionId, tool, heading, onDone }: { sessionId: string; tool: ToolUseEvent; heading?: ComponentChildren; onDone?: () => void }) {
  const client = useClient();
  const [denying, setDenying] = useState(false);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<'allow' | 'deny'>();

  async function answer(result: 'allow' | 'deny') {
    setBusy(true);
    setError(undefined);
    try {
      await client.sendEvents(sessionId, [
        result === 'allow'
          ? { type: 'user.tool_confirmation', tool_use_id: tool.id, result: 'allow' }
          : { type: 'user.tool_confirmation', tool_use_id: tool.id, result: 'deny', ...(message.trim() ? { deny_message: message.trim() } : {}) },
      ]);
      setDone(result);
      onDone?.();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  const msgId = `deny-${tool.id}`;
  return (
    <section class="confirm" aria-label={`Approval needed: ${tool.name}`} data-tool-use-id={tool.id}>
      <div class="confirm-head">
        <span class="badge badge-ask">approval needed</span>
        {heading}
        <strong class="tool-name">{tool.name}</strong>
      </div>
      <ToolInput name={tool.name} input={tool.input} />
      {done ? (
        <p class="muted" role="status">
          {done === 'allow' ? 'Allowed; the agent continues.' : 'Denied; the agent was told.'}
        </p>
      ) : denying ? (
        <form
          class="confirm-deny"
          onSubmit={(e) => {
            e.preventDefault();
            void answer('deny');
          }}
        >
          <label for={msgId}>Message to the agent (optional)</label>
          <input id={msgId} value={message} onInput={(e) => setMessage((e.currentTarget as HTMLInputElement).value)} placeholder="Why not, or what to do instead" />
          <div class="actions">
            <button type="submit" class="btn btn-danger" disabled={busy}>
              Deny
            </button>
            <button type="button" class="btn" onClick={() => setDenying(false)} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="actions">
          <button type="button" class="btn btn-primary" onClick={() => void answer('allow')} disabled={busy}>
            Allow
          </button>
          <button type="button" class="btn btn-danger-outline" onClick={() => setDenying(true)} disabled={busy}>
            Deny…
          </button>
        </div>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
