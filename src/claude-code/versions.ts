import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';

const execFileAsync = promisify(execFile);

/** The npm package Claude Code is published as. */
export const CLI_PACKAGE = '@anthropic-ai/claude-code';

export interface CliInstall {
  version: string;
  /** The executable new sessions are started with. */
  path: string;
  /** `bundled` ships with the Agent SDK; `installed` came from the registry. */
  source: 'bundled' | 'installed';
  installedAt: string | null;
}

export interface CliVersionsOptions {
  /** Versions go to `<dataDir>/cli/<version>/`; the current choice to `<dataDir>/cli/current.json`. */
  dataDir: string;
  /** Allowed versions (a semver range); default `^<bundled version>`. */
  range?: string | undefined;
  /** npm registry URL; default: npm's own configuration. */
  registry?: string | undefined;
  /** The bundled CLI; default: the Agent SDK's platform package. */
  bundled?: { path: string; version?: string } | undefined;
  now?: () => Date;
}

/** The Agent SDK's own Claude Code binary for this platform. */
export function bundledCliPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve(`@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}/package.json`);
  return join(dirname(pkg), process.platform === 'win32' ? 'claude.exe' : 'claude');
}

/** `2.1.330 (Claude Code)` → `2.1.330`. */
export async function cliVersionOf(path: string): Promise<string> {
  const { stdout } = await execFileAsync(path, ['--version'], { timeout: 30_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent' } });
  const version = semver.valid(stdout.trim().split(/\s+/)[0] ?? '');
  if (!version) throw new Error(`${path} --version printed ${JSON.stringify(stdout.trim().slice(0, 100))}, not a version`);
  return version;
}

/**
 * The Claude Code version policy: which versions are installed (the bundled
 * one and any installed side by side from the registry), which one new
 * sessions start on, which versions are allowed, and installing the newest
 * allowed one. Sessions already running keep the binary they started with;
 * installed versions are never removed by an update.
 */
export class CliVersions {
  private bundledVersion: Promise<string> | undefined;
  private readonly root: string;
  private readonly now: () => Date;

  constructor(private readonly o: CliVersionsOptions) {
    this.root = join(o.dataDir, 'cli');
    this.now = o.now ?? (() => new Date());
  }

  async bundled(): Promise<CliInstall> {
    const path = this.o.bundled?.path ?? bundledCliPath();
    this.bundledVersion ??= this.o.bundled?.version ? Promise.resolve(this.o.bundled.version) : cliVersionOf(path);
    return { version: await this.bundledVersion, path, source: 'bundled', installedAt: null };
  }

  /** The allowed range: configured, else a caret on the bundled version. */
  async range(): Promise<string> {
    return this.o.range ?? `^${(await this.bundled()).version}`;
  }

  /** Every usable version, oldest first. */
  async installed(): Promise<CliInstall[]> {
    const out = [await this.bundled()];
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const name of names) {
      if (!semver.valid(name)) continue;
      const record = await readFile(join(this.root, name, 'install.json'), 'utf8').then((t) => JSON.parse(t) as CliInstall, () => null);
      if (record && existsSync(record.path)) out.push(record);
    }
    return out.sort((a, b) => semver.compare(a.version, b.version) || (a.source === 'bundled' ? -1 : 1));
  }

  /** What new sessions start on: the version `update` chose last, else the bundled one. */
  async current(): Promise<CliInstall> {
    const chosen = await readFile(join(this.root, 'current.json'), 'utf8').then((t) => (JSON.parse(t) as { version: string }).version, () => null);
    const all = await this.installed();
    return (chosen ? all.find((i) => i.version === chosen && i.source === 'installed') : undefined) ?? all.find((i) => i.source === 'bundled')!;
  }

  /** The executable for a new session, or undefined for the Agent SDK's own choice (the bundled one). */
  async executable(): Promise<string | undefined> {
    // Read on every session start (an update applies without a restart), without running the bundled binary.
    const chosen = await readFile(join(this.root, 'current.json'), 'utf8').then((t) => (JSON.parse(t) as { version: string }).version, () => null);
    if (!chosen || !semver.valid(chosen)) return undefined;
    const record = await readFile(join(this.root, chosen, 'install.json'), 'utf8').then((t) => JSON.parse(t) as CliInstall, () => null);
    return record && existsSync(record.path) ? record.path : undefined;
  }

  /** Versions the registry has, oldest first (prereleases left out). */
  async available(): Promise<string[]> {
    const args = ['view', CLI_PACKAGE, 'versions', '--json', ...(this.o.registry ? ['--registry', this.o.registry] : [])];
    const { stdout } = await execFileAsync('npm', args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    const parsed = JSON.parse(stdout) as string | string[];
    return (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => semver.valid(v) && !semver.prerelease(v)).sort(semver.compare);
  }

  /** The newest version in the allowed range, and the newest of all when it is outside (a new major). */
  async newest(): Promise<{ inRange: string | null; overall: string | null; range: string }> {
    const [versions, range] = await Promise.all([this.available(), this.range()]);
    return { inRange: semver.maxSatisfying(versions, range), overall: versions.at(-1) ?? null, range };
  }

  /**
   * Installs the newest allowed version (with `major`, the newest of all)
   * side by side and makes it current for new sessions. Nothing changes when
   * the current version is already that one.
   */
  async update(options: { major?: boolean } = {}): Promise<{ version: string | null; changed: boolean; skippedMajor: string | null }> {
    const newest = await this.newest();
    const target = options.major ? newest.overall : newest.inRange;
    const skippedMajor = !options.major && newest.overall && newest.inRange !== newest.overall && semver.gt(newest.overall, newest.inRange ?? '0.0.0') ? newest.overall : null;
    const current = await this.current();
    if (!target || !semver.gt(target, current.version)) return { version: current.version, changed: false, skippedMajor };
    const install = (await this.installed()).find((i) => i.version === target) ?? (await this.install(target));
    await this.choose(install);
    return { version: target, changed: true, skippedMajor };
  }

  /**
   * Installs one version into `<dataDir>/cli/<version>/` (npm, install
   * scripts off), finds its binary and checks that it runs and says it is
   * that version. A half-finished install never becomes visible.
   */
  async install(version: string): Promise<CliInstall> {
    if (!semver.valid(version)) throw new Error(`not a version: ${version}`);
    const dir = join(this.root, version);
    const staging = join(this.root, `.${version}-${process.pid}-${Date.now()}`);
    await mkdir(staging, { recursive: true });
    try {
      await writeFile(join(staging, 'package.json'), JSON.stringify({ name: 'agenthost-cli', private: true }));
      const args = ['install', '--prefix', staging, '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--omit=dev', `${CLI_PACKAGE}@${version}`];
      await execFileAsync('npm', [...args, ...(this.o.registry ? ['--registry', this.o.registry] : [])], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    const path = await realpath(await findBinary(dir));
    const reported = await cliVersionOf(path);
    if (reported !== version) throw new Error(`the installed ${CLI_PACKAGE}@${version} says it is ${reported}`);
    const install: CliInstall = { version, path, source: 'installed', installedAt: this.now().toISOString() };
    await writeFile(join(dir, 'install.json'), JSON.stringify(install, null, 2));
    return install;
  }

  private async choose(install: CliInstall): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.current-${process.pid}.json`);
    await writeFile(tmp, JSON.stringify({ version: install.version, chosenAt: this.now().toISOString() }));
    await rename(tmp, join(this.root, 'current.json'));
  }
}

/**
 * The native binary of an installed version: the platform package npm
 * installed as an optional dependency, else the package's own `bin`.
 */
async function findBinary(prefix: string): Promise<string> {
  const modules = join(prefix, 'node_modules', '@anthropic-ai');
  for (const suffix of [`${process.platform}-${process.arch}`, `${process.platform}-${process.arch}-musl`]) {
    const candidate = join(modules, `claude-code-${suffix}`, process.platform === 'win32' ? 'claude.exe' : 'claude');
    if (existsSync(candidate)) return candidate;
  }
  const pkgDir = join(modules, 'claude-code');
  const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.claude;
  if (!bin) throw new Error(`${CLI_PACKAGE} in ${prefix} has no claude binary`);
  return join(pkgDir, bin);
}
