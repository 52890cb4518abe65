import { execFile } from 'node:child_process';
import { parentPort } from 'node:worker_threads';

/**
 * The thread behind `hostCommand` (host-commands.ts): it starts the short
 * host commands the sandbox watchers run (du, runsc ps/kill/delete, chown).
 * Starting a process blocks the thread that starts it until the child has
 * exec'd (libuv forks, then waits on a pipe the exec closes), and on a busy
 * host the child waits its turn for a CPU first: from the event loop, a
 * gVisor sandbox's `runsc ps` every 250 ms and a `du` every 2 s stalled the
 * API for up to 450 ms at a time. Here they stall only this thread.
 */

export interface Request {
  seq: number;
  file: string;
  args: string[];
  /** Written to the command's stdin, which is then closed (closed at once without it). */
  input?: string;
  timeoutMs?: number;
  maxBuffer?: number;
}

export interface Reply {
  seq: number;
  /** The exit code; null when killed by a signal or never started. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Why the command failed (could not start, exited non-zero, timed out, printed too much); absent on success. */
  error?: string;
}

parentPort?.on('message', (r: Request) => {
  const child = execFile(r.file, r.args, { env: {}, encoding: 'utf8', timeout: r.timeoutMs ?? 0, maxBuffer: r.maxBuffer ?? 1024 * 1024 }, (error, stdout, stderr) => {
    const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
    const reply: Reply = { seq: r.seq, code, signal: error?.signal ?? null, stdout, stderr, ...(error ? { error: error.message } : {}) };
    parentPort!.postMessage(reply);
  });
  child.stdin?.on('error', () => {});
  child.stdin?.end(r.input ?? '');
});
