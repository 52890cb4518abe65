import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { runBlobStoreContract } from './contract.js';
import { LocalDirBlobStore } from './local-dir.js';

runBlobStoreContract('local directory', async () => {
  const root = await mkdtemp(join(tmpdir(), 'agenthost-blobs-'));
  return { blobs: new LocalDirBlobStore(join(root, 'blobs')), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('LocalDirBlobStore', () => {
  it('leaves no temporary file behind, after a put or a failed one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'agenthost-blobs-'));
    try {
      const blobs = new LocalDirBlobStore(root);
      await blobs.put('snapshots/s.tar.gz', Readable.from([Buffer.from('ok')]));
      await assert.rejects(
        blobs.put(
          'snapshots/t.tar.gz',
          (async function* () {
            yield Buffer.from('x');
            throw new Error('boom');
          })(),
        ),
      );
      assert.deepEqual(await readdir(join(root, '.tmp')), []);
      assert.deepEqual(await readdir(join(root, 'snapshots')), ['s.tar.gz']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('sweepTemp removes only old leftovers of interrupted writes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'agenthost-blobs-'));
    try {
      const blobs = new LocalDirBlobStore(root);
      assert.equal(await blobs.sweepTemp(), 0);
      await mkdir(join(root, '.tmp'));
      await writeFile(join(root, '.tmp', 'old.part'), 'x');
      await writeFile(join(root, '.tmp', 'fresh.part'), 'y');
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      await utimes(join(root, '.tmp', 'old.part'), twoHoursAgo, twoHoursAgo);
      assert.equal(await blobs.sweepTemp(), 1);
      assert.deepEqual(await readdir(join(root, '.tmp')), ['fresh.part']);
      assert.deepEqual(await blobs.list(), []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
