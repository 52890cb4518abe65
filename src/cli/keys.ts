import { parseArgs } from 'node:util';
import { createApiKey } from '../api/auth.js';
import type { Config } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';

const USAGE = 'usage: agenthost keys create --workspace NAME [--read-only]\n';

/**
 * `agenthost keys create --workspace NAME [--read-only]`: the key is the last
 * word of the output. A read-only key may only make GET requests.
 */
export async function keys(argv: string[], config: Readonly<Config>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') {
    process.stderr.write(USAGE);
    return 1;
  }
  let values: { workspace?: string; 'read-only'?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { workspace: { type: 'string', default: 'default' }, 'read-only': { type: 'boolean', default: false } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  const name = values.workspace ?? 'default';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    process.stderr.write('workspace names are 1-64 letters, digits, ".", "_" or "-"\n');
    return 1;
  }
  const scope = values['read-only'] ? 'read_only' : 'full';
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: silentLogger() });
  try {
    const { key, workspaceId } = await createApiKey(store, name, { scope });
    const kind = scope === 'read_only' ? 'a read-only API key' : 'an API key';
    process.stdout.write(`created ${kind} for workspace ${name} (${workspaceId}); store it now, it is not shown again:\n${key}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
