/** Claude Code transcripts, mirrored through the Agent SDK's SessionStore (see session-store.ts). */
import type { Kysely } from 'kysely';
import type { StoreContext, StoreDialect } from '../dialect.js';
import type { DB } from '../kysely-store.js';
import { batches, object } from '../query.js';
import { prepared, preparedInsert } from '../prepared.js';
import type { Store, TranscriptEntry, TranscriptKey } from '../store.js';

export interface TranscriptTables {
  /** One row per transcript: it exists once anything was appended, so "never written" and "empty" differ. */
  transcripts: {
    project_key: string;
    session_id: string;
    /** '' for the main transcript. */
    subpath: string;
    /** Hands out entry seqs. */
    last_seq: number;
    /** Epoch milliseconds of the last append, strictly increasing per transcript. */
    mtime: number;
  };
  transcript_entries: {
    project_key: string;
    session_id: string;
    subpath: string;
    seq: number;
    uuid: string | null;
    /** JSON text: one JSONL line. */
    body: string;
  };
}

type EntryRow = TranscriptTables['transcript_entries'];

/** The stored subpath of a transcript key: '' for the main transcript. */
const subpathOf = (key: { subpath?: string }): string => key.subpath ?? '';

/** An entry's idempotency key: its `uuid` when that is a non-empty string. */
const entryUuid = (entry: { uuid?: unknown }): string | null => (typeof entry.uuid === 'string' && entry.uuid !== '' ? entry.uuid : null);

export function transcripts({ db, dialect }: StoreContext): Pick<
  Store,
  'appendTranscript' | 'replaceTranscript' | 'loadTranscript' | 'listTranscriptSessions' | 'listTranscriptSubkeys' | 'deleteTranscript'
> {
  // Every mirrored batch runs these two (see `prepared`).
  const reserve = prepared((projectKey: string, sessionId: string, subpath: string, count: number) =>
    upsertTranscript(db, dialect, { projectKey, sessionId, subpath }, count, 'append'),
  );
  // DO NOTHING skips a uuid the transcript already holds, and one repeated earlier in the batch.
  const insertRows = preparedInsert(['project_key', 'session_id', 'subpath', 'seq', 'uuid', 'body'], (rows: EntryRow[]) =>
    db.insertInto('transcript_entries').values(rows).onConflict((oc) => oc.doNothing()),
  );

  // One statement, so one snapshot: no rows means never written; a single
  // row with a null body means written but empty.
  const entriesOf = prepared((projectKey: string, sessionId: string, subpath: string) =>
    db
      .selectFrom('transcripts as t')
      .leftJoin('transcript_entries as e', (join) =>
        join.onRef('e.project_key', '=', 't.project_key').onRef('e.session_id', '=', 't.session_id').onRef('e.subpath', '=', 't.subpath'),
      )
      .select('e.body')
      .where('t.project_key', '=', projectKey)
      .where('t.session_id', '=', sessionId)
      .where('t.subpath', '=', subpath)
      .orderBy('e.seq'),
  );

  /** Inserts `entries` with seqs from `first` on, a multi-row statement per batch. */
  async function insertEntries(trx: Kysely<DB>, key: TranscriptKey, first: number, entries: TranscriptEntry[]): Promise<void> {
    const rows = entries.map((entry, i) => ({
      project_key: key.projectKey,
      session_id: key.sessionId,
      subpath: subpathOf(key),
      seq: first + i,
      uuid: entryUuid(entry),
      body: JSON.stringify(entry),
    }));
    for (const batch of batches(rows)) await insertRows(trx, batch);
  }

  return {
    async appendTranscript(key, entries) {
      await db.transaction().execute(async (trx) => {
        // Creates the transcript or moves its mtime on (never back, even if
        // the clock does) and reserves seqs for the whole batch in one
        // statement, which on PostgreSQL also locks its row until commit.
        const [reserved] = await reserve(trx, key.projectKey, key.sessionId, subpathOf(key), entries.length);
        await insertEntries(trx, key, reserved!.last_seq - entries.length + 1, entries);
      });
    },

    async replaceTranscript(key, entries) {
      await db.transaction().execute(async (trx) => {
        // Takes the transcript's row first, as an append does.
        await upsertTranscript(trx, dialect, key, entries.length, 'replace').execute();
        await trx
          .deleteFrom('transcript_entries')
          .where('project_key', '=', key.projectKey)
          .where('session_id', '=', key.sessionId)
          .where('subpath', '=', subpathOf(key))
          .execute();
        await insertEntries(trx, key, 1, entries);
      });
    },

    async loadTranscript(key) {
      const rows = await entriesOf(db, key.projectKey, key.sessionId, subpathOf(key));
      if (rows.length === 0) return null;
      return rows.flatMap((r) => (r.body === null ? [] : [object<TranscriptEntry>(r.body)]));
    },

    async listTranscriptSessions(projectKey) {
      const rows = await db
        .selectFrom('transcripts')
        .select(['session_id', 'mtime'])
        .where('project_key', '=', projectKey)
        .where('subpath', '=', '')
        .execute();
      return rows.map((r) => ({ sessionId: r.session_id, mtime: r.mtime }));
    },

    async listTranscriptSubkeys(key) {
      const rows = await db
        .selectFrom('transcripts')
        .select('subpath')
        .where('project_key', '=', key.projectKey)
        .where('session_id', '=', key.sessionId)
        .where('subpath', '<>', '')
        .orderBy(dialect.byteOrder('subpath'))
        .execute();
      return rows.map((r) => r.subpath);
    },

    async deleteTranscript(key) {
      const subpath = subpathOf(key);
      await db
        .deleteFrom('transcripts')
        .where('project_key', '=', key.projectKey)
        .where('session_id', '=', key.sessionId)
        // The main transcript's subagent transcripts go with it.
        .$if(subpath !== '', (q) => q.where('subpath', '=', subpath))
        .execute();
    },
  };
}

/**
 * Creates the transcript's row or updates it: `append` reserves `count` more
 * seqs, `replace` starts them over. mtime takes the database clock, or the
 * last mtime + 1 when the clock has not moved past it.
 */
function upsertTranscript(trx: Kysely<DB>, dialect: StoreDialect, key: TranscriptKey, count: number, mode: 'append' | 'replace') {
  return trx
    .insertInto('transcripts')
    .values({ project_key: key.projectKey, session_id: key.sessionId, subpath: subpathOf(key), last_seq: count, mtime: dialect.nowMs() })
    .onConflict((oc) =>
      oc.columns(['project_key', 'session_id', 'subpath']).doUpdateSet((eb) => ({
        last_seq: mode === 'append' ? eb('transcripts.last_seq', '+', eb.ref('excluded.last_seq')) : eb.ref('excluded.last_seq'),
        mtime: eb
          .case()
          .when('excluded.mtime', '>', eb.ref('transcripts.mtime'))
          .then(eb.ref('excluded.mtime'))
          .else(eb('transcripts.mtime', '+', 1))
          .end(),
      })),
    )
    .returning('last_seq');
}
