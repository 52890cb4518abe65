import type { ContainerCreateOptions } from 'dockerode';
import { EGRESS_SOCKET_INSIDE, GATEWAY_SOCKET_INSIDE, proxyEnv, shellQuote } from '../bwrap/args.js';
import type { SandboxSpec, SpawnRequest } from '../provider.js';
import { ociProfile } from '../seccomp.js';

/**
 * The container of one docker sandbox and the exec of each process in it.
 * Pure: everything about the engine and the host is passed in.
 *
 * One container per sandbox. Its first process (under the engine's init,
 * `HostConfig.Init`) is `/bin/sh` running `monitorScript`: it starts the
 * socat bridges from loopback ports to the gateway and egress sockets, says
 * `ready`, then serves agenthost's requests on its stdin (an attach stream
 * from the server) with shell builtins only, so it keeps working when a fork
 * bomb has taken every pid: process lists, cgroup counters, signals. When
 * the server goes (even SIGKILL) the attach stream closes, the monitor reads
 * EOF and exits, and the container stops with everything in it.
 *
 * Each spawned process is an exec. Exec'd processes lead their own session
 * (the runtime calls setsid), so a group signal reaches the command and its
 * tools; the wrapper records its pid for that in /run/agenthost/exec-<n>.
 */

/** Labels on every container agenthost makes: how start-up finds a dead server's leftovers. */
export const LABELS = {
  provider: 'dev.agenthost.provider',
  runtime: 'dev.agenthost.runtime',
  sandbox: 'dev.agenthost.sandbox',
  workspace: 'dev.agenthost.workspace',
  owner: 'dev.agenthost.owner',
} as const;

export const RUN_DIR_INSIDE = '/run/agenthost';

/**
 * Applied on top of dropping every capability, as bwrap's filter and
 * --disable-userns do (`../seccomp.ts`). Podman's default profile allows
 * user namespaces, which is why agenthost passes its own.
 */
export const SECCOMP_PROFILE = ociProfile();

export interface ContainerOptions {
  image: string;
  /** Container name: unique per engine, so a second create of a live id fails there too. */
  name: string;
  /** Hash of the runtime directory: one server's containers. */
  runtimeKey: string;
  /** `<pid>:<start time>` of the owning server. */
  owner: string;
  uid: number;
  gid: number;
  homeHostDir: string;
  homeDir: string;
  gatewayPort: number;
  egressPort: number;
  /** Host paths shown read-only at the same path (the Claude Code binary's directory). */
  readOnlyPaths: string[];
  /** RLIMIT_NOFILE and RLIMIT_NPROC: set, because engines' defaults may exceed the host's hard limits. */
  nofile: number;
  nproc: number;
  /** `SECCOMP_PROFILE` as the engine takes it: JSON for Docker, a file path for Podman. */
  seccomp: string;
}

const MIB = 1024 * 1024;

/**
 * Limits map to the engine's own: memory (swap included) and CPU quota,
 * the pids cgroup, RLIMIT_FSIZE for one file, and tmpfs sizes. The total
 * of files written to the bind-mounted directories has no engine limit on
 * a plain directory; the provider measures it (see `DockerWatch`).
 */
