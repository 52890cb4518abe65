import { EventEmitter } from 'node:events';
import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import { reportedExit } from '../host-processes.js';
import type { SandboxProcess } from '../provider.js';
import { lineGuard } from '../tracked-process.js';

/**
 * One exec in a docker sandbox as a `SandboxProcess`. `spawn` is
 * synchronous and the engine is not, so the streams exist at once and are
 * wired to the exec's hijacked connection when it is up; stdin written
 * before that waits in its buffer.
 */
export class DockerProcess extends EventEmitter implements SandboxProcess {
  readonly stdin: Writable = new PassThrough();
  readonly stdout: Readable;
  readonly stderr = new PassThrough();
  private readonly rawStdout = new PassThrough();
  killed = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private exited = false;
  private readonly sent = new Set<NodeJS.Signals>();

  constructor(
    readonly seq: number,
    /** Host pid of the container's init (the sandbox's outermost process), when the engine runs on this host. */
    readonly pid: number | undefined,
    private readonly o: {
      maxLineBytes: number;
      onLineTooLong: () => void;
      /** Delivers a signal to the exec's process group. */
      signal: (signal: NodeJS.Signals) => void;
    },
  ) {
    super();
    this.stdout = this.rawStdout.pipe(
      lineGuard(o.maxLineBytes, () => {
        this.kill('SIGKILL');
        o.onLineTooLong();
      }),
    );
    this.stdin.on('error', () => {});
  }

  get hasExited(): boolean {
    return this.exited;
  }

  /** Connects the exec's multiplexed stream: stdin in (EOF is a half-close), stdout and stderr out. */
  wire(socket: Duplex, demux: (stream: Duplex, stdout: Writable, stderr: Writable) => void): void {
    socket.on('error', () => {});
    demux(socket, this.rawStdout, this.stderr);
    this.stdin.pipe(socket);
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.exited) return false;
    this.sent.add(signal);
    this.killed = true;
    this.o.signal(signal);
    return true;
  }

  /** The exec ended with `code` (null when the engine could not say, e.g. the container was removed). */
  finish(code: number | null, fallback: NodeJS.Signals | null = null): void {
    if (this.exited) return;
    this.exited = true;
    const { code: exitCode, signal } = reportedExit(code, code === null ? fallback : null, this.sent);
    this.exitCode = exitCode;
    this.signalCode = signal;
    this.rawStdout.end();
    this.stderr.end();
    // The streams drain first, so a listener on 'exit' has seen the output.
    setImmediate(() => this.emit('exit', exitCode, signal));
  }

  fail(error: Error): void {
    if (this.exited) return;
    this.stderr.write(`agenthost: ${error.message}\n`);
    if (this.listenerCount('error') > 0) this.emit('error', error);
    this.finish(126);
  }
}
