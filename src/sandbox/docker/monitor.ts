import { PassThrough, type Duplex, type Writable } from 'node:stream';
import { parseStat, type StatLine } from './spec.js';

/**
 * The server's side of the container's monitor (`monitorScript`): requests
 * go down the attach stream's stdin, answers come back on its stdout in
 * request order. Closing the stream makes the monitor exit, and with it
 * the container.
 */

export interface TickResult {
  procs: StatLine[];
  /** cgroup v1 memory.oom_control / v2 memory.events oom_kill. */
  oomKills: number;
  /** pids.events max: forks refused at the limit. */
  pidsMax: number;
}

type Waiter = { kind: 'tick'; lines: string[]; resolve: (r: TickResult) => void } | { kind: 'signal'; resolve: (sent: boolean) => void };

export class Monitor {
  /** The monitor's pid and the bridges' pids inside the container. */
  readonly ready: Promise<{ monitorPid: number; bridges: number[] }>;
  private readonly waiting: Waiter[] = [];
  private buffer = '';
  private stderrText = '';
  private closed = false;
  private onReady: ((v: { monitorPid: number; bridges: number[] }) => void) | undefined;
  private onFail: ((e: Error) => void) | undefined;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly stream: Duplex,
    demux: (stream: Duplex, stdout: Writable, stderr: Writable) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onFail = reject;
    });
    // Nobody may be waiting when the container dies early.
    this.ready.catch(() => {});
    const out = new PassThrough();
    const err = new PassThrough();
    out.setEncoding('utf8').on('data', (d: string) => this.onData(d));
    err.setEncoding('utf8').on('data', (d: string) => (this.stderrText = (this.stderrText + d).slice(-2000)));
    stream.on('error', () => {});
    stream.once('close', () => this.onClose());
    stream.once('end', () => this.onClose());
    demux(stream, out, err);
    // dockerode sends the attach options as a request body, which Podman passes on as stdin:
    // a newline ends that line, which the monitor ignores, before the first request.
    stream.write('\n');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  whenClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.onFail?.(new Error(`the sandbox container stopped before it was ready${this.stderrText ? `: ${this.stderrText.trim()}` : ''}`));
    for (const w of this.waiting.splice(0)) {
      if (w.kind === 'tick') w.resolve({ procs: [], oomKills: 0, pidsMax: 0 });
      else w.resolve(false);
    }
    for (const l of this.closeListeners.splice(0)) l();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (line.startsWith('ready ')) {
      const [, pid, ...bridges] = line.split(' ');
      this.onReady?.({ monitorPid: Number(pid), bridges: bridges.filter(Boolean).map(Number) });
      return;
    }
    const head = this.waiting[0];
    if (!head) return;
    if (head.kind === 'signal' && /^(un)?sent /.test(line)) {
      this.waiting.shift();
      head.resolve(line.startsWith('sent '));
    } else if (head.kind === 'tick') {
      if (line !== 'end') {
        head.lines.push(line);
        return;
      }
      this.waiting.shift();
      head.resolve(parseTick(head.lines));
    }
  }

  private send(line: string): boolean {
    if (this.closed) return false;
    this.stream.write(`${line}\n`);
    return true;
  }

  tick(): Promise<TickResult> {
    return new Promise((resolve) => {
      if (!this.send('tick')) return resolve({ procs: [], oomKills: 0, pidsMax: 0 });
      this.waiting.push({ kind: 'tick', lines: [], resolve });
    });
  }

  /** Signals exec `seq`'s process group; false when its wrapper has not recorded its pid yet. */
  signal(seq: number, signal: NodeJS.Signals): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.send(`signal ${seq} ${signal.replace(/^SIG/, '')}`)) return resolve(false);
      this.waiting.push({ kind: 'signal', resolve });
    });
  }

  /** SIGKILL to processes by their pids inside. */
  kill(pids: number[]): void {
    // One request per pid keeps each line short; the monitor's `read` splits on spaces.
    for (const pid of pids) this.send(`kill ${pid}`);
  }

  /** Ends the monitor, which stops the container. */
  close(): void {
    this.stream.end();
    this.stream.destroy();
  }
}

export function parseTick(lines: string[]): TickResult {
  const procs: StatLine[] = [];
  let oomKills = 0;
  let pidsMax = 0;
  for (const line of lines) {
    if (line.startsWith('p ')) {
      const stat = parseStat(line.slice(2));
      if (stat) procs.push(stat);
    } else if (line.startsWith('m oom_kill ')) oomKills = Number(line.split(' ')[2]) || 0;
    else if (line.startsWith('x max ')) pidsMax = Number(line.split(' ')[2]) || 0;
  }
  return { procs, oomKills, pidsMax };
}
