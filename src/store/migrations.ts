import { readdir, readFile } from 'node:fs/promises';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d+)_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNN_name.sql` files from a backend's migrations folder, in version
 * order. The folder is given as a URL built from the backend module's
 * `import.meta.url`, so it resolves the same from any working directory.
 */
export async function loadMigrations(dir: URL): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of await readdir(dir)) {
    const match = FILE.exec(file);
    if (!match) continue;
    const version = Number(match[1]);
    const name = match[2] ?? '';
    migrations.push({ version, name, sql: await readFile(new URL(file, dir), 'utf8') });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version) {
      throw new Error(`two migrations share version ${migrations[i]?.version} in ${dir.pathname}`);
    }
  }
  if (migrations.length === 0) throw new Error(`no migrations found in ${dir.pathname}`);
  return migrations;
}
