import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Transform, type Readable, type Writable } from 'node:stream';
import { reportedExit, type GroupRecord } from './host-processes.js';
import type { SandboxProcess } from './provider.js';

/**
 * A `SandboxProcess` over a host child process whose signals go to a
 * process group rather than to the child itself: for `process/` the child's
 * own group, for `bwrap/` the group of the sandbox's init, which bwrap
 * reports a moment after start (until then signals are queued).
 */
export class TrackedProcess extends EventEmitter implements SandboxProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly pid: number | undefined;
  killed = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  private target: GroupRecord | undefined;
  private readonly queued: NodeJS.Signals[] = [];
  private readonly sent = new Set<NodeJS.Signals>();
  private exited = false;
  private readonly signaller: ((signal: NodeJS.Signals) => boolean) | undefined;

  constructor(
    private readonly child: ChildProcess,
    options: {
      maxLineBytes?: number;
      onLineTooLong?: () => void;
      /** Delivers a signal some other way than to a host process group (e.g. `runsc kill --all`). */
      signal?: (signal: NodeJS.Signals) => boolean;
    } = {},
  ) {
    super();
    if (!child.stdin || !child.stdout || !child.stderr) throw new Error('child must be spawned with piped stdio');
    this.stdin = child.stdin;
    this.signaller = options.signal;
    this.stdout =
      options.maxLineBytes === undefined
        ? child.stdout
        : child.stdout.pipe(lineGuard(options.maxLineBytes, () => {
            this.child.kill('SIGKILL');
            options.onLineTooLong?.();
          }));
    this.stderr = child.stderr;
    this.pid = child.pid;
    // Writing to a process that just died raises EPIPE on stdin; without a
    // listener that would be an uncaught exception in the server.
    this.stdin.on('error', () => {});
    child.on('error', (error) => this.emit('error', error));
    child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  get hasExited(): boolean {
    return this.exited;
  }

  /** Sets the group signals go to and delivers any queued signals. */
  setTarget(group: GroupRecord): void {
    this.target = group;
    for (const signal of this.queued.splice(0)) this.deliver(signal);
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.exited) return false;
    this.sent.add(signal);
    if (this.signaller) {
      this.killed = true;
      return this.signaller(signal);
    }
    if (!this.target) {
      this.queued.push(signal);
      // SIGKILL cannot wait: killing the outer process takes the tree with it.
      if (signal === 'SIGKILL') this.child.kill('SIGKILL');
      this.killed = true;
      return true;
    }
    return this.deliver(signal);
  }

  private deliver(signal: NodeJS.Signals): boolean {
    if (this.exited || !this.target) return false;
    try {
      process.kill(-this.target.pgid, signal);
      this.killed = true;
      return true;
    } catch {
      return false;
    }
  }

  private onExit(exitCode: number | null, exitSignal: NodeJS.Signals | null): void {
    this.exited = true;
    const { code, signal } = reportedExit(exitCode, exitSignal, this.sent);
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}

/**
 * The longest stdout line a sandboxed process may write. The Agent SDK holds
 * a line in memory until it ends; the CLI's own lines (a message with a large
 * tool result or an image) stay far below this.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Passes stdout through, but stops at a line longer than `max` bytes. The
 * Agent SDK reads the CLI's stdout line by line into memory: anything in the
 * sandbox that can write to that pipe could otherwise make the server buffer
 * one endless line.
 */
export function lineGuard(max: number, onExceeded: () => void): Transform {
  let run = 0;
  let tripped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (tripped) return done();
      const lastNewline = chunk.lastIndexOf(10);
      run = lastNewline === -1 ? run + chunk.length : chunk.length - lastNewline - 1;
      if (run > max) {
        tripped = true;
        onExceeded();
        return done();
      }
      done(null, chunk);
    },
  });
}
