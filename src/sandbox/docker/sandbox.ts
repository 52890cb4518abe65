import { realpathSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../../logger.js';
import type { Sandbox, SandboxSpec, SpawnRequest } from '../provider.js';
import type { Monitor } from './monitor.js';
import { DockerProcess } from './process.js';
import { buildExec } from './spec.js';
import type { DockerWatch } from './watch.js';

/** The I/O half of a docker sandbox: one container, one exec per spawned process. */

export interface DockerSandboxConfig {
  docker: Docker;
  container: Docker.Container;
  monitor: Monitor;
  watch?: DockerWatch;
  /** Host pid of the container's init, when the engine reported one. */
  initPid: number | undefined;
  homeHostDir: string;
  homeDir: string;
  uid: number;
  gid: number;
  gatewayPort: number;
  egressPort: number;
  /** Host paths mounted read-only at the same path; commands under them run by their real path. */
  readOnlyPaths: string[];
  imageEnv: string[];
  killGraceMs: number;
  maxLineBytes: number;
  log: Logger;
}

export class DockerSandbox implements Sandbox {
  readonly provider = 'docker';
  readonly id: string;
  readonly modelBaseUrl: string;
  readonly homeDir: string;
  private readonly running = new Set<DockerProcess>();
  private destroying: Promise<void> | undefined;
  private seq = 0;

  constructor(
    private readonly spec: SandboxSpec,
    private readonly config: DockerSandboxConfig,
    private readonly onDestroyed: () => void,
  ) {
    this.id = spec.id;
    this.homeDir = config.homeDir;
    this.modelBaseUrl = `http://127.0.0.1:${config.gatewayPort}`;
    // The container stopped on its own (its monitor died): nothing in it runs any more.
    config.monitor.whenClosed(() => {
      for (const p of this.running) setTimeout(() => p.finish(null, 'SIGKILL'), 2_000).unref();
    });
  }

  /** A symlinked command (node_modules/.bin) runs by its real path when that is mounted. */
  private resolve(command: string): string {
    if (!command.startsWith('/')) return command;
    try {
      const real = realpathSync(command);
      return this.config.readOnlyPaths.some((p) => real === p || real.startsWith(`${p}/`)) ? real : command;
    } catch {
      return command;
    }
  }

  spawn(request: SpawnRequest): DockerProcess {
    if (this.destroying) throw new Error(`sandbox ${this.id} has been destroyed`);
    const { config } = this;
    const seq = ++this.seq;
    const exec = buildExec(
      { ...request, command: this.resolve(request.command) },
      { seq, uid: config.uid, gid: config.gid, egressPort: config.egressPort, egress: this.spec.egressSocket !== undefined, imageEnv: config.imageEnv },
    );
    const proc: DockerProcess = new DockerProcess(seq, config.initPid, {
      maxLineBytes: config.maxLineBytes,
      onLineTooLong: () => this.spec.onLimit?.({ kind: 'output', message: `a process wrote a line of more than ${config.maxLineBytes} bytes to its output and was killed` }),
      signal: (signal) => void this.deliver(proc, signal),
    });
    this.running.add(proc);
    proc.once('exit', (code, signal) => {
      this.running.delete(proc);
      config.log.debug({ sandboxId: this.id, seq, code, signal }, 'sandbox process exited');
    });
    const demux = config.docker.modem.demuxStream.bind(config.docker.modem) as (s: NodeJS.ReadableStream, o: NodeJS.WritableStream, e: NodeJS.WritableStream) => void;
    void (async () => {
      const e = await config.container.exec({ ...exec, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false });
      const socket = await e.start({ hijack: true, stdin: true });
      proc.wire(socket, demux);
      await new Promise<void>((resolve) => {
        socket.once('end', resolve);
        socket.once('close', resolve);
      });
      let code: number | null = null;
      for (let i = 0; i < 100; i++) {
        const info = await e.inspect().catch(() => undefined);
        if (!info) break;
        if (!info.Running) {
          code = info.ExitCode ?? null;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      proc.finish(code, 'SIGKILL');
    })().catch((error: unknown) => proc.fail(error as Error));
    if (request.signal) {
      const onAbort = (): void => void this.stop([proc]);
      if (request.signal.aborted) onAbort();
      else request.signal.addEventListener('abort', onAbort, { once: true });
      proc.once('exit', () => request.signal?.removeEventListener('abort', onAbort));
    }
    return proc;
  }

  /** Through the monitor; retried while the exec's wrapper has not yet recorded its pid. */
  private async deliver(proc: DockerProcess, signal: NodeJS.Signals): Promise<void> {
    for (let i = 0; i < 100 && !proc.hasExited && !this.config.monitor.isClosed; i++) {
      if (await this.config.monitor.signal(proc.seq, signal)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM to each process's group, SIGKILL after the grace period. */
  private async stop(list: DockerProcess[]): Promise<void> {
    const live = list.filter((p) => !p.hasExited);
    if (live.length === 0) return;
    const exited = Promise.all(live.map((p) => new Promise<void>((r) => (p.hasExited ? r() : p.once('exit', () => r())))));
    for (const p of live) p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, this.config.killGraceMs).unref())]);
    for (const p of live) if (!p.hasExited) p.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await this.config.watch?.finish();
      await this.stop([...this.running]);
      await removeContainer(this.config.container);
      this.config.monitor.close();
      for (const p of this.running) p.finish(null, 'SIGKILL');
      rmSync(dirname(this.config.homeHostDir), { recursive: true, force: true });
      this.onDestroyed();
      this.config.log.info({ sandboxId: this.id }, 'sandbox destroyed');
    })();
    return this.destroying;
  }
}

/** Removes a container with everything running in it. Idempotent: a container already gone is fine. */
export async function removeContainer(container: Docker.Container): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      // Podman can answer a forced removal of a container that is stopping on its own and keep it: look again.
      if (!(await container.inspect().then(() => true, () => false))) return;
      if (attempt >= 50) throw new Error(`container ${container.id} is still there after removal`);
      await new Promise((r) => setTimeout(r, 100));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return;
      // A container that is stopping on its own, or a removal already under way, is refused for a moment.
      if (attempt >= 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
