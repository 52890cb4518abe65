import { parseArgs } from 'node:util';
import { AUTH_CACHE_TTL_MS, createApiKey } from '../api/auth.js';
import type { Config } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import type { ApiKeyRecord, Store, WorkspaceRecord } from '../store/store.js';

const USAGE = `usage: agenthost keys create --workspace NAME [--read-only]
       agenthost keys list [--workspace NAME] [--json]
       agenthost keys revoke KEY_ID
       agenthost keys revoke --workspace NAME --all
`;

const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * `agenthost keys create|list|revoke`: API keys of workspaces, straight on
 * the store (the database servers share), so it works with no server running.
 *
 * - create: the key is the last word of the output; it is never shown again.
 * - list: ids, workspaces, scopes, the key's display prefix and dates; never
 *   a key or its hash.
 * - revoke: one key by id, or every key of a workspace (`--all`), which locks
 *   the workspace out. Every server refuses a revoked key within
 *   `AUTH_CACHE_TTL_MS` (see `createAuthenticator`), and closes the event
 *   streams it had open.
 */
export async function keys(argv: string[], config: Readonly<Config>): Promise<number> {
  const [sub, ...rest] = argv;
  const run = sub === 'create' ? create : sub === 'list' ? list : sub === 'revoke' ? revoke : undefined;
  if (!run) {
    process.stderr.write(USAGE);
    return 1;
  }
  let parsed: Parsed;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: sub === 'revoke',
      options: {
        workspace: { type: 'string' },
        'read-only': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
      },
    });
    parsed = { ...values, positionals };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (parsed.workspace !== undefined && !WORKSPACE_NAME.test(parsed.workspace)) {
    process.stderr.write('workspace names are 1-64 letters, digits, ".", "_" or "-"\n');
    return 1;
  }
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: silentLogger() });
  try {
    return await run(store, parsed);
  } finally {
    await store.close();
  }
}

interface Parsed {
  workspace?: string | undefined;
  'read-only'?: boolean | undefined;
  json?: boolean | undefined;
  all?: boolean | undefined;
  positionals: string[];
}

async function create(store: Store, o: Parsed): Promise<number> {
  const name = o.workspace ?? 'default';
  const scope = o['read-only'] ? 'read_only' : 'full';
  const { key, workspaceId } = await createApiKey(store, name, { scope });
  const kind = scope === 'read_only' ? 'a read-only API key' : 'an API key';
  process.stdout.write(`created ${kind} for workspace ${name} (${workspaceId}); store it now, it is not shown again:\n${key}\n`);
  return 0;
}

/** A key as `keys list` shows it: everything but the hash. */
function listed(k: ApiKeyRecord, w: WorkspaceRecord) {
  return { id: k.id, workspace: w.name, workspace_id: w.id, scope: k.scope, prefix: k.prefix, created_at: k.createdAt, revoked_at: k.revokedAt };
}

async function list(store: Store, o: Parsed): Promise<number> {
  const workspaces = await selectWorkspaces(store, o.workspace);
  if (!workspaces) return 1;
  const rows: Array<ReturnType<typeof listed>> = [];
  for (const w of workspaces) for (const k of await store.listApiKeys(w.id)) rows.push(listed(k, w));
  if (o.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = [
    ['KEY ID', 'WORKSPACE', 'SCOPE', 'PREFIX', 'CREATED', 'REVOKED'],
    ...rows.map((r) => [r.id, r.workspace, r.scope, `${r.prefix}…`, r.created_at, r.revoked_at ?? '-']),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}

async function revoke(store: Store, o: Parsed): Promise<number> {
  const at = new Date().toISOString();
  const within = `requests with it are refused within ${AUTH_CACHE_TTL_MS} ms on every server`;
  if (o.all) {
    if (o.workspace === undefined || o.positionals.length > 0) {
      process.stderr.write(`--all revokes every key of one workspace: agenthost keys revoke --workspace NAME --all\n`);
      return 1;
    }
    const [w] = (await selectWorkspaces(store, o.workspace)) ?? [];
    if (!w) return 1;
    let revoked = 0;
    for (const k of await store.listApiKeys(w.id)) {
      if (k.revokedAt) continue;
      if (await store.revokeApiKey(w.id, k.id, at)) revoked++;
    }
    process.stdout.write(`revoked ${revoked} key${revoked === 1 ? '' : 's'} of workspace ${w.name} (${w.id}); ${within.replace('with it', 'with them')}\n`);
    return 0;
  }
  const [id, ...extra] = o.positionals;
  if (id === undefined || extra.length > 0 || o.workspace !== undefined) {
    process.stderr.write(`name one key: agenthost keys revoke KEY_ID (ids are listed by agenthost keys list)\n`);
    return 1;
  }
  for (const w of await store.listWorkspaces()) {
    const k = (await store.listApiKeys(w.id)).find((x) => x.id === id);
    if (!k) continue;
    if (k.revokedAt) {
      process.stdout.write(`key ${id} of workspace ${w.name} was already revoked at ${k.revokedAt}\n`);
      return 0;
    }
    await store.revokeApiKey(w.id, id, at);
    process.stdout.write(`revoked key ${id} (${k.prefix}…) of workspace ${w.name}; ${within}\n`);
    return 0;
  }
  process.stderr.write(`no key ${JSON.stringify(id)}; agenthost keys list shows the ids\n`);
  return 1;
}

/** Every workspace, or the one named; null (after saying so) when it does not exist. */
async function selectWorkspaces(store: Store, name: string | undefined): Promise<WorkspaceRecord[] | null> {
  const all = await store.listWorkspaces();
  if (name === undefined) return all;
  const found = all.filter((w) => w.name === name);
  if (found.length === 0) process.stderr.write(`no workspace named ${name}\n`);
  return found.length === 0 ? null : found;
}
