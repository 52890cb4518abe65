import { readFileSync } from 'node:fs';
import { listProcesses } from './host-processes.js';
import type { SandboxProcess } from './provider.js';

/** What the sandbox contract and providers' own tests use to run and watch sandbox processes. */

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a process's output until it exits and its streams close. */
export function collect(proc: SandboxProcess, stdin = ''): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdin.end(stdin);
  // Listening from the start: the streams may close before or after 'exit'.
  const closed = (s: NodeJS.ReadableStream): Promise<void> => new Promise((r) => s.once('close', () => r()));
  const streams = Promise.all([closed(proc.stdout), closed(proc.stderr)]);
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      void streams.then(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** Resolves when the process has printed `text` on stdout. */
export function waitForOutput(proc: SandboxProcess, text: string): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer | string) => {
      seen += String(d);
      if (seen.includes(text)) resolve();
    });
    proc.once('exit', () => reject(new Error(`exited before printing ${text}; got ${seen}`)));
  });
}

/**
 * Live `sleep` processes on the host whose argument contains `token`. Tests
 * start sleeps with unique durations (`sleep 1000.<token>`) to find exactly
 * their own processes, not a shell or bwrap whose command line mentions them.
 */
export function hostSleepsWith(token: string): number[] {
  return listProcesses()
    .filter((p) => {
      try {
        const [argv0, arg] = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
        return argv0 !== undefined && /(^|\/)sleep$/.test(argv0) && arg !== undefined && arg.includes(token);
      } catch {
        return false;
      }
    })
    .map((p) => p.pid);
}
