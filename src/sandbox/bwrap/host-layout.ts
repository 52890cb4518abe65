import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxUnavailableError } from '../provider.js';
import type { HostLayout } from './args.js';

/** The I/O half of `args.ts`: looks at the host and writes the generated /etc files. */

const ROOT_ENTRIES = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * Host /etc entries tools need and that say nothing about the host's users
 * or secrets: TLS roots, name-service and linker config, time zone, the
 * Debian alternatives symlinks that /usr/bin points into, language runtimes'
 * config. passwd, group, hosts and hostname are generated instead.
 */
const ETC_PATHS = [
  'alternatives', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'pki', 'crypto-policies',
  'nsswitch.conf', 'host.conf', 'gai.conf', 'resolv.conf', 'protocols', 'services',
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'timezone',
  'os-release', 'debian_version', 'lsb-release', 'mime.types', 'magic', 'magic.mime',
  'locale.alias', 'bash.bashrc', 'profile', 'inputrc', 'terminfo', 'perl',
];
const ETC_PREFIXES = ['python', 'java-'];

export interface GeneratedEtc {
  uid: number;
  gid: number;
  homeDir: string;
  hostname: string;
}

function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Writes passwd, group, hosts and hostname for the sandbox user into `dir`. */
export function writeGeneratedEtc(dir: string, etc: GeneratedEtc): void {
  mkdirSync(dir, { recursive: true });
  writeAtomic(
    join(dir, 'passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\n` +
      `agent:x:${etc.uid}:${etc.gid}:agent:${etc.homeDir}:/bin/sh\n` +
      `nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  writeAtomic(join(dir, 'group'), `root:x:0:\nagent:x:${etc.gid}:\nnogroup:x:65534:\n`);
  writeAtomic(join(dir, 'hosts'), `127.0.0.1\tlocalhost ${etc.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  writeAtomic(join(dir, 'hostname'), `${etc.hostname}\n`);
}

function findTool(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  const pkg = name === 'setsid' || name === 'setpriv' ? 'util-linux' : name === 'sleep' ? 'coreutils' : name;
  throw new SandboxUnavailableError(`bwrap sandbox needs ${name} on the host (apt-get install ${pkg})`);
}

export function readHostLayout(generatedEtcDir: string): HostLayout {
  const rootEntries: HostLayout['rootEntries'] = [];
  for (const path of ROOT_ENTRIES) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) rootEntries.push({ path, symlinkTarget: readlinkSync(path) });
    else if (stat.isDirectory()) rootEntries.push({ path });
  }
  let etcNames: string[] = [];
  try {
    etcNames = readdirSync('/etc');
  } catch {
    // No /etc: nothing to show.
  }
  const etcPaths = etcNames
    .filter((n) => ETC_PATHS.includes(n) || ETC_PREFIXES.some((p) => n.startsWith(p)))
    .sort()
    .map((n) => `/etc/${n}`);
  return {
    rootEntries,
    etcPaths,
    generatedEtcDir,
    socat: findTool('socat'),
    setsid: findTool('setsid'),
    sleep: findTool('sleep'),
    setpriv: findTool('setpriv'),
  };
}

/** True when `path` is visible inside the sandbox through the system mounts. */
function isSystemPath(path: string, layout: HostLayout): boolean {
  const roots = ['/usr', ...layout.rootEntries.map((e) => e.path)];
  return roots.some((root) => path === root || path.startsWith(`${root}/`));
}

/**
 * Makes an absolute command runnable inside: resolves symlinks (a
 * node_modules/.bin link would point outside what is mounted) and, when the
 * binary is not under the system mounts, names its directory for a
 * read-only bind. This is how the Claude Code native binary from
 * node_modules gets in without the rest of the project. Bare names are left
 * to PATH inside the sandbox.
 */
export function resolveCommand(command: string, layout: HostLayout): { command: string; readOnlyPaths: string[] } {
  if (!command.startsWith('/')) return { command, readOnlyPaths: [] };
  let real: string;
  try {
    real = realpathSync(command);
  } catch {
    return { command, readOnlyPaths: [] };
  }
  if (isSystemPath(real, layout)) return { command: real, readOnlyPaths: [] };
  // A binary directly under / would expose the whole root: bind the file alone.
  return { command: real, readOnlyPaths: [dirname(real) === '/' ? real : dirname(real)] };
}
