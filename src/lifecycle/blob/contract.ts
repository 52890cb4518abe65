import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { BlobStore } from './blob-store.js';

/** Makes a fresh, empty store; `cleanup` removes whatever it holds. */
export type MakeBlobStore = () => Promise<{ blobs: BlobStore; cleanup: () => Promise<void> }>;

async function bytes(stream: Readable | null): Promise<Buffer | null> {
  if (!stream) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A source that yields some chunks and then fails, like a snapshot whose directory vanished. */
async function* failing(): AsyncGenerator<Uint8Array> {
  yield Buffer.from('partial ');
  yield Buffer.from('data');
  throw new Error('source broke');
}

/** The behaviour every BlobStore must show (local directory now; S3-compatible later). */
export function runBlobStoreContract(name: string, make: MakeBlobStore): void {
  describe(`BlobStore contract: ${name}`, () => {
    let current: Awaited<ReturnType<MakeBlobStore>> | undefined;
    let scratch: string;
    beforeEach(async () => {
      current = await make();
      scratch = await mkdtemp(join(tmpdir(), 'agenthost-blob-src-'));
    });
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
      await rm(scratch, { recursive: true, force: true });
    });
    const blobs = (): BlobStore => current!.blobs;

    it('put then get returns the same bytes; absent keys are null and false', async () => {
      const data = randomBytes(300_000);
      assert.deepEqual(await blobs().put('snapshots/a.tar.gz', Readable.from([data.subarray(0, 1000), data.subarray(1000)])), {
        key: 'snapshots/a.tar.gz',
        size: data.length,
      });
      assert.deepEqual(await bytes(await blobs().get('snapshots/a.tar.gz')), data);
      assert.equal(await blobs().exists('snapshots/a.tar.gz'), true);
      assert.equal(await blobs().get('snapshots/b.tar.gz'), null);
      assert.equal(await blobs().exists('snapshots/b.tar.gz'), false);
      assert.equal(await blobs().exists('snapshots'), false);
    });

    it('puts from a local file and from an empty source', async () => {
      const file = join(scratch, 'upload.bin');
      const data = randomBytes(70_000);
      await writeFile(file, data);
      assert.equal((await blobs().put('files/upload.bin', { file })).size, data.length);
      assert.deepEqual(await bytes(await blobs().get('files/upload.bin')), data);
      assert.equal((await blobs().put('empty', Readable.from([]))).size, 0);
      assert.deepEqual(await bytes(await blobs().get('empty')), Buffer.alloc(0));
    });

    it('put replaces; a stream opened before the replace still reads the old blob', async () => {
      await blobs().put('k', Readable.from([Buffer.from('old')]));
      const reader = await blobs().get('k');
      await blobs().put('k', Readable.from([Buffer.from('new')]));
      assert.equal(await text(reader!), 'old');
      assert.equal(await text((await blobs().get('k'))!), 'new');
    });

    it('a failed put leaves the previous blob, and nothing when there was none', async () => {
      await blobs().put('kept', Readable.from([Buffer.from('previous')]));
      await assert.rejects(blobs().put('kept', failing()), /source broke/);
      assert.equal(await text((await blobs().get('kept'))!), 'previous');
      await assert.rejects(blobs().put('never', failing()), /source broke/);
      assert.equal(await blobs().exists('never'), false);
      assert.deepEqual(await blobs().list(), ['kept']);
    });

    it('delete removes once, then reports there was nothing', async () => {
      await blobs().put('snapshots/x.tar.gz', Readable.from([Buffer.from('x')]));
      assert.equal(await blobs().delete('snapshots/x.tar.gz'), true);
      assert.equal(await blobs().delete('snapshots/x.tar.gz'), false);
      assert.equal(await blobs().get('snapshots/x.tar.gz'), null);
      assert.equal(await blobs().delete('never/was'), false);
    });

    it('lists keys by prefix, sorted', async () => {
      for (const key of ['snapshots/b.tar.gz', 'snapshots/a.tar.gz', 'files/f1', 'top']) {
        await blobs().put(key, Readable.from([Buffer.from(key)]));
      }
      assert.deepEqual(await blobs().list(), ['files/f1', 'snapshots/a.tar.gz', 'snapshots/b.tar.gz', 'top']);
      assert.deepEqual(await blobs().list('snapshots/'), ['snapshots/a.tar.gz', 'snapshots/b.tar.gz']);
      assert.deepEqual(await blobs().list('nothing/'), []);
    });

    it('concurrent puts to one key leave one whole blob', async () => {
      const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(200_000, i + 1));
      await Promise.all(versions.map((v) => blobs().put('contended', Readable.from([v.subarray(0, 50_000), v.subarray(50_000)]))));
      const stored = await bytes(await blobs().get('contended'));
      assert.ok(versions.some((v) => v.equals(stored!)), 'the blob is one of the versions, whole');
      assert.deepEqual(await blobs().list(), ['contended']);
    });

    it('refuses keys that could escape or hide', async () => {
      for (const key of ['', '/abs', 'a/../b', '..', 'a//b', '.hidden', 'a/.tmp/x', 'a/', 'sp ace', 'new\nline']) {
        await assert.rejects(blobs().put(key, Readable.from([])), RangeError, JSON.stringify(key));
        await assert.rejects(blobs().get(key), RangeError);
        await assert.rejects(blobs().delete(key), RangeError);
      }
    });
  });
}
