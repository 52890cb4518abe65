import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { CliVersions } from '../claude-code/versions.js';
import { runtimeOf } from '../sessions/session-body.js';
import { openStore } from '../store/index.js';
import type { JsonObject } from '../store/store.js';

const HELP = `usage: agenthost cli status [--json]
       agenthost cli update [--major]
`;

/** Sessions holding a sandbox (live, starting, or standby on a warm one) grouped by the Claude Code version they run. */
async function sessionsByVersion(config: Readonly<Config>): Promise<Map<string, string[]>> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: silentLogger() });
  try {
    const out = new Map<string, string[]>();
    for (const s of await store.listSessionsByStatus(['idle', 'running', 'rescheduling'])) {
      const runtime = runtimeOf(s.body);
      if (runtime.sandbox_state !== 'live' && runtime.sandbox_state !== 'starting' && runtime.sandbox_state !== 'standby') continue;
      const version = typeof runtime.cli_version === 'string' ? runtime.cli_version : 'unknown';
      out.set(version, [...(out.get(version) ?? []), s.id]);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** `agenthost cli status|update`: the Claude Code version policy. */
export async function cli(argv: string[], config: Readonly<Config>): Promise<number> {
  const [sub, ...rest] = argv;
  let values: { json?: boolean | undefined; major?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, major: { type: 'boolean' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${HELP}`);
    return 1;
  }
  const versions = new CliVersions({ dataDir: config.dataDir, range: config.cli.range, registry: config.cli.registry });
  if (sub === 'status') {
    const [installed, current, sessions] = await Promise.all([versions.installed(), versions.current(), sessionsByVersion(config)]);
    let newest: Awaited<ReturnType<CliVersions['newest']>> | undefined;
    let registryError: string | undefined;
    try {
      newest = await versions.newest();
    } catch (error) {
      registryError = (error as Error).message.split('\n')[0];
    }
    const range = await versions.range();
    if (values.json) {
      const out = {
        range,
        current: current.version,
        installed,
        newest_in_range: newest?.inRange ?? null,
        newest: newest?.overall ?? null,
        sessions: Object.fromEntries(sessions),
        ...(registryError ? { registry_error: registryError } : {}),
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    const lines = ['installed:'];
    for (const i of installed) {
      const tags = [i.source, ...(i === current || (i.version === current.version && i.source === current.source) ? ['current'] : [])].join(', ');
      lines.push(`  ${i.version.padEnd(12)} ${tags.padEnd(20)} ${i.path}`);
    }
    lines.push(`allowed range: ${range}`);
    if (newest) {
      const have = (v: string) => installed.some((i) => i.version === v);
      lines.push(`newest in range: ${newest.inRange ?? 'none'}${newest.inRange ? (have(newest.inRange) ? ' (installed)' : ' (not installed: agenthost cli update)') : ''}`);
      if (newest.overall && newest.overall !== newest.inRange) lines.push(`newest: ${newest.overall} (outside the range: agenthost cli update --major)`);
    } else {
      lines.push(`newest in range: unknown (the registry did not answer: ${registryError})`);
    }
    lines.push('live sessions:');
    if (sessions.size === 0) lines.push('  none');
    for (const [version, ids] of [...sessions].sort()) lines.push(`  ${version.padEnd(12)} ${ids.length} ${ids.length === 1 ? 'session' : 'sessions'}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  if (sub === 'update') {
    const result = await versions.update({ major: values.major ?? false });
    if (result.changed) process.stdout.write(`installed Claude Code ${result.version}; new sessions start on it, running sessions keep their version\n`);
    else process.stdout.write(`Claude Code ${result.version} is the newest allowed version; nothing to do\n`);
    if (result.skippedMajor) process.stdout.write(`${result.skippedMajor} is a new major version: agenthost cli update --major installs it\n`);
    return 0;
  }
  process.stderr.write(HELP);
  return 1;
}
