import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { HostLimits } from '../host-limits.js';
import { groupMembers, readProcStat, stopGroups, type GroupRecord } from '../host-processes.js';
import { SandboxUnsupportedError, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxSpec, type SpawnRequest } from '../provider.js';
import { SandboxRegistry } from '../registry.js';
import { MAX_LINE_BYTES, TrackedProcess } from '../tracked-process.js';

/**
 * No isolation, for development on machines without bubblewrap: processes
 * run directly on the host as the server's user, see the whole filesystem
 * and network, and reach the gateway at its loopback TCP URL. What it does
 * keep: the environment is exactly the request's, every process runs in its
 * own process group, and `destroy` and start-up cleanup kill those groups.
 * It cannot kill a tool that moved itself to another process group, nor
 * anything when the server is SIGKILLed (start-up cleanup does it next time).
 */

export interface ProcessProviderOptions {
  /** Provider-owned state: the sandbox registry and each sandbox's home. */
  runtimeDir: string;
  log: Logger;
  /** Between SIGTERM and SIGKILL when stopping processes. Default 2000. */
  killGraceMs?: number;
  /** Where cgroups are mounted, or a delegated cgroup v2 subtree. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

class ProcessSandbox implements Sandbox {
  readonly provider = 'process';
  readonly id: string;
  readonly modelBaseUrl: string;
  readonly homeDir: string;
  private readonly groups = new Map<number, { group: GroupRecord; proc: TrackedProcess }>();
  private destroying: Promise<void> | undefined;
  /** Set after construction, when the sandbox has limits. */
  limits: HostLimits | undefined;
  private readonly onLimit: SandboxSpec['onLimit'];

  constructor(
    spec: SandboxSpec,
    homeDir: string,
    private readonly registry: SandboxRegistry,
    private readonly graceMs: number,
    private readonly onDestroyed: () => void,
  ) {
    this.id = spec.id;
    this.homeDir = homeDir;
    this.modelBaseUrl = spec.gatewayUrl;
    this.onLimit = spec.onLimit;
  }

  spawn(request: SpawnRequest): TrackedProcess {
    if (this.destroying) throw new Error(`sandbox ${this.id} has been destroyed`);
    const host = this.limits ? this.limits.wrap(request.command, request.args) : { command: request.command, args: request.args };
    const child = spawn(host.command, host.args, {
      cwd: request.cwd,
      env: cleanEnv(request.env),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new TrackedProcess(child, {
      maxLineBytes: MAX_LINE_BYTES,
      onLineTooLong: () =>
        this.onLimit?.({ kind: 'output', message: `a process wrote a line of more than ${MAX_LINE_BYTES} bytes to its output and was killed` }),
    });
    const stat = child.pid === undefined ? undefined : readProcStat(child.pid);
    if (child.pid !== undefined && stat) {
      const group = { pgid: child.pid, startTime: stat.startTime };
      this.groups.set(group.pgid, { group, proc });
      this.registry.addGroup(this.id, { ...group, term: true });
      proc.setTarget(group);
      proc.once('exit', () => {
        // A backgrounded child may still run in the group: keep the record
        // (and kill it at destroy) until the group is empty.
        if (groupMembers(group).length === 0) {
          this.groups.delete(group.pgid);
          this.registry.removeGroup(this.id, group.pgid);
        }
      });
    }
    if (request.signal) {
      const onAbort = (): void => {
        if (child.pid !== undefined && stat) void stopGroups([{ pgid: child.pid, startTime: stat.startTime }], [], this.graceMs);
      };
      if (request.signal.aborted) onAbort();
      else request.signal.addEventListener('abort', onAbort, { once: true });
      proc.once('exit', () => request.signal?.removeEventListener('abort', onAbort));
    }
    return proc;
  }

  commandPids(): Set<number> {
    return new Set([...this.groups.values()].filter((e) => !e.proc.hasExited).map((e) => e.group.pgid));
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      const entries = [...this.groups.values()];
      await stopGroups(entries.map((e) => e.group), [], this.graceMs);
      await Promise.all(
        entries.map(
          ({ proc }) =>
            new Promise<void>((resolve) => {
              if (proc.hasExited) return resolve();
              proc.once('exit', () => resolve());
              setTimeout(resolve, 2_000).unref();
            }),
        ),
      );
      await this.registry.destroy(this.id, this.graceMs);
      await this.limits?.destroy();
      this.onDestroyed();
    })();
    return this.destroying;
  }
}

export class ProcessProvider implements SandboxProvider {
  readonly name = 'process';
  readonly isolated = false;
  private readonly registry: SandboxRegistry;
  private readonly live = new Map<string, ProcessSandbox>();

  constructor(private readonly options: ProcessProviderOptions) {
    this.registry = new SandboxRegistry(options.runtimeDir, this.name);
    options.log.warn(
      { provider: this.name },
      'SANDBOX PROVIDER "process" DOES NOT ISOLATE: agents run as this server\'s user with its files and network. Use it for development only; use "bwrap" in production.',
    );
  }

  async check(): Promise<void> {
    // Runs anywhere Node runs.
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (spec.egressLimited) {
      throw new SandboxUnsupportedError(this.name, 'config.networking limited', 'its processes use the host network directly; use an isolated provider (bwrap, gvisor, docker)');
    }
    if (this.live.has(spec.id)) throw new Error(`sandbox ${spec.id} already exists; destroy it first`);
    const grace = this.options.killGraceMs ?? 2_000;
    const dir = await this.registry.register(spec.id, spec.workspaceId, this.name, grace);
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const sandbox = new ProcessSandbox(spec, home, this.registry, grace, () => this.live.delete(spec.id));
    if (spec.limits) {
      try {
        sandbox.limits = HostLimits.create({
          provider: this.name,
          runtimeDir: this.options.runtimeDir,
          cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup',
          id: spec.id,
          limits: spec.limits,
          writableDirs: [...new Set([spec.workspaceDir, spec.configDir, spec.tmpDir, home])],
          // The commands spawn() started; what they start are the tools.
          protectedPids: () => sandbox.commandPids(),
          report: (event) => spec.onLimit?.(event),
          log: this.options.log.child({ sandboxId: spec.id, provider: this.name }),
        });
      } catch (error) {
        await this.registry.destroy(spec.id, grace);
        throw error;
      }
    }
    this.live.set(spec.id, sandbox);
    return sandbox;
  }

  async list(): Promise<SandboxInfo[]> {
    HostLimits.removeLeftovers({ provider: this.name, cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup' });
    return this.registry.list().map((id) => ({ id, provider: this.name }));
  }

  async destroy(id: string): Promise<void> {
    const sandbox = this.live.get(id);
    if (sandbox) return sandbox.destroy();
    await this.registry.destroy(id, this.options.killGraceMs ?? 2_000);
    await HostLimits.destroyLeftover({ provider: this.name, runtimeDir: this.options.runtimeDir, cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup', id });
  }
}
