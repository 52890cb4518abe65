import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { TranscriptEntry, TranscriptKey } from '../store.js';
import { range, type GetStore } from './fixtures.js';

/** A transcript line shaped like Claude Code's: a type, usually a uuid, the rest opaque. */
function line(text: string, uuid: string | null = randomUUID()): TranscriptEntry {
  const entry: TranscriptEntry = { type: 'user', message: { role: 'user', content: text } };
  return uuid === null ? entry : { ...entry, uuid };
}

const texts = (entries: TranscriptEntry[] | null): string[] | null =>
  entries?.map((e) => String((e.message as { content: unknown }).content)) ?? null;

const main = (sessionId = randomUUID(), projectKey = '-work-project'): TranscriptKey => ({ projectKey, sessionId });

export function transcriptTests(store: GetStore): void {
  describe('transcripts', () => {
    it('a transcript never written loads as null; one written with no entries loads as []', async () => {
      const key = main();
      assert.equal(await store().loadTranscript(key), null);
      assert.deepEqual(await store().listTranscriptSessions(key.projectKey), []);
      await store().appendTranscript(key, []);
      assert.deepEqual(await store().loadTranscript(key), []);
      assert.deepEqual(ids(await store().listTranscriptSessions(key.projectKey)), [key.sessionId]);
      assert.equal(await store().loadTranscript({ ...key, subpath: 'subagents/agent-a' }), null);
    });

    it('entries load in append order across batches', async () => {
      const key = main();
      await store().appendTranscript(key, [line('a'), line('b')]);
      await store().appendTranscript(key, [line('c')]);
      await store().appendTranscript(key, [line('d'), line('e'), line('f')]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['a', 'b', 'c', 'd', 'e', 'f']);
    });

    it('an entry whose uuid is already stored is skipped, in a later batch or the same one', async () => {
      const key = main();
      const a = line('a');
      const b = line('b');
      await store().appendTranscript(key, [a, b]);
      await store().appendTranscript(key, [{ ...b, message: 'replayed' }, line('c'), a]);
      await store().appendTranscript(key, [line('d', 'same'), line('e', 'same')]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['a', 'b', 'c', 'd']);
    });

    it('entries without a uuid are always appended, even when identical', async () => {
      const key = main();
      const title: TranscriptEntry = { type: 'custom-title', customTitle: 'Refactor', sessionId: key.sessionId };
      await store().appendTranscript(key, [title, title]);
      await store().appendTranscript(key, [title, line('x', null), { ...line('y'), uuid: '' }]);
      const loaded = await store().loadTranscript(key);
      assert.equal(loaded?.length, 5);
      assert.deepEqual(loaded?.slice(0, 3), [title, title, title]);
    });

    it('entries round-trip deep-equal: NUL, unicode, nesting, every JSON type', async () => {
      const key = main();
      const entry: TranscriptEntry = {
        type: 'user',
        uuid: randomUUID(),
        timestamp: '2025-01-01T00:00:00.000Z',
        parentUuid: null,
        isSidechain: false,
        message: {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'NUL \u0000 here, quotes " \\ and ünïcødé 🚀\n\ttab' },
            { type: 'text', text: 'x'.repeat(100_000) },
          ],
        },
        toolUseResult: { stdout: '\u0000\u0001\u001f', stderr: '', interrupted: false, exitCode: 0, ratio: 0.25, big: 2 ** 53 - 1 },
        deep: { a: { b: { c: { d: [1, [2, [3, { e: null }]]] } } } },
        empty: { object: {}, array: [], string: '' },
      };
      await store().appendTranscript(key, [entry]);
      assert.deepEqual(await store().loadTranscript(key), [entry]);
    });

    it('subagent transcripts are separate, listed as subkeys, and not listed as sessions', async () => {
      const key = main();
      const other = main(randomUUID(), key.projectKey);
      const shared = line('same uuid in two transcripts');
      await store().appendTranscript(key, [shared]);
      await store().appendTranscript({ ...key, subpath: 'subagents/agent-b' }, [shared, line('b2')]);
      await store().appendTranscript({ ...key, subpath: 'subagents/agent-a' }, [line('a1')]);
      await store().appendTranscript({ ...other, subpath: 'subagents/agent-c' }, [line('c1')]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['same uuid in two transcripts']);
      assert.deepEqual(texts(await store().loadTranscript({ ...key, subpath: 'subagents/agent-b' })), [
        'same uuid in two transcripts',
        'b2',
      ]);
      assert.deepEqual(await store().listTranscriptSubkeys(key), ['subagents/agent-a', 'subagents/agent-b']);
      assert.deepEqual(await store().listTranscriptSubkeys(other), ['subagents/agent-c']);
      assert.deepEqual(await store().listTranscriptSubkeys(main()), []);
      // `other` has only a subagent transcript, so it is no session of its own.
      assert.deepEqual(ids(await store().listTranscriptSessions(key.projectKey)), [key.sessionId]);
    });

    it('an empty subpath names the main transcript', async () => {
      const key = main();
      await store().appendTranscript({ ...key, subpath: '' }, [line('a')]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['a']);
      assert.deepEqual(await store().listTranscriptSubkeys(key), []);
    });

    it('project keys scope transcripts', async () => {
      const sessionId = randomUUID();
      await store().appendTranscript(main(sessionId, '-one'), [line('one')]);
      await store().appendTranscript(main(sessionId, '-two'), [line('two')]);
      assert.deepEqual(texts(await store().loadTranscript(main(sessionId, '-one'))), ['one']);
      assert.deepEqual(ids(await store().listTranscriptSessions('-two')), [sessionId]);
      assert.deepEqual(await store().listTranscriptSessions('-three'), []);
    });

    it('mtime is integer epoch milliseconds near now and increases with every append', async () => {
      const key = main();
      const before = Date.now();
      const a = line('a');
      await store().appendTranscript(key, [a]);
      const [first] = await store().listTranscriptSessions(key.projectKey);
      assert.ok(first && Number.isInteger(first.mtime));
      // Generous bounds: PostgreSQL stamps by its own clock.
      assert.ok(Math.abs(first.mtime - before) < 60_000, `mtime ${first.mtime} is far from ${before}`);
      let last = first.mtime;
      // Any append counts, even one that adds nothing.
      for (const batch of [[line('b')], [], [a]]) {
        await store().appendTranscript(key, batch);
        const [now] = await store().listTranscriptSessions(key.projectKey);
        assert.ok(now && now.mtime > last, `mtime ${now?.mtime} did not pass ${last}`);
        last = now.mtime;
      }
    });

    it('deleting a main transcript deletes its subagent transcripts; deleting a subkey only that', async () => {
      const key = main();
      const kept = main(randomUUID(), key.projectKey);
      await store().appendTranscript(key, [line('main')]);
      await store().appendTranscript({ ...key, subpath: 'subagents/agent-a' }, [line('a')]);
      await store().appendTranscript({ ...key, subpath: 'subagents/agent-b' }, [line('b')]);
      await store().appendTranscript(kept, [line('kept')]);

      await store().deleteTranscript({ ...key, subpath: 'subagents/agent-a' });
      assert.equal(await store().loadTranscript({ ...key, subpath: 'subagents/agent-a' }), null);
      assert.deepEqual(await store().listTranscriptSubkeys(key), ['subagents/agent-b']);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['main']);

      await store().deleteTranscript(key);
      assert.equal(await store().loadTranscript(key), null);
      assert.equal(await store().loadTranscript({ ...key, subpath: 'subagents/agent-b' }), null);
      assert.deepEqual(await store().listTranscriptSubkeys(key), []);
      assert.deepEqual(ids(await store().listTranscriptSessions(key.projectKey)), [kept.sessionId]);
      assert.deepEqual(texts(await store().loadTranscript(kept)), ['kept']);

      await store().deleteTranscript(key);
      await store().deleteTranscript(main());
      // A deleted transcript can be written again, and its old uuids are forgotten.
      const again = line('again');
      await store().appendTranscript(key, [again, again]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['again']);
    });

    it('a replaced transcript holds exactly the new entries; its subagents, neighbours and later appends are unaffected', async () => {
      const key = main();
      const neighbour = main(randomUUID(), key.projectKey);
      const [a, b, c, d] = [line('a'), line('b'), line('c'), line('d')];
      // A mirror that lost b's batch.
      await store().appendTranscript(key, [a]);
      await store().appendTranscript(key, [c]);
      await store().appendTranscript({ ...key, subpath: 'subagents/agent-a' }, [line('sub')]);
      await store().appendTranscript(neighbour, [line('n')]);
      const [before] = (await store().listTranscriptSessions(key.projectKey)).filter((s) => s.sessionId === key.sessionId);

      await store().replaceTranscript(key, [a, b, c, b]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['a', 'b', 'c'], 'in the given order, a repeated uuid once');
      const [after] = (await store().listTranscriptSessions(key.projectKey)).filter((s) => s.sessionId === key.sessionId);
      assert.ok(after!.mtime > before!.mtime);
      assert.deepEqual(texts(await store().loadTranscript({ ...key, subpath: 'subagents/agent-a' })), ['sub']);
      assert.deepEqual(texts(await store().loadTranscript(neighbour)), ['n']);

      // Appends go on after the replaced entries; their uuids are known.
      await store().appendTranscript(key, [c, d]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['a', 'b', 'c', 'd']);

      // Replacing creates what was never written; with nothing, it is written but empty.
      const fresh = main();
      await store().replaceTranscript(fresh, []);
      assert.deepEqual(await store().loadTranscript(fresh), []);
      await store().replaceTranscript({ ...fresh, subpath: 'subagents/agent-z' }, [line('z')]);
      assert.deepEqual(await store().listTranscriptSubkeys(fresh), ['subagents/agent-z']);
    });

    it('a batch of 1,200 entries (more than one statement holds) is appended and replaced whole and in order', async () => {
      const key = main();
      const batch = range(1, 1200).map((i) => line(`${i}`));
      await store().appendTranscript(key, [line('first'), ...batch]);
      assert.deepEqual(texts(await store().loadTranscript(key)), ['first', ...texts(batch)!]);
      await store().replaceTranscript(key, [...batch, batch[0]!]);
      assert.deepEqual(texts(await store().loadTranscript(key)), texts(batch), 'a uuid repeated in the batch is kept once');
    });

    it('concurrent appends to one transcript keep each batch whole and lose nothing', async () => {
      const key = main();
      const batches = range(1, 30).map((i) => range(1, (i % 4) + 1).map((j) => line(`${i}.${j}`)));
      // Every batch twice, as an SDK retry racing its first attempt would send it.
      await Promise.all([...batches, ...batches].map((batch) => store().appendTranscript(key, batch)));
      const loaded = texts(await store().loadTranscript(key)) ?? [];
      assert.equal(loaded.length, batches.flat().length);
      assert.deepEqual(new Set(loaded), new Set(texts(batches.flat())));
      for (const batch of batches) {
        const start = loaded.indexOf(texts(batch)![0]!);
        assert.deepEqual(loaded.slice(start, start + batch.length), texts(batch));
      }
    });
  });
}

const ids = (sessions: { sessionId: string }[]): string[] => sessions.map((s) => s.sessionId).sort();
