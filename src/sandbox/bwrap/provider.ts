import { execFile, spawn } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../logger.js';
import { SandboxUnavailableError, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxSpec } from '../provider.js';
import { HostLimits } from '../host-limits.js';
import { SANDBOX_HOST_UID, chownTree } from '../ownership.js';
import { SandboxRegistry } from '../registry.js';
import { compileBpf } from '../seccomp.js';
import { MAX_LINE_BYTES } from '../tracked-process.js';
import { dropToUser, identityArgs, type HostLayout, type SandboxIdentity } from './args.js';
import { readHostLayout, writeGeneratedEtc } from './host-layout.js';
import { BwrapSandbox } from './sandbox.js';

const execFileAsync = promisify(execFile);

export interface BwrapProviderOptions {
  /** Provider-owned state: the sandbox registry, generated /etc files, each sandbox's home. */
  runtimeDir: string;
  log: Logger;
  /**
   * Who sandboxes' processes are (`args.ts` says how): `host-user` by default
   * when the server runs as root, else `user-namespace`.
   */
  identity?: SandboxIdentity;
  /**
   * The sandbox user (the Claude CLI refuses bypassPermissions as root).
   * Default: `SANDBOX_HOST_UID` for `host-user`, 1000 inside a user namespace.
   */
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


/** Runs bwrap with `input` on its stdin; never rejects. */
function runTrial(bwrap: string, args: string[], input: Buffer): Promise<{ code: number | null; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(bwrap, args, { env: {}, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.once('error', (error) => resolve({ code: null, stderr, error: error.message }));
    child.once('close', (code) => resolve({ code, stderr }));
  });
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
  private readonly identity: SandboxIdentity;
  private readonly uid: number;
  private readonly gid: number;
  private readonly bwrapPath: string;
  private seccomp: Buffer | undefined;

  constructor(private readonly options: BwrapProviderOptions) {
    this.registry = new SandboxRegistry(options.runtimeDir, this.name);
    this.identity = options.identity ?? (process.getuid?.() === 0 ? 'host-user' : 'user-namespace');
    const uid = this.identity === 'host-user' ? SANDBOX_HOST_UID : 1000;
    this.uid = options.uid ?? uid;
    this.gid = options.gid ?? options.uid ?? uid;
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

  /** Compiled once; an architecture the policy has no syscall numbers for cannot run bwrap sandboxes. */
  private seccompFilter(): Buffer {
    try {
      this.seccomp ??= compileBpf();
    } catch (error) {
      throw new SandboxUnavailableError(`bwrap sandboxes need a seccomp filter: ${(error as Error).message}`);
    }
    return this.seccomp;
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
    const trial = [...identityArgs(this.identity, this.uid, this.gid), '--die-with-parent', '--new-session', '--ro-bind', '/usr', '/usr'];
    for (const e of layout.rootEntries) {
      if (e.symlinkTarget !== undefined) trial.push('--symlink', e.symlinkTarget, e.path);
      else trial.push('--ro-bind', e.path, e.path);
    }
    // The filter comes on stdin (read to its end before the command starts); the command must run under it (mode 2).
    const underFilter = 'while read -r key value; do [ "$key" = Seccomp: ] && [ "$value" = 2 ] && exit 0; done < /proc/self/status; exit 3';
    trial.push('--proc', '/proc', '--dev', '/dev', '--seccomp', '0', '--', ...dropToUser(this.identity, layout, this.uid, this.gid), '/bin/sh', '-c', underFilter);
    const result = await runTrial(this.bwrapPath, trial, this.seccompFilter());
    if (result.code === 0) return;
    const stderr = result.stderr.trim();
    if (stderr.includes('disable-userns')) {
      throw new SandboxUnavailableError(`bubblewrap 0.8 or newer is required (--disable-userns): ${stderr}`);
    }
    if (stderr.includes('seccomp')) throw new SandboxUnavailableError(`bubblewrap could not load agenthost's seccomp filter: ${stderr}`);
    if (result.code === 3) throw new SandboxUnavailableError('bubblewrap started a sandbox without its seccomp filter; refusing to run sandboxes');
    throw new SandboxUnavailableError(`${FIX_USERNS} (bwrap said: ${stderr || result.error || `exit ${result.code}`})`);
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (this.live.has(spec.id)) throw new Error(`sandbox ${spec.id} already exists; destroy it first`);
    const layout = this.hostLayout();
    const grace = this.options.killGraceMs ?? 2_000;
    // A host-user sandbox writes as its own uid: the writable dirs become its.
    const hostUser = this.identity === 'host-user';
    if (hostUser) await chownTree([spec.workspaceDir, spec.configDir, spec.tmpDir], this.uid, this.gid);
    const dir = await this.registry.register(spec.id, spec.workspaceId, this.name, grace);
    const homeHostDir = join(dir, 'home');
    mkdirSync(homeHostDir, { recursive: true, mode: 0o700 });
    if (hostUser) chownSync(homeHostDir, this.uid, this.gid);
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
          insideDirs: [BWRAP_HOME],
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
        identity: this.identity,
        uid: this.uid,
        gid: this.gid,
        gatewayPort: this.options.gatewayPort ?? 4747,
        egressPort: this.options.egressPort ?? 3128,
        readOnlyPaths: this.options.readOnlyPaths ?? [],
        killGraceMs: grace,
        log: this.options.log.child({ sandboxId: spec.id, provider: this.name }),
        maxLineBytes: MAX_LINE_BYTES,
        seccomp: this.seccompFilter(),
        ...(limits ? { limits } : {}),
      },
      () => this.live.delete(spec.id),
    );
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
