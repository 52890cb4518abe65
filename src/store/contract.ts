import { afterEach, beforeEach, describe } from 'node:test';
import { agentTests } from './contract/agents.js';
import { environmentTests } from './contract/environments.js';
import { eventTests } from './contract/events.js';
import { fileTests } from './contract/files.js';
import { idempotencyTests } from './contract/idempotency.js';
import { pagingTests } from './contract/paging.js';
import { sessionTests } from './contract/sessions.js';
import { transcriptTests } from './contract/transcripts.js';
import { triggerTests } from './contract/triggers.js';
import { usageTests } from './contract/usage.js';
import { webhookTests } from './contract/webhooks.js';
import { lifecycleTests, workspaceTests } from './contract/workspaces.js';
import type { Store } from './store.js';

/** Makes a fresh, empty, not yet migrated store; `cleanup` closes it and removes its data. */
export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

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

    lifecycleTests(store);
    workspaceTests(store);
    agentTests(store);
    environmentTests(store);
    sessionTests(store);
    eventTests(store);
    pagingTests(store);
    fileTests(store);
    transcriptTests(store);
    idempotencyTests(store);
    triggerTests(store);
    usageTests(store);
    webhookTests(store);
  });
}
