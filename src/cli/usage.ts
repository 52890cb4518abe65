import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import type { UsageSummary } from '../store/store.js';

const HELP = 'usage: agenthost usage [--workspace NAME|ID] [--since YYYY-MM-DD|ISO-TIME] [--json]\n';

/** Parses `--since`: a date (midnight UTC) or an ISO time; undefined when it is neither. */
export function parseSince(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Formats the report as an aligned table with a total line per workspace and overall. */
export function formatUsage(rows: UsageSummary[]): string {
  const header = ['workspace', 'kind', 'name', 'records', 'input', 'output', 'cache_write', 'cache_read', 'sandbox_s', 'usd'];
  const lines: string[][] = [header];
  let total = 0;
  for (const r of rows) {
    total += r.usd;
    lines.push([
      r.workspaceName,
      r.kind,
      r.name,
      String(r.records),
      String(r.inputTokens),
      String(r.outputTokens),
      String(r.cacheCreationInputTokens),
      String(r.cacheReadInputTokens),
      r.sandboxSeconds.toFixed(1),
      r.usd.toFixed(6),
    ]);
  }
  lines.push(['total', '', '', '', '', '', '', '', '', total.toFixed(6)]);
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  // Text columns left-aligned, numbers right-aligned.
  return lines.map((l) => l.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `agenthost usage`: what workspaces spent on tokens and sandbox time, from the store the server uses. */
export async function usage(argv: string[], config: Readonly<Config>): Promise<number> {
  let values: { workspace?: string | undefined; since?: string | undefined; json?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { workspace: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${HELP}`);
    return 1;
  }
  const since = values.since === undefined ? undefined : parseSince(values.since);
  if (values.since !== undefined && since === undefined) {
    process.stderr.write(`--since: ${JSON.stringify(values.since)} is not a date (YYYY-MM-DD) or an ISO time\n${HELP}`);
    return 1;
  }
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: silentLogger() });
  try {
    const all = await store.usageReport(since ? { since } : {});
    const rows = values.workspace === undefined ? all : all.filter((r) => r.workspaceName === values.workspace || r.workspaceId === values.workspace);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ since: since ?? null, total_usd: rows.reduce((s, r) => s + r.usd, 0), data: rows })}\n`);
      return 0;
    }
    const scope = values.workspace === undefined ? 'all workspaces' : `workspace ${values.workspace}`;
    process.stdout.write(`usage of ${scope} ${since ? `since ${since}` : 'ever'}\n`);
    process.stdout.write(rows.length === 0 ? 'no usage recorded\n' : formatUsage(rows));
    return 0;
  } finally {
    await store.close();
  }
}
