import { SharedWorker } from './worker-thread.js';
import type { Reply, Request } from './host-commands-worker.js';

/**
 * Short host commands of the sandbox providers' watchers and clean-ups,
 * started from one worker thread shared by every sandbox, never from the
 * event loop: each start blocks its thread until the child has exec'd,
 * which on a loaded host is hundreds of milliseconds (see
 * host-commands-worker.ts). Environments are always empty.
 */
export type HostCommandResult = Omit<Reply, 'seq'>;

const shared = new SharedWorker<Request, Reply>({
  name: 'agenthost host commands',
  from: import.meta.url,
  module: 'host-commands-worker',
  failed: (seq, message) => ({ seq, code: null, signal: null, stdout: '', stderr: '', error: message }),
});

/** Runs `file` with `args` to its end; never rejects: a failure is in `error`. */
export async function hostCommand(file: string, args: string[], o: { input?: string; timeoutMs?: number; maxBuffer?: number } = {}): Promise<HostCommandResult> {
  const { seq: _seq, ...result } = await shared.ask({ file, args, ...o });
  return result;
}

/** `hostCommand`'s stdout; rejects when the command failed. */
export async function hostCommandOutput(file: string, args: string[], o: { input?: string; timeoutMs?: number; maxBuffer?: number } = {}): Promise<string> {
  const r = await hostCommand(file, args, o);
  if (r.error !== undefined) throw new Error(`${file} ${args.join(' ')}: ${r.error}${r.stderr ? `: ${r.stderr.trim().slice(-500)}` : ''}`);
  return r.stdout;
}
