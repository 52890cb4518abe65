import { parseArgs } from 'node:util';
import { createApiKey } from '../api/auth.js';
import type { Config } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { openStore } from '../store/index.js';

/** `agenthost keys create --workspace NAME`: the key is the last word of the output. */
export async function keys(argv: string[], config: Readonly<Config>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') {
    process.stderr.write('usage: agenthost keys create --workspace NAME\n');
    return 1;
  }
  const { values } = parseArgs({ args: rest, options: { workspace: { type: 'string', default: 'default' } } });
  const name = values.workspace ?? 'default';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    process.stderr.write('workspace names are 1-64 letters, digits, ".", "_" or "-"\n');
    return 1;
  }
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: silentLogger() });
  try {
    const { key, workspaceId } = await createApiKey(store, name);
    process.stdout.write(`created an API key for workspace ${name} (${workspaceId}); store it now, it is not shown again:\n${key}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
