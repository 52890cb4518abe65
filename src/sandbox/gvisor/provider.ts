import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../logger.js';
import type { HostLayout } from '../bwrap/args.js';
import { readHostLayout, writeGeneratedEtc } from '../bwrap/host-layout.js';
import { hostCommand } from '../host-commands.js';
import { HostLimits } from '../host-limits.js';
import type { ProcStat } from '../host-processes.js';
import { SANDBOX_HOST_UID, chownTree } from '../ownership.js';
import { SandboxUnavailableError, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxSpec } from '../provider.js';
import { SandboxRegistry } from '../registry.js';
import { MAX_LINE_BYTES } from '../tracked-process.js';
import { runscArgs, runscList, type Runsc } from './runsc.js';
import { GvisorSandbox } from './sandbox.js';
import { GvisorTools } from './tools.js';

const execFileAsync = promisify(execFile);

export interface GvisorProviderOptions {
  runtimeDir: string;
  log: Logger;
  /** Default `runsc` on PATH. */
  runscPath?: string;
  /** Extra runsc global flags, e.g. `--platform=systrap` (the default platform is ptrace). */
  runscFlags?: string[];
  /** The user inside, and the owner of the writable dirs on the host. Default `SANDBOX_HOST_UID`; gid defaults to the uid. */
  uid?: number;
  gid?: number;
  gatewayPort?: number;
  egressPort?: number;
  readOnlyPaths?: string[];
  killGraceMs?: number;
  cgroupRoot?: string;
}

const HOME = '/home/agent';
/** Host threads of one runsc sandbox (Sentry, gofer, platform stubs) on top of the sandbox's own processes. */
const GVISOR_HOST_THREADS = 512;

/**
 * gVisor: every process the sandbox spawns runs under its own gVisor
 * kernel (`runsc run` of an OCI bundle), so the Claude Code CLI and its
 * tools make their system calls to gVisor's Sentry, not to the host. Files
 * come through gVisor's gofer with bwrap's layout; there is no network
 * stack but loopback, and the only host sockets reachable are the gateway's
 * and the egress proxy's. runsc runs as root (agenthost's user); inside, the
 * process is `SANDBOX_HOST_UID` (or the configured uid) with no capabilities
 * and no-new-privileges.
 */
export class GvisorProvider implements SandboxProvider {
  readonly name = 'gvisor';
  readonly isolated = true;
  private readonly registry: SandboxRegistry;
  private readonly live = new Map<string, GvisorSandbox>();
  private readonly runsc: Runsc;
  private layout: HostLayout | undefined;
  private readonly uid: number;
  private readonly gid: number;

  constructor(private readonly options: GvisorProviderOptions) {
    this.registry = new SandboxRegistry(options.runtimeDir, this.name);
    this.runsc = { path: options.runscPath ?? 'runsc', root: join(options.runtimeDir, this.name, 'state'), flags: options.runscFlags ?? [] };
    this.uid = options.uid ?? SANDBOX_HOST_UID;
    this.gid = options.gid ?? this.uid;
  }

  private get rootfs(): string {
    return join(this.options.runtimeDir, this.name, 'rootfs');
  }

  /** The host layout, the generated /etc files and the skeleton root, made once. */
  private hostLayout(): HostLayout {
    if (!this.layout) {
      const base = join(this.options.runtimeDir, this.name);
      writeGeneratedEtc(join(base, 'etc'), { uid: this.uid, gid: this.gid, homeDir: HOME, hostname: 'sandbox' });
      const layout = readHostLayout(join(base, 'etc'));
      rmSync(this.rootfs, { recursive: true, force: true });
      for (const d of ['usr', 'etc', 'proc', 'dev', 'tmp', 'home/agent', 'run/agenthost', 'var']) mkdirSync(join(this.rootfs, d), { recursive: true });
      symlinkSync('/tmp', join(this.rootfs, 'var/tmp'));
      for (const e of layout.rootEntries) {
        if (e.symlinkTarget !== undefined) symlinkSync(e.symlinkTarget, join(this.rootfs, e.path));
        else mkdirSync(join(this.rootfs, e.path), { recursive: true });
      }
      mkdirSync(this.runsc.root, { recursive: true, mode: 0o700 });
      this.layout = layout;
    }
    return this.layout;
  }

