import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Store } from '../store.js';
import { MAIN, readSample, WS } from './sample.js';

/**
 * Databases made by earlier agenthost versions (see make-fixture.ts), each
 * of which must open in this version and read back as it did in its own.
 * A release that changes the schema adds its fixture here.
 */
export const FIXTURES = ['main-a26086e'];

/** The schema name the PostgreSQL dumps use (make-fixture.ts). */
export const FIXTURE_SCHEMA = 'agenthost_fixture';

export interface Fixture {
  /** SQL that rebuilds the SQLite file (`sqlite3 .dump`). */
  sqlite: string;
  /** SQL that rebuilds the PostgreSQL schema (`pg_dump`), every name qualified by FIXTURE_SCHEMA. */
  postgres: string;
  /** What that version's store read back from each. */
  reads: { sqlite: Record<string, unknown>; postgres: Record<string, unknown> };
}

export async function loadFixture(name: string): Promise<Fixture> {
  const file = (suffix: string) => readFile(new URL(`./${name}.${suffix}`, import.meta.url), 'utf8');
  return { sqlite: await file('sqlite.sql'), postgres: await file('postgres.sql'), reads: JSON.parse(await file('reads.json')) as Fixture['reads'] };
}

/**
 * Asserts that a migrated store holds the fixture's sample as its version
 * read it, and that it goes on from there: seqs continue, the mirrored
 * transcript grows, the old keys still authenticate.
 */
export async function assertUpgraded(store: Store, reads: Record<string, unknown>): Promise<void> {
  assert.deepEqual(await readSample(store), reads);

  const at = '2025-06-01T00:00:00.000Z';
  const { events } = await store.appendEvents('sesn_a', [{ id: 'sevt_after', type: 'user.message', createdAt: at, body: { id: 'sevt_after' } }]);
  assert.equal(events[0]?.seq, 6);
  const agent = await store.createAgent({ id: 'agent_after', workspaceId: WS, version: 1, body: {}, createdAt: at, updatedAt: at, archivedAt: null });
  assert.equal(agent.seq, 3, 'seqs go on after the old rows');
  const before = (await store.listTranscriptSessions(MAIN.projectKey)).find((t) => t.sessionId === MAIN.sessionId)!.mtime;
  await store.appendTranscript(MAIN, [{ type: 'user', uuid: 'u-after' }, { type: 'user', uuid: 'u-1' }]);
  assert.equal((await store.loadTranscript(MAIN))?.length, 4, 'one new entry; u-1 was already held');
  assert.ok((await store.listTranscriptSessions(MAIN.projectKey)).find((t) => t.sessionId === MAIN.sessionId)!.mtime > before);
  assert.equal((await store.findApiKeyByHash('hash-full'))?.id, 'key_full');
  assert.equal((await store.claimWebhookDeliveries(at, '2025-06-01T00:01:00.000Z', 10)).length, 1, 'the pending delivery is still due');
}
