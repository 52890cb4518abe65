import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../logger.js';
import type { HostLimits } from '../host-limits.js';
import { diesWithServer } from '../dies-with-server.js';
import { readProcStat, stopGroups, type GroupRecord, type ProcStat } from '../host-processes.js';
import type { Sandbox, SandboxSpec, SpawnRequest } from '../provider.js';
import type { SandboxRegistry } from '../registry.js';
import { TrackedProcess } from '../tracked-process.js';
import { commandLine, exePath } from '../watchdog.js';
import { buildBwrapArgs, type HostLayout, type SandboxIdentity } from './args.js';
import { resolveCommand } from './host-layout.js';

/** The I/O half of a bwrap sandbox: one bwrap per spawned process, all sharing the sandbox's mounts. */

export interface BwrapSandboxConfig {
  bwrapPath: string;
  layout: HostLayout;
  registry: SandboxRegistry;
  homeHostDir: string;
  homeDir: string;
  identity: SandboxIdentity;
  uid: number;
  gid: number;
  gatewayPort: number;
  egressPort: number;
  readOnlyPaths: string[];
  killGraceMs: number;
  log: Logger;
  /** The sandbox's cgroup and watchdog, when it has limits. */
  limits?: HostLimits;
  /** Longest line a process may write to stdout before it is killed. */
  maxLineBytes: number;
  /** The seccomp filter (a `struct sock_filter` array) every process runs under. */
  seccomp: Buffer;
}

const ARGS_FD = 3;
const INFO_FD = 4;
const SECCOMP_FD = 5;

interface Running {
  proc: TrackedProcess;
  /** bwrap itself on the host; its death takes the sandbox's pid namespace with it. */
  outer?: GroupRecord;
  /** The sandbox's init (pid 1 inside) and the session it leads: the command and its tools. */
  init?: GroupRecord;
}

export class BwrapSandbox implements Sandbox {
  readonly provider = 'bwrap';
  readonly id: string;
  readonly modelBaseUrl: string;
  readonly homeDir: string;
  private readonly running = new Set<Running>();
  private destroying: Promise<void> | undefined;

  constructor(
    private readonly spec: SandboxSpec,
    private readonly config: BwrapSandboxConfig,
    private readonly onDestroyed: () => void,
  ) {
    this.id = spec.id;
    this.homeDir = config.homeDir;
    this.modelBaseUrl = `http://127.0.0.1:${config.gatewayPort}`;
  }

