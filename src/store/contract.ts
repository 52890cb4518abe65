import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe } from 'node:test';
import type { GetStore } from './contract/fixtures.js';
import type { Store } from './store.js';

/** Makes a fresh, empty, not yet migrated store; `cleanup` closes it and removes its data. */
export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

type Suite = (store: GetStore) => void;

/**
 * The suites in `contract/`: every exported function named `...Tests`, file
 * by file in name order. A store module's contract file is found here
 * without being listed; a file there that exports no suite is an error, so
 * none is left out by a typo.
 */
async function findSuites(): Promise<Suite[]> {
  const dir = new URL('./contract/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('fixtures.')).sort();
  const suites: Suite[] = [];
  for (const file of files) {
    const exports = Object.entries((await import(new URL(file, dir).href)) as Record<string, unknown>);
    const found = exports.filter(([name, value]) => name.endsWith('Tests') && typeof value === 'function');
    if (found.length === 0) throw new Error(`contract/${file} exports no ...Tests suite`);
    suites.push(...found.map(([, value]) => value as Suite));
  }
  return suites;
}

const suites = await findSuites();

/**
 * The behaviour every Store implementation must show. Each implementation's
 * test file calls this once; every test gets its own store from `makeStore`,
 * migrated here, so tests share no rows.
 */
export function runStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    let current: Awaited<ReturnType<MakeStore>> | undefined;

    beforeEach(async () => {
      current = await makeStore();
      await current.store.migrate();
    });

    afterEach(async () => {
      const done = current;
      current = undefined;
      await done?.cleanup();
    });

    const store = (): Store => {
      if (!current) throw new Error('no store: the test ran outside the contract hooks');
      return current.store;
    };

    for (const suite of suites) suite(store);
  });
}
