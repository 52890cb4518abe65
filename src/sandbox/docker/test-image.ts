import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const execFileAsync = promisify(execFile);

/**
 * A small Debian image for tests and development, made from the host's own
 * installed packages (no registry is needed): the files of a few packages
 * and everything they depend on, imported as one layer. Its tag is a hash of
 * the package versions and this recipe, so it is built once per host and
 * reused until the host's packages change. Users name their own image in
 * production; it needs /bin/sh, socat and the tools their agents use.
 */

/** What an agent's tools and the security suite's attacks use; their dependencies come along. */
const PACKAGES = [
  'bash', 'dash', 'coreutils', 'util-linux', 'socat', 'procps', 'grep', 'sed', 'findutils', 'mawk', 'curl',
  'ca-certificates', 'python3', 'ripgrep', 'libc-bin', 'login', 'mount', 'tar', 'gzip', 'diffutils',
];
const RECIPE_VERSION = '1';
export const TEST_IMAGE_REPO = 'localhost/agenthost-sandbox-test';

interface Installed {
  version: string;
  depends: string;
}

/** Every installed package, from one dpkg-query. */
async function installedPackages(): Promise<Map<string, Installed>> {
  const { stdout } = await execFileAsync('dpkg-query', ['-W', '-f=${Package}\t${Status}\t${Version}\t${Depends}, ${Pre-Depends}\n'], { maxBuffer: 64 * 1024 * 1024 });
  const out = new Map<string, Installed>();
  for (const line of stdout.split('\n')) {
    const [name, status, version, depends] = line.split('\t');
    if (name && version && status?.includes('install ok installed')) out.set(name, { version, depends: depends ?? '' });
  }
  return out;
}

/** The packages and their installed dependencies (the first installed alternative of each), name → version. */
async function packageClosure(roots: string[]): Promise<Map<string, string>> {
  const installed = await installedPackages();
  const found = new Map<string, string>();
  const todo = [...roots];
  while (todo.length) {
    const name = todo.pop()!;
    if (found.has(name)) continue;
    const pkg = installed.get(name);
    if (!pkg) {
      if (roots.includes(name)) throw new Error(`the test image needs the Debian package ${name} installed on this host`);
      continue;
    }
    found.set(name, pkg.version);
    for (const group of pkg.depends.split(',').map((s) => s.trim()).filter(Boolean)) {
      const dep = group.split('|').map((alt) => alt.trim().split(/[\s:]/)[0]!).find((d) => installed.has(d));
      if (dep) todo.push(dep);
    }
  }
  return found;
}

/** Host files of the packages, with /bin, /lib... resolved into /usr on a merged-/usr host. */
async function packageFiles(packages: string[]): Promise<string[]> {
  const { stdout } = await execFileAsync('dpkg', ['-L', ...packages], { maxBuffer: 64 * 1024 * 1024 });
  const files = new Set<string>();
  for (const path of stdout.split('\n')) {
    // Top-level entries (/bin, /lib64: merged-/usr symlinks) come from the skeleton; /etc from HOST_ETC.
    if (!path.startsWith('/') || path.lastIndexOf('/') === 0 || path.startsWith('/etc/')) continue;
    let real: string;
    try {
      real = join(realpathSync(dirname(path)), path.slice(path.lastIndexOf('/') + 1));
      if (lstatSync(real).isDirectory()) continue;
    } catch {
      continue; // diverted or removed
    }
    files.add(real);
  }
  return [...files].sort();
}

/** /etc entries taken from the host as they are; passwd, group, hosts and hostname are generated. */
const HOST_ETC = ['alternatives', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'nsswitch.conf', 'ld.so.conf', 'ld.so.conf.d', 'protocols', 'services', 'os-release', 'debian_version', 'login.defs', 'pam.d', 'security', 'bash.bashrc', 'profile', 'inputrc', 'mime.types'];

function writeSkeleton(dir: string, uid: number): void {
  for (const d of ['etc', 'tmp', 'proc', 'dev', 'sys', 'root', `home/agent`, 'run', 'var/tmp', 'usr']) mkdirSync(join(dir, d), { recursive: true });
  for (const name of ['bin', 'sbin', 'lib', 'lib64']) {
    const host = `/${name}`;
    if (existsSync(host) && lstatSync(host).isSymbolicLink()) symlinkSync(`usr/${name}`, join(dir, name));
  }
  writeFileSync(join(dir, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\nagent:x:${uid}:${uid}:agent:/home/agent:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(join(dir, 'etc/group'), `root:x:0:\nagent:x:${uid}:\nnogroup:x:65534:\n`);
  writeFileSync(join(dir, 'etc/shadow'), 'root:*:19000:0:99999:7:::\nagent:*:19000:0:99999:7:::\n', { mode: 0o640 });
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  writeFileSync(join(dir, 'etc/hostname'), 'sandbox\n');
}

/**
 * The tag of the test image for this host, built and imported into the
 * engine unless it is there already. Needs a merged-/usr Debian host.
 */
export async function ensureTestImage(docker: Docker, options: { uid?: number } = {}): Promise<string> {
  const uid = options.uid ?? 1000;
  const packages = await packageClosure(PACKAGES);
  const hash = createHash('sha256')
    .update(`${RECIPE_VERSION}\n${uid}\n${[...packages].sort().map(([n, v]) => `${n}=${v}`).join('\n')}`)
    .digest('hex')
    .slice(0, 16);
  const tag = `${TEST_IMAGE_REPO}:${hash}`;
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // Not built yet on this host.
  }
  const files = await packageFiles([...packages.keys()]);
  const staging = mkdtempSync(join(tmpdir(), 'ahimg-'));
  try {
    writeSkeleton(staging, uid);
    const etc = HOST_ETC.map((n) => `/etc/${n}`).filter((p) => existsSync(p));
    writeFileSync(join(staging, 'files'), [...etc, ...files].map((p) => p.slice(1)).join('\n'));
    // GNU tar: the host's files (relative to /), then the skeleton; one stream into the engine.
    const tar = spawn('tar', ['-c', '-f', '-', '--numeric-owner', '-C', '/', '-T', join(staging, 'files'), '-C', staging, '--exclude=./files', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const tarDone = new Promise<void>((resolve, reject) =>
      tar.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar of the test image failed (${code}): ${stderr.slice(-500)}`)))),
    );
    const [repo, version] = [TEST_IMAGE_REPO, hash];
    const response = await docker.importImage(tar.stdout, { repo, tag: version });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(response, (error) => (error ? reject(error) : resolve())));
    await tarDone;
    // Podman's Docker-compatible import ignores `tag` and tags :latest.
    await docker.getImage(tag).inspect().catch(() => docker.getImage(`${repo}:latest`).tag({ repo, tag: version }));
    await docker.getImage(tag).inspect();
    return tag;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
