import { posix } from 'node:path';
import type { SandboxSpec, SpawnRequest } from '../provider.js';

/**
 * The bubblewrap command line for one process in a sandbox. Pure: every fact
 * about the host (which top-level entries are symlinks, which /etc files
 * exist, where socat is) is gathered by `host-layout.ts` and passed in.
 *
 * Layout inside (src/sandbox/README.md says why):
 *   /usr, /bin, /lib*, /sbin     read-only from the host (symlinks kept as symlinks)
 *   /etc                         a few read-only host files + generated passwd/group/hosts/hostname
 *   /proc /dev                   fresh, for the sandbox's own pid namespace
 *   /tmp /dev/shm                private tmpfs per process; /var/tmp -> /tmp
 *   <homeDir>                    read-write, the sandbox's provider-owned home
 *   workspace, config, tmp dirs  read-write at their host paths
 *   <command's directory>        read-only at its host path (the Claude Code binary)
 *   /run/agenthost/gateway.sock  the host's gateway socket
 *   /run/agenthost/egress.sock   the session's egress proxy socket, when it has one
 *   everything else              absent; / itself is read-only
 */

/** Where the gateway's Unix socket appears inside the sandbox. */
export const GATEWAY_SOCKET_INSIDE = '/run/agenthost/gateway.sock';
/** Where the egress proxy's Unix socket appears inside the sandbox. */
export const EGRESS_SOCKET_INSIDE = '/run/agenthost/egress.sock';

/**
 * The proxy variables a sandbox with egress gets: every common client reads
 * one of these spellings, and loopback (the model bridge) stays direct.
 */
export function proxyEnv(port: number): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  const noProxy = '127.0.0.1,localhost,::1';
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url, NO_PROXY: noProxy, no_proxy: noProxy };
}

export interface HostLayout {
  /** Top-level host entries to show (/bin, /lib64, ...): symlinks are recreated, directories bound read-only. */
  rootEntries: Array<{ path: string; symlinkTarget?: string }>;
  /** Host paths under /etc to bind read-only, each only if it exists. */
  etcPaths: string[];
  /** Host directory holding the generated passwd, group, hosts and hostname files. */
  generatedEtcDir: string;
  /** Absolute paths inside the sandbox of the helpers the start-up script runs. */
  socat: string;
  setsid: string;
  sleep: string;
  setpriv: string;
}

/**
 * Who a sandbox's processes are on the host.
 * - `host-user` (a server running as root): bwrap makes no user namespace;
 *   the command drops to `uid`/`gid` through setpriv before anything of the
 *   sandbox runs. The processes are an unprivileged host user that owns
 *   nothing but the sandbox's writable dirs, and the kernel's user-namespace
 *   code is out of their reach.
 * - `user-namespace` (any other server): a user namespace maps `uid` inside
 *   to the server's own uid; bwrap needs no privilege.
 */
export type SandboxIdentity = 'host-user' | 'user-namespace';

/** bwrap's namespace and privilege options for an identity (also used by the provider's trial sandbox). */
export function identityArgs(identity: SandboxIdentity, uid: number, gid: number): string[] {
  if (identity === 'user-namespace') {
    // --unshare-user is explicit so a host without user namespaces fails
    // instead of running the sandbox as root.
    return ['--unshare-all', '--unshare-user', '--disable-userns', '--uid', String(uid), '--gid', String(gid), '--cap-drop', 'ALL'];
  }
  // Root's bwrap keeps just what setpriv needs to drop to the sandbox user
  // (and to empty the bounding set); changing uid clears them all. New
  // namespaces of any kind are the seccomp filter's to refuse.
  return [
    '--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup',
    '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP',
  ];
}

