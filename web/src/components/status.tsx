import type { Session } from '../api/types';

export function StatusBadge({ status, needsApproval }: { status: string; needsApproval?: boolean }) {
  if (needsApproval) return <span class="badge badge-ask">needs approval</span>;
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export function SandboxBadge({ session }: { session: Session }) {
  const state = session.runtime?.sandbox_state;
  if (!state) return <span class="muted">—</span>;
  return <span class={`pill pill-${state}`}>{state}</span>;
}
