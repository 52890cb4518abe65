import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../logger.js';
import { SandboxUnavailableError, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxSpec } from '../provider.js';
import { HostLimits } from '../host-limits.js';
import { SandboxRegistry } from '../registry.js';
import { MAX_LINE_BYTES } from '../tracked-process.js';
import type { HostLayout } from './args.js';
import { readHostLayout, writeGeneratedEtc } from './host-layout.js';
import { BwrapSandbox } from './sandbox.js';

const execFileAsync = promisify(execFile);

export interface BwrapProviderOptions {
  /** Provider-owned state: the sandbox registry, generated /etc files, each sandbox's home. */
  runtimeDir: string;
  log: Logger;
  /** The sandbox user inside (the Claude CLI refuses bypassPermissions as root). Default 1000. */
  uid?: number;
  gid?: number;
  /** Loopback port inside each sandbox where the model gateway is bridged. Default 4747. */
  gatewayPort?: number;
  /** Loopback port inside each sandbox where the egress proxy is bridged. Default 3128. */
  egressPort?: number;
  /** Extra host paths shown read-only at the same path (e.g. a toolchain under /opt). */
  readOnlyPaths?: string[];
  /** Between SIGTERM and SIGKILL when stopping processes. Default 2000. */
  killGraceMs?: number;
  bwrapPath?: string;
  /** Where cgroups are mounted, or a delegated cgroup v2 subtree. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}


/** HOME inside every bwrap sandbox; backed by <runtimeDir>/bwrap/sandboxes/<id>/home. */
export const BWRAP_HOME = '/home/agent';

const FIX_USERNS =
  'bubblewrap could not create a user namespace. Check `sysctl kernel.unprivileged_userns_clone` (Debian: 1) ' +
  'and `sysctl user.max_user_namespaces` (> 0); on Ubuntu 23.10+ set kernel.apparmor_restrict_unprivileged_userns=0 ' +
  'or add an AppArmor profile for bwrap; in a container allow unshare (e.g. docker run --security-opt ' +
  'seccomp=unconfined --security-opt apparmor=unconfined). Or use the `process` provider for development.';

export class BwrapProvider implements SandboxProvider {
  readonly name = 'bwrap';
  readonly isolated = true;
  private readonly registry: SandboxRegistry;
  private readonly live = new Map<string, BwrapSandbox>();
  private layout: HostLayout | undefined;
  private readonly uid: number;
  private readonly gid: number;
  private readonly bwrapPath: string;

  constructor(private readonly options: BwrapProviderOptions) {
    this.registry = new SandboxRegistry(options.runtimeDir, this.name);
    this.uid = options.uid ?? 1000;
    this.gid = options.gid ?? 1000;
    this.bwrapPath = options.bwrapPath ?? 'bwrap';
  }

  /** Read once: the host's layout does not change while the server runs. */
  private hostLayout(): HostLayout {
    if (!this.layout) {
      const etcDir = join(this.options.runtimeDir, this.name, 'etc');
      writeGeneratedEtc(etcDir, { uid: this.uid, gid: this.gid, homeDir: BWRAP_HOME, hostname: 'sandbox' });
      this.layout = readHostLayout(etcDir);
    }
    return this.layout;
  }

  async check(): Promise<void> {
    try {
      await execFileAsync(this.bwrapPath, ['--version'], { env: {} });
    } catch (error) {
      throw new SandboxUnavailableError(
        `bubblewrap (${this.bwrapPath}) cannot be run: ${(error as Error).message}. Install it: apt-get install bubblewrap`,
      );
    }
    const layout = this.hostLayout();
    const trial = ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session'];
    trial.push('--uid', String(this.uid), '--gid', String(this.gid), '--ro-bind', '/usr', '/usr');
    for (const e of layout.rootEntries) {
      if (e.symlinkTarget !== undefined) trial.push('--symlink', e.symlinkTarget, e.path);
      else trial.push('--ro-bind', e.path, e.path);
    }
    trial.push('--proc', '/proc', '--dev', '/dev', '--', '/bin/sh', '-c', 'exit 0');
    try {
      await execFileAsync(this.bwrapPath, trial, { env: {}, timeout: 10_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      if (stderr.includes('disable-userns')) {
        throw new SandboxUnavailableError(`bubblewrap 0.8 or newer is required (--disable-userns): ${stderr}`);
      }
      throw new SandboxUnavailableError(`${FIX_USERNS} (bwrap said: ${stderr || (error as Error).message})`);
    }
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (this.live.has(spec.id)) throw new Error(`sandbox ${spec.id} already exists; destroy it first`);
    const layout = this.hostLayout();
    const grace = this.options.killGraceMs ?? 2_000;
    const dir = await this.registry.register(spec.id, spec.workspaceId, this.name, grace);
    const homeHostDir = join(dir, 'home');
    mkdirSync(homeHostDir, { recursive: true, mode: 0o700 });
    let limits: HostLimits | undefined;
    if (spec.limits) {
      try {
        limits = HostLimits.create({
          provider: this.name,
          runtimeDir: this.options.runtimeDir,
          cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup',
          id: spec.id,
          limits: spec.limits,
          writableDirs: [...new Set([spec.workspaceDir, spec.configDir, spec.tmpDir, homeHostDir])],
          protectedPids: (procs) => sandbox.protectedPids(procs),
          report: (event) => spec.onLimit?.(event),
          log: this.options.log.child({ sandboxId: spec.id, provider: this.name }),
        });
      } catch (error) {
        await this.registry.destroy(spec.id, grace);
        throw error;
      }
    }
    const sandbox: BwrapSandbox = new BwrapSandbox(
      spec,
      {
        bwrapPath: this.bwrapPath,
        layout,
        registry: this.registry,
        homeHostDir,
        homeDir: BWRAP_HOME,
        uid: this.uid,
        gid: this.gid,
        gatewayPort: this.options.gatewayPort ?? 4747,
        egressPort: this.options.egressPort ?? 3128,
        readOnlyPaths: this.options.readOnlyPaths ?? [],
        killGraceMs: grace,
        log: this.options.log.child({ sandboxId: spec.id, provider: this.name }),
        maxLineBytes: MAX_LINE_BYTES,
        ...(limits ? { limits } : {}),
      },
      () => this.live.delete(spec.id),
    );
    this.live.set(spec.id, sandbox);
    return sandbox;
  }

  async list(): Promise<SandboxInfo[]> {
    return this.registry.list().map((id) => ({ id, provider: this.name }));
  }

  async destroy(id: string): Promise<void> {
    const sandbox = this.live.get(id);
    if (sandbox) return sandbox.destroy();
    await this.registry.destroy(id, this.options.killGraceMs ?? 2_000);
    await HostLimits.destroyLeftover({ provider: this.name, runtimeDir: this.options.runtimeDir, cgroupRoot: this.options.cgroupRoot ?? '/sys/fs/cgroup', id });
  }
}