  spawn(request: SpawnRequest): TrackedProcess {
    if (this.destroying) throw new Error(`sandbox ${this.id} has been destroyed`);
    const { config } = this;
    const resolved = resolveCommand(request.command, config.layout);
    const invocation = buildBwrapArgs(this.spec, {
      layout: config.layout,
      request: { ...request, command: resolved.command },
      readOnlyPaths: [...config.readOnlyPaths, ...resolved.readOnlyPaths],
      homeHostDir: config.homeHostDir,
      homeDir: config.homeDir,
      identity: config.identity,
      uid: config.uid,
      gid: config.gid,
      hostname: 'sandbox',
      gatewayPort: config.gatewayPort,
      egressPort: config.egressPort,
      infoFd: INFO_FD,
      seccompFd: SECCOMP_FD,
      ...(this.spec.limits ? { tmpfsBytes: this.spec.limits.diskMib * 1024 * 1024 } : {}),
    });
    // The options go through a pipe (--args) rather than the command line,
    // and bwrap gets an empty environment: both are readable through /proc,
    // on the host and - as pid 1's - inside the sandbox, and the options
    // carry the request's env with the session's token.
    const bwrapArgs = ['--args', String(ARGS_FD), '--', ...invocation.command];
    const host = diesWithServer(config.limits ? config.limits.wrap(config.bwrapPath, bwrapArgs) : { command: config.bwrapPath, args: bwrapArgs });
    const child = spawn(host.command, host.args, {
      detached: true,
      env: {},
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    const proc = new TrackedProcess(child, {
      maxLineBytes: config.maxLineBytes,
      onLineTooLong: () =>
        this.spec.onLimit?.({ kind: 'output', message: `a process wrote a line of more than ${config.maxLineBytes} bytes to its output and was killed` }),
    });
    const running: Running = { proc };
    this.running.add(running);

    const argsPipe = child.stdio[ARGS_FD] as Writable;
    argsPipe.on('error', () => {}); // bwrap that failed early never reads its args
    argsPipe.end(`${invocation.options.join('\0')}\0`);
    const seccompPipe = (child.stdio as unknown as Writable[])[SECCOMP_FD]!;
    seccompPipe.on('error', () => {});
    seccompPipe.end(config.seccomp);

    if (child.pid !== undefined) {
      const stat = readProcStat(child.pid);
      if (stat) {
        running.outer = { pgid: child.pid, startTime: stat.startTime };
        config.registry.addGroup(this.id, { ...running.outer, term: false });
      }
    }
    this.watchInfo(child.stdio[INFO_FD] as Readable, running);

    proc.once('exit', (code, signal) => {
      this.running.delete(running);
      if (running.outer) config.registry.removeGroup(this.id, running.outer.pgid);
      if (running.init) config.registry.removeGroup(this.id, running.init.pgid);
      config.log.debug({ sandboxId: this.id, pid: child.pid, code, signal }, 'sandbox process exited');
    });

    if (request.signal) {
      const onAbort = (): void => void this.stop([running]);
      if (request.signal.aborted) onAbort();
      else request.signal.addEventListener('abort', onAbort, { once: true });
      proc.once('exit', () => request.signal?.removeEventListener('abort', onAbort));
    }
    return proc;
  }

  /**
   * Processes the watchdog never kills as tools: bwrap, each init, the
   * command the init started (its oldest child that is not the bridge), and
   * the model-gateway bridge with the connections it forked. Everything else
   * was started by a command. While an init is not yet known, nothing is a tool.
   */
  protectedPids(procs: ProcStat[]): Set<number> {
    const keep = new Set<number>();
    for (const r of this.running) {
      if (!r.init) return new Set(procs.map((p) => p.pid));
      if (r.outer) keep.add(r.outer.pgid);
      keep.add(r.init.pgid);
      const children = procs.filter((p) => p.ppid === r.init!.pgid).sort((a, b) => Number(a.startTime) - Number(b.startTime));
      const bridges = children.filter((p) => this.isBridge(p.pid));
      for (const b of bridges) {
        keep.add(b.pid);
        for (const p of procs) if (p.ppid === b.pid) keep.add(p.pid);
      }
      const command = children.find((p) => !bridges.includes(p));
      if (command) keep.add(command.pid);
    }
    return keep;
  }

  /** A bridge's binary with a bridge's command line; a copy could not bind the port while the bridge runs. */
  private isBridge(pid: number): boolean {
    const socat = this.config.layout.socat;
    if (exePath(pid) !== socat) return false;
    const cmd = commandLine(pid, 1000);
    return [this.config.gatewayPort, this.config.egressPort].some((port) => cmd.startsWith(`${socat} TCP-LISTEN:${port},bind=127.0.0.1,`));
  }

  /** bwrap reports the host pid of the sandbox's init; signals go to its session's group. */
  private watchInfo(info: Readable, running: Running): void {
    let text = '';
    let done = false;
    const tryParse = (): void => {
      if (done) return;
      let childPid: unknown;
      try {
        childPid = (JSON.parse(text) as Record<string, unknown>)['child-pid'];
      } catch {
        return; // incomplete
      }
      done = true;
      if (typeof childPid !== 'number') return;
      const stat = readProcStat(childPid);
      if (!stat) return; // already gone: the command exited at once
      running.init = { pgid: childPid, startTime: stat.startTime };
      if (!running.proc.hasExited) this.config.registry.addGroup(this.id, { ...running.init, term: true });
      running.proc.setTarget(running.init);
    };
    info.setEncoding('utf8');
    info.on('data', (chunk: string) => {
      text += chunk;
      tryParse();
    });
    info.on('error', () => {});
  }

  /** SIGTERM to each command's group, SIGKILL after the grace period, then wait for the exits. */
  private async stop(list: Running[]): Promise<void> {
    await stopGroups(
      list.flatMap((r) => (r.init ? [r.init] : [])),
      list.flatMap((r) => (r.outer ? [r.outer] : [])),
      this.config.killGraceMs,
    );
    await Promise.all(
      list.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.proc.hasExited) return resolve();
            r.proc.once('exit', () => resolve());
            setTimeout(resolve, 2_000).unref();
          }),
      ),
    );
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await this.stop([...this.running]);
      // Anything recorded but no longer tracked here (cannot normally
      // happen) is stopped by the registry, which also removes the home dir.
      await this.config.registry.destroy(this.id, this.config.killGraceMs);
      await this.config.limits?.destroy();
      this.onDestroyed();
      this.config.log.info({ sandboxId: this.id }, 'sandbox destroyed');
    })();
    return this.destroying;
  }
}
