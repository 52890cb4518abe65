import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import type { Logger } from '../../logger.js';
import { SANDBOX_HOST_UID, chownTree } from '../ownership.js';
import { isSameProcess, readProcStat } from '../host-processes.js';
import { SandboxUnavailableError, SandboxUnsupportedError, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxSpec } from '../provider.js';
import { MAX_LINE_BYTES } from '../tracked-process.js';
import { Monitor } from './monitor.js';
import { DockerSandbox, removeContainer } from './sandbox.js';
import { buildContainerConfig, LABELS, SECCOMP_PROFILE } from './spec.js';
import { DockerWatch } from './watch.js';

export interface DockerProviderOptions {
  /** Provider-owned state: each sandbox's home directory. */
  runtimeDir: string;
  log: Logger;
  /** The engine's API, as DOCKER_HOST spells it: unix:///var/run/docker.sock (default), tcp://host:2375. */
  host?: string;
  /** Image every sandbox runs; it needs /bin/sh and socat. */
  image: string;
  /**
   * The user inside. Default `SANDBOX_HOST_UID` when the server is root (the
   * writable dirs are handed to it), else the server's own uid, the only one
   * a server that is not root can hand its dirs to. gid defaults to the uid.
   */
  uid?: number;
  gid?: number;
  gatewayPort?: number;
  egressPort?: number;
  /** Host paths shown read-only at the same path: the Claude Code binaries' directories. Missing ones are left out. */
  readOnlyPaths?: string[];
  killGraceMs?: number;
  /** RLIMIT_NOFILE and RLIMIT_NPROC inside; set because engines' defaults can exceed a host's hard limits. Default 16384. */
  nofile?: number;
  nproc?: number;
}

const HOME = '/home/agent';

/** dockerode's connection options for a DOCKER_HOST-style address. */
export function engineAddress(host: string): Docker.DockerOptions {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { protocol: url.protocol === 'https:' ? 'https' : 'http', host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 2376 : 2375)) };
}

/**
 * Docker (or Podman's Docker-compatible service): one container per
 * sandbox, one exec per spawned process. The engine must run on this host:
 * the session's directories and sockets are bind-mounted from the server's
 * filesystem. Inside: a non-root user, no capabilities, no-new-privileges,
 * a read-only root, no network but loopback, and the engine's own limits.
 */
export class DockerProvider implements SandboxProvider {
  readonly name = 'docker';
  readonly isolated = true;
  private readonly docker: Docker;
  private readonly live = new Map<string, DockerSandbox>();
  private readonly runtimeKey: string;
  private readonly uid: number;
  private readonly gid: number;
  private imageEnv: string[] | undefined;

  constructor(private readonly options: DockerProviderOptions) {
    this.docker = new Docker(engineAddress(options.host ?? 'unix:///var/run/docker.sock'));
    this.runtimeKey = createHash('sha256').update(resolve(options.runtimeDir)).digest('hex').slice(0, 12);
    const self = process.getuid?.() ?? 0;
    this.uid = options.uid ?? (self === 0 ? SANDBOX_HOST_UID : self);
    this.gid = options.gid ?? (self === 0 || options.uid !== undefined ? this.uid : (process.getgid?.() ?? this.uid));
  }

  private get sandboxesDir(): string {
    return join(this.options.runtimeDir, this.name, 'sandboxes');
  }

  private containerName(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw new Error(`invalid sandbox id ${JSON.stringify(id)}`);
    return `agenthost-${this.runtimeKey}-${id}`;
  }

  async check(): Promise<void> {
    const where = this.options.host ?? 'unix:///var/run/docker.sock';
    if (!this.options.image) throw new SandboxUnavailableError('no image for the docker provider: set AGENTHOST_DOCKER_IMAGE');
    const self = process.getuid?.() ?? 0;
    if (self !== 0 && this.uid !== self) {
      throw new SandboxUnavailableError(`the docker provider can run sandboxes as uid ${this.uid} only when agenthost runs as root (it hands them their directories); it runs as uid ${self}`);
    }
    try {
      await this.docker.ping();
    } catch (error) {
      throw new SandboxUnavailableError(`no Docker engine answers at ${where} (${(error as Error).message}); start Docker or \`podman system service\` and set AGENTHOST_DOCKER_HOST`);
    }
    try {
      this.imageEnv = ((await this.docker.getImage(this.options.image).inspect()).Config.Env ?? []).map((kv) => kv.slice(0, kv.indexOf('=')));
    } catch (error) {
      throw new SandboxUnavailableError(`image ${this.options.image} is not in the engine at ${where} (${(error as Error).message}); pull or build it, or set AGENTHOST_DOCKER_IMAGE`);
    }
  }