export function buildContainerConfig(spec: SandboxSpec, o: ContainerOptions): ContainerCreateOptions {
  const limits = spec.limits;
  const tmpSize = limits ? `,size=${limits.diskMib * MIB}` : '';
  const bind = (host: string, inside: string, mode: 'ro' | 'rw'): string => `${host}:${inside}:${mode}`;
  const writable = [...new Set([spec.workspaceDir, spec.configDir, spec.tmpDir])];
  const binds = [
    bind(o.homeHostDir, o.homeDir, 'rw'),
    ...writable.map((p) => bind(p, p, 'rw')),
    ...[...new Set(o.readOnlyPaths)].map((p) => bind(p, p, 'ro')),
    bind(spec.gatewaySocket, GATEWAY_SOCKET_INSIDE, 'rw'),
    ...(spec.egressSocket ? [bind(spec.egressSocket, EGRESS_SOCKET_INSIDE, 'rw')] : []),
  ];
  const egress = spec.egressSocket ? [String(o.egressPort), hex(o.egressPort), EGRESS_SOCKET_INSIDE] : [];
  return {
    name: o.name,
    Image: o.image,
    User: `${o.uid}:${o.gid}`,
    Hostname: 'sandbox',
    Env: [],
    Entrypoint: ['/bin/sh'],
    Cmd: ['-c', monitorScript(egress.length > 0), 'agenthost-monitor', String(o.gatewayPort), hex(o.gatewayPort), GATEWAY_SOCKET_INSIDE, ...egress],
    WorkingDir: '/',
    // The monitor's stdin is the server's attach stream; it closes when the server dies.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    NetworkDisabled: true,
    Labels: {
      [LABELS.provider]: 'docker',
      [LABELS.runtime]: o.runtimeKey,
      [LABELS.sandbox]: spec.id,
      [LABELS.workspace]: spec.workspaceId,
      [LABELS.owner]: o.owner,
    },
    HostConfig: {
      NetworkMode: 'none',
      Init: true,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', `seccomp=${o.seccomp}`],
      Binds: binds,
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,mode=1777${tmpSize}`,
        '/var/tmp': `rw,nosuid,nodev,mode=1777${tmpSize}`,
        '/dev/shm': `rw,nosuid,nodev,noexec,mode=1777${tmpSize}`,
        // Read-only: Podman would otherwise give /run a writable tmpfs.
        '/run': 'ro,nosuid,nodev,noexec,mode=755,size=1m',
        [RUN_DIR_INSIDE]: 'rw,nosuid,nodev,noexec,mode=1777,size=1m',
      },
      Ulimits: [
        { Name: 'nofile', Soft: o.nofile, Hard: o.nofile },
        { Name: 'nproc', Soft: o.nproc, Hard: o.nproc },
        ...(limits ? [{ Name: 'fsize', Soft: limits.diskMib * MIB, Hard: limits.diskMib * MIB }] : []),
      ],
      ...(limits
        ? {
            Memory: limits.memoryMib * MIB,
            MemorySwap: limits.memoryMib * MIB,
            NanoCpus: Math.round(limits.cpus * 1e9),
            PidsLimit: limits.pids,
          }
        : {}),
    },
  };
}

const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');

/**
 * The container's first process. Positional parameters: gateway port, its
 * hex, gateway socket, then (with egress) the same three for the proxy.
 * Requests on stdin, one a line:
 *   tick                  process list (`p <stat line>`), cgroup counters (`m`/`x`), then `end`
 *   signal <n> <SIG>      the signal to exec n's process group; `sent <n>` or `unsent <n>`
 *   kill <pid>...         SIGKILL to those processes
 * Everything but the bridges and the ready wait is a shell builtin.
 */
export function monitorScript(egress: boolean): string {
  const bridge = (port: string, socket: string): string =>
    `socat TCP-LISTEN:"${port}",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"${socket}" </dev/null >/dev/null 2>&1 &`;
  return [
    `${bridge('$1', '$3')} bridges=$!`,
    ...(egress ? [`${bridge('$4', '$6')} bridges="$bridges $!"`] : []),
    'listening() { while read -r _ local _ st _; do [ "$local" = "0100007F:$1" ] && [ "$st" = 0A ] && return 0; done </proc/net/tcp; return 1; }',
    'n=0',
    `until listening "$2"${egress ? ' && listening "$5"' : ''}; do`,
    '  n=$((n+1)); if [ $n -gt 2000 ]; then echo "agenthost: model gateway bridge did not start" >&2; exit 125; fi',
    '  sleep 0.005',
    'done',
    'echo "ready $$ $bridges"',
    'counters() { [ -r "$2" ] && while read -r k v; do echo "$1 $k $v"; done <"$2"; }',
    'while read -r cmd a b; do',
    '  case "$cmd" in',
    '  tick)',
    '    for f in /proc/[0-9]*/stat; do { read -r l <"$f" && echo "p $l"; } 2>/dev/null; done',
    '    counters m /sys/fs/cgroup/memory/memory.oom_control; counters m /sys/fs/cgroup/memory.events',
    '    counters x /sys/fs/cgroup/pids/pids.events; counters x /sys/fs/cgroup/pids.events',
    '    echo end ;;',
    `  signal) if { read -r p <${RUN_DIR_INSIDE}/exec-"$a"; } 2>/dev/null && kill -s "$b" -- "-$p" 2>/dev/null; then echo "sent $a"; else echo "unsent $a"; fi ;;`,
    '  kill) kill -s KILL $a $b 2>/dev/null ;;',
    '  esac',
    'done',
  ].join('\n');
}

/** What the engine adds to an exec's environment on its own; the wrapper removes those not asked for. */
const ENGINE_ENV = ['HOME', 'HOSTNAME', 'TERM', 'container', 'PATH', 'PWD', 'OLDPWD'];

export interface ExecOptions {
  seq: number;
  uid: number;
  gid: number;
  egressPort: number;
  egress: boolean;
  /** Names of the image's own environment variables (ENV in its config). */
  imageEnv: string[];
}

/**
 * The exec of one spawned process: a /bin/sh wrapper records its pid (the
 * group's id) and removes what the image and the engine put in the
 * environment but the request did not, then becomes the command.
 */
export function buildExec(request: SpawnRequest, o: ExecOptions): { Cmd: string[]; Env: string[]; WorkingDir: string; User: string } {
  const env = o.egress ? { ...request.env, ...proxyEnv(o.egressPort) } : request.env;
  for (const [key, value] of Object.entries(env)) {
    if (key.includes('=') || key.includes('\0') || value?.includes('\0') || key === '') {
      throw new Error(`environment variable ${JSON.stringify(key)} cannot be passed to a process`);
    }
  }
  const wanted = new Set(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [k])));
  const extra = [...new Set([...ENGINE_ENV, ...o.imageEnv])].filter((k) => !wanted.has(k) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)).sort();
  const pwd = env.PWD;
  const script = [
    `echo $$ >${RUN_DIR_INSIDE}/exec-${o.seq}`,
    ...(extra.length ? [`unset ${extra.join(' ')}`] : []),
    ...(pwd === undefined ? [] : [`PWD=${shellQuote(pwd)}; export PWD`]),
    'exec "$@"',
  ].join('\n');
  return {
    Cmd: ['/bin/sh', '-c', script, 'agenthost-exec', request.command, ...request.args],
    Env: Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])),
    WorkingDir: request.cwd,
    User: `${o.uid}:${o.gid}`,
  };
}

/** One line of /proc/<pid>/stat: the fields the watch needs. */
export interface StatLine {
  pid: number;
  comm: string;
  ppid: number;
  /** Clock ticks since boot: with pid, tells a reused pid apart. */
  startTime: string;
}

export function parseStat(line: string): StatLine | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = line.slice(close + 2).split(' ');
  const pid = Number(line.slice(0, open).trim());
  const ppid = Number(rest[1]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid)) return undefined;
  return { pid, comm: line.slice(open + 1, close), ppid, startTime: rest[19] ?? '' };
}

/**
 * Processes the watch never kills: the init (pid 1), the monitor, the
 * bridges with the connections they forked, and each exec'd command (whose
 * parent is outside the container: ppid 0). Every other process was started
 * by a command: a tool. An orphan adopted by the init is a tool too.
 */
export function toolsOf(procs: StatLine[], machinery: ReadonlySet<number>): StatLine[] {
  const isProtected = (p: StatLine): boolean => p.pid === 1 || p.ppid === 0 || machinery.has(p.pid) || (machinery.has(p.ppid) && p.comm === 'socat');
  return procs.filter((p) => !isProtected(p));
}

/** `p` with every descendant of it in `procs`. */
export function withDescendants(procs: StatLine[], roots: number[], keep: (p: StatLine) => boolean): number[] {
  const out = new Set<number>();
  const visit = (pid: number): void => {
    if (out.has(pid)) return;
    out.add(pid);
    for (const c of procs) if (c.ppid === pid && keep(c)) visit(c.pid);
  };
  for (const r of roots) visit(r);
  return [...out];
}