  async check(): Promise<void> {
    try {
      await execFileAsync(this.runsc.path, ['--version'], { env: {} });
    } catch (error) {
      throw new SandboxUnavailableError(`runsc (${this.runsc.path}) cannot be run: ${(error as Error).message}. Install gVisor: apt-get install runsc (Debian 12: from bookworm-backports)`);
    }
    if (process.getuid?.() !== 0) throw new SandboxUnavailableError('the gvisor provider runs runsc as root; run agenthost as root');
    this.hostLayout();
    const trial = join(this.options.runtimeDir, this.name, 'check');
    mkdirSync(trial, { recursive: true });
    writeFileSync(
      join(trial, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { user: { uid: this.uid, gid: this.gid }, args: ['/bin/sh', '-c', 'exit 0'], env: ['PATH=/usr/bin:/bin'], cwd: '/', capabilities: {}, noNewPrivileges: true },
        root: { path: this.rootfs, readonly: true },
        mounts: [{ destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] }],
        linux: { namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
      }),
    );
    try {
      await execFileAsync(this.runsc.path, runscArgs(this.runsc, ['run', '--bundle', trial, `check-${process.pid}`]), { env: {}, timeout: 30_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      throw new SandboxUnavailableError(`runsc could not start a sandbox: ${stderr.split('\n').slice(-3).join(' ') || (error as Error).message}`);
    } finally {
      rmSync(trial, { recursive: true, force: true });
    }
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (this.live.has(spec.id)) throw new Error(`sandbox ${spec.id} already exists; destroy it first`);
    const layout = this.hostLayout();
    const grace = this.options.killGraceMs ?? 2_000;
    // gVisor checks permissions itself, as the user inside: the writable dirs must be that user's.
    await chownTree([spec.workspaceDir, spec.configDir, spec.tmpDir], this.uid, this.gid);
    const dir = await this.registry.register(spec.id, spec.workspaceId, this.name, grace);
    const homeHostDir = join(dir, 'home');
    mkdirSync(homeHostDir, { recursive: true, mode: 0o700 });
    chownSync(homeHostDir, this.uid, this.gid);
    const log = this.options.log.child({ sandboxId: spec.id, provider: this.name });
    let tools: GvisorTools | undefined;
    let limits: HostLimits | undefined;
    if (spec.limits) {
      tools = new GvisorTools({ runsc: this.runsc, containers: () => sandbox.containers(), timeoutS: spec.limits.toolTimeoutS, pids: spec.limits.pids, report: (e) => spec.onLimit?.(e), log });
      try {
        limits = HostLimits.create({
          provider: this.name,
          runtimeDir: this.options.runtimeDir,
          cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup',
          id: spec.id,
          // The host cgroup also counts gVisor's own threads (about a hundred per process spawned);
          // the sandbox's processes are counted inside, by RLIMIT_NPROC.
          limits: { ...spec.limits, pids: spec.limits.pids + GVISOR_HOST_THREADS },
          writableDirs: [...new Set([spec.workspaceDir, spec.configDir, spec.tmpDir, homeHostDir])],
          insideDirs: [HOME],
          fileWriters: gvisorFileHolders,
          // On the host only runsc's own processes are visible: none of them is a tool.
          protectedPids: (procs) => new Set(procs.map((p) => p.pid)),
          killTools: () => void tools?.killAll(),
          report: (event) => spec.onLimit?.(event),
          log,
        });
      } catch (error) {
        await this.registry.destroy(spec.id, grace);
        throw error;
      }
    }
    const sandbox: GvisorSandbox = new GvisorSandbox(
      spec,
      {
        runsc: this.runsc,
        layout,
        rootfs: this.rootfs,
        registry: this.registry,
        dir,
        homeHostDir,
        homeDir: HOME,
        uid: this.uid,
        gid: this.gid,
        gatewayPort: this.options.gatewayPort ?? 4747,
        egressPort: this.options.egressPort ?? 3128,
        readOnlyPaths: this.options.readOnlyPaths ?? [],
        killGraceMs: grace,
        maxLineBytes: MAX_LINE_BYTES,
        log,
        ...(limits ? { limits } : {}),
        ...(tools ? { onContainerExit: (c: string, code: number | null) => tools?.exited(c, code) } : {}),
      },
      () => {
        tools?.stop();
        this.live.delete(spec.id);
      },
    );
    tools?.start();
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
    // A sandbox of an earlier run: its runsc processes, its containers' state, its cgroup.
    await this.registry.destroy(id, this.options.killGraceMs ?? 2_000);
    for (const container of (await runscList(this.runsc).catch(() => [])).filter((c) => c.startsWith(`${id}.`))) {
      await hostCommand(this.runsc.path, runscArgs(this.runsc, ['kill', '--all', container, 'KILL']));
      await hostCommand(this.runsc.path, runscArgs(this.runsc, ['delete', '--force', container]));
    }
    await HostLimits.destroyLeftover({ provider: this.name, runtimeDir: this.options.runtimeDir, cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup', id });
  }
}

/**
 * The host processes that hold a gVisor sandbox's host files: each `runsc
 * run` (a process of the cgroup whose parent is outside it) and its children,
 * the gofer and the sentry. Not the sentry's stub processes below them, which
 * share its descriptors and number as many as the sandbox's tasks.
 */
export function gvisorFileHolders(procs: ProcStat[]): number[] {
  const all = new Set(procs.map((p) => p.pid));
  const roots = new Set(procs.filter((p) => !all.has(p.ppid)).map((p) => p.pid));
  return procs.filter((p) => roots.has(p.pid) || roots.has(p.ppid)).map((p) => p.pid);
}