  private seccompOpt: Promise<string> | undefined;

  /** Docker's API takes a seccomp profile as JSON; Podman's compatible API takes a path on its host. */
  private seccomp(): Promise<string> {
    this.seccompOpt ??= (async () => {
      const version = await this.docker.version();
      const json = JSON.stringify(SECCOMP_PROFILE);
      if (!version.Components?.some((c) => /podman/i.test(c.Name))) return json;
      const path = join(this.options.runtimeDir, this.name, 'seccomp.json');
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, json, { mode: 0o644 });
      return path;
    })();
    this.seccompOpt.catch(() => (this.seccompOpt = undefined));
    return this.seccompOpt;
  }

  private async getImageEnv(): Promise<string[]> {
    this.imageEnv ??= ((await this.docker.getImage(this.options.image).inspect()).Config.Env ?? []).map((kv) => kv.slice(0, kv.indexOf('=')));
    return this.imageEnv;
  }

  /** A container of this id left by a server that is gone is removed; one whose server lives is refused. */
  private async clearLeftover(name: string, id: string): Promise<void> {
    const container = this.docker.getContainer(name);
    const info = await container.inspect().catch(() => undefined);
    if (!info) return;
    const [pid, start] = (info.Config.Labels?.[LABELS.owner] ?? '').split(':');
    if (pid && start && isSameProcess(Number(pid), start)) throw new Error(`sandbox ${id} already exists (owned by pid ${pid}); destroy it first`);
    await removeContainer(container);
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (this.live.has(spec.id)) throw new Error(`sandbox ${spec.id} already exists; destroy it first`);
    const name = this.containerName(spec.id);
    await this.clearLeftover(name, spec.id);
    const homeHostDir = join(this.sandboxesDir, spec.id, 'home');
    mkdirSync(homeHostDir, { recursive: true, mode: 0o700 });
    const self = process.getuid?.();
    // The user inside writes the bind-mounted directories as its own uid.
    if (self === 0 && this.uid !== 0) await chownTree([spec.workspaceDir, spec.configDir, spec.tmpDir, homeHostDir], this.uid, this.gid);
    const readOnlyPaths = (this.options.readOnlyPaths ?? []).filter((p) => existsSync(p)).map((p) => realpathSync(p));
    const log = this.options.log.child({ sandboxId: spec.id, provider: this.name });
    let container: Docker.Container | undefined;
    let monitor: Monitor | undefined;
    try {
      const imageEnv = await this.getImageEnv();
      const config = buildContainerConfig(spec, {
        image: this.options.image,
        name,
        runtimeKey: this.runtimeKey,
        owner: `${process.pid}:${readProcStat(process.pid)?.startTime ?? ''}`,
        uid: this.uid,
        gid: this.gid,
        homeHostDir,
        homeDir: HOME,
        gatewayPort: this.options.gatewayPort ?? 4747,
        egressPort: this.options.egressPort ?? 3128,
        readOnlyPaths,
        nofile: this.options.nofile ?? 16384,
        nproc: this.options.nproc ?? 16384,
        seccomp: await this.seccomp(),
      });
      container = await this.docker.createContainer(config);
      if (spec.limits) await this.verifyLimits(container, config.HostConfig ?? {});
      const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const demux = this.docker.modem.demuxStream.bind(this.docker.modem) as (s: NodeJS.ReadableStream, o: NodeJS.WritableStream, e: NodeJS.WritableStream) => void;
      monitor = new Monitor(stream as unknown as Duplex, demux);
      await container.start();
      const ready = await withTimeout(monitor.ready, 30_000, 'the sandbox container did not become ready in 30 s');
      const initPid = (await container.inspect()).State.Pid || undefined;
      let watch: DockerWatch | undefined;
      if (spec.limits) {
        watch = new DockerWatch({
          monitor,
          limits: spec.limits,
          writableDirs: [...new Set([spec.workspaceDir, spec.configDir, spec.tmpDir, homeHostDir])],
          report: (e) => spec.onLimit?.(e),
          log,
          ...(initPid ? { hostPids: containerPids(initPid), insideDirs: [HOME] } : {}),
        });
        watch.start([ready.monitorPid, ...ready.bridges]);
      }
      const sandbox = new DockerSandbox(
        spec,
        {
          docker: this.docker,
          container,
          monitor,
          ...(watch ? { watch } : {}),
          initPid,
          homeHostDir,
          homeDir: HOME,
          uid: this.uid,
          gid: this.gid,
          gatewayPort: this.options.gatewayPort ?? 4747,
          egressPort: this.options.egressPort ?? 3128,
          readOnlyPaths,
          imageEnv,
          killGraceMs: this.options.killGraceMs ?? 2_000,
          maxLineBytes: MAX_LINE_BYTES,
          log,
        },
        () => this.live.delete(spec.id),
      );
      this.live.set(spec.id, sandbox);
      return sandbox;
    } catch (error) {
      monitor?.close();
      if (container) await removeContainer(container).catch(() => undefined);
      rmSync(join(this.sandboxesDir, spec.id), { recursive: true, force: true });
      throw error;
    }
  }

  /** An engine that cannot apply a limit may drop it with only a warning: refuse rather than run weaker. */
  private async verifyLimits(container: Docker.Container, wanted: Docker.HostConfig): Promise<void> {
    const got = (await container.inspect()).HostConfig;
    const checks: Array<[string, unknown, unknown]> = [
      ['config.sandbox.memory_mib', wanted.Memory, got.Memory],
      ['config.sandbox.cpus', wanted.NanoCpus, got.NanoCpus],
      ['config.sandbox.pids', wanted.PidsLimit, got.PidsLimit],
    ];
    for (const [setting, want, have] of checks) {
      if (want !== undefined && want !== have) {
        await removeContainer(container).catch(() => undefined);
        throw new SandboxUnsupportedError(this.name, setting, `the engine set ${String(have)} instead of ${String(want)} (its kernel or cgroup setup lacks the controller)`);
      }
    }
  }

  async list(): Promise<SandboxInfo[]> {
    const ids = new Set<string>();
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABELS.runtime}=${this.runtimeKey}`] } });
    for (const c of containers) {
      const id = c.Labels[LABELS.sandbox];
      if (id) ids.add(id);
    }
    // A home directory without its container: the server died between the two.
    for (const id of existsSync(this.sandboxesDir) ? readdirSync(this.sandboxesDir) : []) ids.add(id);
    return [...ids].sort().map((id) => ({ id, provider: this.name }));
  }

  async destroy(id: string): Promise<void> {
    const sandbox = this.live.get(id);
    if (sandbox) return sandbox.destroy();
    await removeContainer(this.docker.getContainer(this.containerName(id)));
    rmSync(join(this.sandboxesDir, id), { recursive: true, force: true });
  }
}

/**
 * The host pids of a container's processes, execs included: those of the
 * cgroup its init is in (cgroup v2's, else v1's pids controller), read from
 * the host's /proc and /sys/fs/cgroup. Empty when the engine runs elsewhere.
 */
export function containerPids(initPid: number): () => number[] {
  let procsFile: string | undefined;
  try {
    const lines = readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n');
    const unified = lines.find((l) => l.startsWith('0::'));
    const pids = lines.find((l) => l.split(':')[1]?.split(',').includes('pids'));
    if (pids) procsFile = `/sys/fs/cgroup/pids${pids.split(':')[2]}/cgroup.procs`;
    else if (unified) procsFile = `/sys/fs/cgroup${unified.slice(3)}/cgroup.procs`;
  } catch {
    // Not a process of this host.
  }
  return () => {
    if (!procsFile) return [];
    try {
      return readFileSync(procsFile, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}