/** What runs the command as the sandbox user: nothing for a user namespace (bwrap switched already). */
export function dropToUser(identity: SandboxIdentity, layout: HostLayout, uid: number, gid: number): string[] {
  if (identity === 'user-namespace') return [];
  return [layout.setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

export interface BwrapArgsOptions {
  layout: HostLayout;
  request: SpawnRequest;
  /** Extra host paths bound read-only at the same path (e.g. the command's directory). */
  readOnlyPaths: string[];
  /** Host directory bound read-write at `homeDir`. */
  homeHostDir: string;
  homeDir: string;
  identity: SandboxIdentity;
  /** The sandbox user: inside (and, for `host-user`, on the host). */
  uid: number;
  gid: number;
  hostname: string;
  /** Loopback port inside the sandbox where socat bridges to the gateway socket. */
  gatewayPort: number;
  /** Loopback port inside the sandbox where socat bridges to the egress proxy, when the spec has one. */
  egressPort: number;
  /** File descriptor bwrap writes its JSON info (the init's host pid) to. */
  infoFd: number;
  /**
   * File descriptor bwrap reads the seccomp filter from (`../seccomp.ts`),
   * applied to the command and all it starts. The bwrap provider always
   * passes one; gvisor, which reads this layout for its own spec, has its own filter.
   */
  seccompFd?: number;
  /** Size of each private tmpfs (/tmp, /dev/shm); unset for the kernel's default (half of RAM). */
  tmpfsBytes?: number;
}

/**
 * Runs as the sandbox's first process: starts the gateway bridge in its own
 * session (so signals for the command's group do not take it down), waits
 * until the port listens (read from /proc/net/tcp, which in a fresh network
 * namespace lists only the sandbox's sockets), then becomes the command.
 * Positional parameters: $1 port, $2 port in /proc/net/tcp's hex, $3 socket,
 * then the command and its arguments.
 */
function startupScript(layout: HostLayout, pwd: string | undefined, egress: boolean, home: boolean): string {
  const restorePwd = pwd === undefined ? 'unset PWD' : `PWD=${shellQuote(pwd)}; export PWD`;
  const bridge = (port: string, socket: string): string =>
    `( ${layout.setsid} ${layout.socat} TCP-LISTEN:"${port}",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"${socket}" </dev/null >/dev/null & )`;
  return [
    bridge('$1', '$3'),
    ...(egress ? [bridge('$4', '$6')] : []),
    'listening() { while read -r _ local _ st _; do [ "$local" = "0100007F:$1" ] && [ "$st" = 0A ] && return 0; done </proc/net/tcp; return 1; }',
    'n=0',
    `until listening "$2"${egress ? ' && listening "$5"' : ''}; do`,
    '  n=$((n+1)); if [ $n -gt 1000 ]; then echo "agenthost: model gateway bridge did not start" >&2; exit 125; fi',
    `  ${layout.sleep} 0.005`,
    'done',
    `shift ${egress ? 6 : 3}`,
    // bwrap and the shell both set PWD (and runtimes may set HOME); the command's environment is exactly the request's.
    ...(home ? [] : ['unset HOME']),
    restorePwd,
    'exec "$@"',
  ].join('\n');
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Paths sorted so a parent is mounted before anything nested in it. */
function byDepth(paths: string[]): string[] {
  return [...new Set(paths)].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/**
 * The directories above mount points. bwrap makes those it needs itself, but
 * as root it makes them 0700, out of the sandbox user's reach; so each
 * parent not yet there is made first with `--dir`, 0755. Nothing is made
 * inside a host bind (that would write to the host): those parents exist.
 */
class MountTree {
  private readonly made = new Set(['/']);
  private readonly hostBinds: string[] = [];

  bind(flag: '--bind' | '--ro-bind' | '--ro-bind-try', source: string, dest: string): string[] {
    const parents = this.parents(dest);
    this.hostBinds.push(dest);
    return [...parents, flag, source, dest];
  }

  /** A filesystem of bwrap's own (`--tmpfs`, `--proc`, ...): `op` ends with its mount point. */
  filesystem(...op: string[]): string[] {
    const dest = op.at(-1)!;
    const parents = this.parents(dest);
    this.made.add(dest);
    return [...parents, ...op];
  }

  symlink(target: string, dest: string): string[] {
    return [...this.parents(dest), '--symlink', target, dest];
  }

  private parents(dest: string): string[] {
    const missing: string[] = [];
    const inHostBind = (p: string): boolean => this.hostBinds.some((b) => p === b || p.startsWith(`${b}/`));
    for (let p = posix.dirname(dest); !this.made.has(p) && !inHostBind(p); p = posix.dirname(p)) missing.unshift(p);
    for (const p of missing) this.made.add(p);
    return missing.flatMap((p) => ['--perms', '0755', '--dir', p]);
  }
}

/**
 * bwrap's options and the command line it runs. They are split because the
 * options go through a pipe (`--args FD`: they hold the environment, and a
 * command line is readable by anyone through /proc) while bwrap only takes
 * the command from its real argv - where the command's own /proc entry
 * shows it anyway.
 */
export interface BwrapInvocation {
  options: string[];
  command: string[];
}

export function buildBwrapArgs(spec: SandboxSpec, options: BwrapArgsOptions): BwrapInvocation {
  const { layout, request } = options;
  for (const [key, value] of Object.entries(request.env)) {
    if (key.includes('=') || key.includes('\0') || value?.includes('\0')) {
      throw new Error(`environment variable ${JSON.stringify(key)} cannot be passed to a process`);
    }
  }
  const tree = new MountTree();
  const args: string[] = [
    ...identityArgs(options.identity, options.uid, options.gid),
    '--die-with-parent',
    '--new-session',
    '--hostname', options.hostname,
    // Read-only system.
    ...tree.bind('--ro-bind', '/usr', '/usr'),
  ];
  for (const entry of layout.rootEntries) {
    if (entry.symlinkTarget !== undefined) args.push(...tree.symlink(entry.symlinkTarget, entry.path));
    else args.push(...tree.bind('--ro-bind', entry.path, entry.path));
  }
  for (const path of layout.etcPaths) args.push(...tree.bind('--ro-bind-try', path, path));
  for (const name of ['passwd', 'group', 'hosts', 'hostname']) {
    args.push(...tree.bind('--ro-bind', `${layout.generatedEtcDir}/${name}`, `/etc/${name}`));
  }
  // tmpfs pages are memory: sized, and charged to the sandbox's memory cgroup.
  const size = options.tmpfsBytes === undefined ? [] : ['--size', String(options.tmpfsBytes)];
  args.push(
    ...tree.filesystem('--proc', '/proc'),
    ...tree.filesystem('--dev', '/dev'),
    // Sticky and world-writable, as on any host: a root bwrap would make them root's 0755.
    ...tree.filesystem('--perms', '1777', ...size, '--tmpfs', '/dev/shm'),
    ...tree.filesystem('--perms', '1777', ...size, '--tmpfs', '/tmp'),
    ...tree.symlink('/tmp', '/var/tmp'),
  );
  for (const path of byDepth(options.readOnlyPaths)) args.push(...tree.bind('--ro-bind', path, path));
  args.push(...tree.bind('--bind', options.homeHostDir, options.homeDir));
  for (const path of byDepth([spec.workspaceDir, spec.configDir, spec.tmpDir])) args.push(...tree.bind('--bind', path, path));
  args.push(
    ...tree.bind('--ro-bind', spec.gatewaySocket, GATEWAY_SOCKET_INSIDE),
    ...(spec.egressSocket ? tree.bind('--ro-bind', spec.egressSocket, EGRESS_SOCKET_INSIDE) : []),
    '--remount-ro', '/',
    '--chdir', request.cwd,
    '--info-fd', String(options.infoFd),
    ...(options.seccompFd === undefined ? [] : ['--seccomp', String(options.seccompFd)]),
    '--clearenv',
  );
  const env = spec.egressSocket ? { ...request.env, ...proxyEnv(options.egressPort) } : request.env;
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) args.push('--setenv', key, value);
  }
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  const port = options.gatewayPort;
  const egress = spec.egressSocket ? [String(options.egressPort), hex(options.egressPort), EGRESS_SOCKET_INSIDE] : [];
  return {
    options: args,
    command: [
      ...dropToUser(options.identity, layout, options.uid, options.gid),
      '/bin/sh', '-c', startupScript(layout, request.env.PWD, egress.length > 0, request.env.HOME !== undefined), 'agenthost-sandbox',
      String(port), hex(port), GATEWAY_SOCKET_INSIDE, ...egress,
      request.command, ...request.args,
    ],
  };
}
