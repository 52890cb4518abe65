import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import type { HostLayout } from '../bwrap/args.js';
import { resolveCommand } from '../bwrap/host-layout.js';
import { hostCommand } from '../host-commands.js';
import type { HostLimits } from '../host-limits.js';
import { diesWithServer } from '../dies-with-server.js';
import { readProcStat, stopGroups, type GroupRecord } from '../host-processes.js';
import type { Sandbox, SandboxSpec, SpawnRequest } from '../provider.js';
import type { SandboxRegistry } from '../registry.js';
import { TrackedProcess } from '../tracked-process.js';
import { buildOciSpec } from './oci.js';
import { runscArgs, type Runsc } from './runsc.js';

/** The I/O half of a gVisor sandbox: one `runsc run` (one gVisor kernel) per spawned process. */

export interface GvisorSandboxConfig {
  runsc: Runsc;
  layout: HostLayout;
  rootfs: string;
  registry: SandboxRegistry;
  dir: string;
  homeHostDir: string;
  homeDir: string;
  uid: number;
  gid: number;
  gatewayPort: number;
  egressPort: number;
  readOnlyPaths: string[];
  killGraceMs: number;
  maxLineBytes: number;
  log: Logger;
  limits?: HostLimits;
  /** Told when a container's process ends. */
  onContainerExit?: (container: string, code: number | null) => void;
}

interface Running {
  proc: TrackedProcess;
  container: string;
  group?: GroupRecord;
}

export class GvisorSandbox implements Sandbox {
  readonly provider = 'gvisor';
  readonly id: string;
  readonly modelBaseUrl: string;
  readonly homeDir: string;
  private readonly running = new Set<Running>();
  private destroying: Promise<void> | undefined;
  private seq = 0;

  constructor(
    private readonly spec: SandboxSpec,
    private readonly config: GvisorSandboxConfig,
    private readonly onDestroyed: () => void,
  ) {
    this.id = spec.id;
    this.homeDir = config.homeDir;
    this.modelBaseUrl = `http://127.0.0.1:${config.gatewayPort}`;
  }

  /** Containers of this sandbox that are running, for the tool watchdog. */
  containers(): string[] {
    return [...this.running].filter((r) => !r.proc.hasExited).map((r) => r.container);
  }

  spawn(request: SpawnRequest): TrackedProcess {
    if (this.destroying) throw new Error(`sandbox ${this.id} has been destroyed`);
    const { config } = this;
    const container = `${this.id}.${++this.seq}`;
    const bundle = join(config.dir, 'bundles', String(this.seq));
    mkdirSync(bundle, { recursive: true, mode: 0o700 });
    const resolved = resolveCommand(request.command, config.layout);
    const limits = this.spec.limits;
    const oci = buildOciSpec(this.spec, {
      layout: config.layout,
      request: { ...request, command: resolved.command },
      rootfs: config.rootfs,
      readOnlyPaths: [...config.readOnlyPaths, ...resolved.readOnlyPaths],
      homeHostDir: config.homeHostDir,
      homeDir: config.homeDir,
      uid: config.uid,
      gid: config.gid,
      hostname: 'sandbox',
      gatewayPort: config.gatewayPort,
      egressPort: config.egressPort,
      ...(limits ? { tmpfsBytes: limits.diskMib * 1024 * 1024, fileSizeBytes: limits.diskMib * 1024 * 1024, processes: limits.pids } : {}),
    });
    // config.json holds the environment (the session's token): root-only, and outside every sandbox.
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(oci), { mode: 0o600 });
    const args = runscArgs(config.runsc, ['run', '--bundle', bundle, container]);
    const host = diesWithServer(config.limits ? config.limits.wrap(config.runsc.path, args, { fileSizeLimit: false }) : { command: config.runsc.path, args });
    const child = spawn(host.command, host.args, { detached: true, env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    const proc = new TrackedProcess(child, {
      maxLineBytes: config.maxLineBytes,
      onLineTooLong: () => this.spec.onLimit?.({ kind: 'output', message: `a process wrote a line of more than ${config.maxLineBytes} bytes to its output and was killed` }),
      // Every process of the container, like a process group: runsc run alone would signal only its init.
      signal: (signal) => {
        void hostCommand(config.runsc.path, runscArgs(config.runsc, ['kill', '--all', container, signal.replace(/^SIG/, '')])).then((r) => {
          // Not created yet (or gone): runsc run forwards signals to the container's init.
          if (r.error !== undefined && !proc.hasExited) child.kill(signal);
        });
        return true;
      },
    });
    const running: Running = { proc, container };
    this.running.add(running);
    const stat = child.pid === undefined ? undefined : readProcStat(child.pid);
    if (child.pid !== undefined && stat) {
      running.group = { pgid: child.pid, startTime: stat.startTime };
      config.registry.addGroup(this.id, { ...running.group, term: false });
    }
    proc.once('exit', (code, signal) => {
      this.running.delete(running);
      if (running.group) config.registry.removeGroup(this.id, running.group.pgid);
      rmSync(bundle, { recursive: true, force: true });
      config.onContainerExit?.(container, code);
      // runsc leaves a stopped container's state until it is deleted.
      void hostCommand(config.runsc.path, runscArgs(config.runsc, ['delete', '--force', container]));
      config.log.debug({ sandboxId: this.id, container, code, signal }, 'sandbox process exited');
    });
    if (request.signal) {
      const onAbort = (): void => void this.stop([running]);
      if (request.signal.aborted) onAbort();
      else request.signal.addEventListener('abort', onAbort, { once: true });
      proc.once('exit', () => request.signal?.removeEventListener('abort', onAbort));
    }
    return proc;
  }

  /** SIGTERM to every process of each container, SIGKILL after the grace period. */
  private async stop(list: Running[]): Promise<void> {
    const exited = (r: Running): Promise<void> =>
      new Promise((resolve) => {
        if (r.proc.hasExited) return resolve();
        r.proc.once('exit', () => resolve());
      });
    for (const r of list) r.proc.kill('SIGTERM');
    const all = Promise.all(list.map(exited));
    const timer = new Promise((r) => setTimeout(r, this.config.killGraceMs).unref());
    await Promise.race([all, timer]);
    for (const r of list) if (!r.proc.hasExited) r.proc.kill('SIGKILL');
    // runsc run's own group, in case it hangs: the attached sandbox dies with it.
    await stopGroups([], list.flatMap((r) => (r.group && !r.proc.hasExited ? [r.group] : [])), 2_000).catch(() => undefined);
    await Promise.race([all, new Promise((r) => setTimeout(r, 3_000).unref())]);
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await this.stop([...this.running]);
      await this.config.registry.destroy(this.id, this.config.killGraceMs);
      await this.config.limits?.destroy();
      this.onDestroyed();
      this.config.log.info({ sandboxId: this.id }, 'sandbox destroyed');
    })();
    return this.destroying;
  }
}
