import type { HostLayout } from '../bwrap/args.js';
import { buildBwrapArgs, EGRESS_SOCKET_INSIDE, GATEWAY_SOCKET_INSIDE, proxyEnv } from '../bwrap/args.js';
import type { SandboxSpec, SpawnRequest } from '../provider.js';
import { ociProfile } from '../seccomp.js';

/**
 * The OCI runtime spec (config.json) of one process in a gVisor sandbox.
 * Pure. The layout is bwrap's (`bwrap/args.ts`), so both providers show a
 * process the same files: the host's /usr read-only, a few /etc files, a
 * fresh /proc and /dev, private /tmp, and read-write exactly the home,
 * workspace, config and tmp dirs; the root is read-only. The startup script
 * is bwrap's too: it bridges the gateway (and egress) sockets to loopback
 * ports, then execs the command.
 */

export interface OciOptions {
  layout: HostLayout;
  request: SpawnRequest;
  /** Host directory holding the skeleton root (mount points and merged-/usr symlinks). */
  rootfs: string;
  readOnlyPaths: string[];
  homeHostDir: string;
  homeDir: string;
  uid: number;
  gid: number;
  hostname: string;
  gatewayPort: number;
  egressPort: number;
  /** Size of the private /tmp and /dev/shm; unset for gVisor's default. */
  tmpfsBytes?: number;
  /** RLIMIT_FSIZE in bytes, when the sandbox has a disk limit. */
  fileSizeBytes?: number;
  /** RLIMIT_NPROC: gVisor's own count of the sandbox user's processes. */
  processes?: number;
}

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/**
 * agenthost's policy (`../seccomp.ts`), applied inside gVisor: its kernel
 * would confine these calls anyway; refusing them keeps the surface small.
 * Every refusal is EPERM here (runsc does not take errnoRet), and Bun aborts
 * when clone3 fails with EPERM, so clone3 stays allowed: a namespace made
 * through it is gVisor's own, as any is in there.
 */
const profile = ociProfile();
const GVISOR_SECCOMP = {
  ...profile,
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
  syscalls: profile.syscalls.filter((rule) => !rule.names.includes('clone3')),
};

const byDepth = (paths: string[]): string[] =>
  [...new Set(paths)].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));

export function buildOciSpec(spec: SandboxSpec, o: OciOptions): Record<string, unknown> {
  const { request, layout } = o;
  // The command line bwrap would run: the same startup script and arguments.
  const { command } = buildBwrapArgs(spec, {
    layout,
    request,
    readOnlyPaths: [],
    homeHostDir: o.homeHostDir,
    homeDir: o.homeDir,
    // runsc starts the command as the spec's user.
    identity: 'user-namespace',
    uid: o.uid,
    gid: o.gid,
    hostname: o.hostname,
    gatewayPort: o.gatewayPort,
    egressPort: o.egressPort,
    infoFd: 3,
  });
  const env = spec.egressSocket ? { ...request.env, ...proxyEnv(o.egressPort) } : request.env;
  const size = o.tmpfsBytes === undefined ? [] : [`size=${o.tmpfsBytes}`];
  const ro = (path: string, dest = path): Mount => ({ destination: dest, type: 'bind', source: path, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  const rw = (path: string, dest = path): Mount => ({ destination: dest, type: 'bind', source: path, options: ['rbind', 'rw', 'nosuid', 'nodev'] });
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', ...size] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...size] },
    ro('/usr'),
    ...layout.rootEntries.filter((e) => e.symlinkTarget === undefined).map((e) => ro(e.path)),
    ...layout.etcPaths.map((p) => ro(p)),
    ...['passwd', 'group', 'hosts', 'hostname'].map((n) => ro(`${layout.generatedEtcDir}/${n}`, `/etc/${n}`)),
    ...byDepth(o.readOnlyPaths).map((p) => ro(p)),
    rw(o.homeHostDir, o.homeDir),
    ...byDepth([spec.workspaceDir, spec.configDir, spec.tmpDir]).map((p) => rw(p)),
    { destination: GATEWAY_SOCKET_INSIDE, type: 'bind', source: spec.gatewaySocket, options: ['rbind'] },
    ...(spec.egressSocket ? [{ destination: EGRESS_SOCKET_INSIDE, type: 'bind', source: spec.egressSocket, options: ['rbind'] }] : []),
  ];
  const noCaps = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: o.uid, gid: o.gid, additionalGids: [] },
      args: command,
      env: Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])),
      cwd: request.cwd,
      capabilities: noCaps,
      noNewPrivileges: true,
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 65536, soft: 65536 },
        ...(o.fileSizeBytes === undefined ? [] : [{ type: 'RLIMIT_FSIZE', hard: o.fileSizeBytes, soft: o.fileSizeBytes }]),
        ...(o.processes === undefined ? [] : [{ type: 'RLIMIT_NPROC', hard: o.processes, soft: o.processes }]),
      ],
    },
    root: { path: o.rootfs, readonly: true },
    hostname: o.hostname,
    mounts,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      seccomp: GVISOR_SECCOMP,
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus'],
    },
  };
}
