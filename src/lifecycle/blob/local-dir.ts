import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobKey, type BlobInfo, type BlobSource, type BlobStore } from './blob-store.js';

/** Where writes in progress live: inside the root, so the final rename never crosses filesystems. */
const TEMP = '.tmp';

/**
 * A BlobStore in a local directory: key `a/b.tar.gz` is the file
 * `<root>/a/b.tar.gz`. Writes go to a temporary file that is fsynced and then
 * renamed into place, so a crash leaves the old blob or the new one, plus at
 * worst a stray file under `<root>/.tmp` (`sweepTemp` removes those).
 *
 * Several processes may share the directory; last writer wins per key.
 */
export class LocalDirBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  async put(key: string, source: BlobSource): Promise<BlobInfo> {
    const target = this.path(key);
    const temp = join(this.root, TEMP, `${randomUUID()}.part`);
    await mkdir(dirname(temp), { recursive: true });
    try {
      const size = await writeDurably(temp, source);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      await syncDir(dirname(target));
      return { key, size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Readable | null> {
    try {
      // Opened before returning: a later replace or delete of the key does
      // not affect what this stream reads.
      const handle = await open(this.path(key), 'r');
      return handle.createReadStream();
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.path(key));
      return true;
    } catch (error) {
      if (isCode(error, 'ENOENT')) return false;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return false;
      throw error;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string, under: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isCode(error, 'ENOENT')) return;
        throw error;
      }
      for (const entry of entries) {
        if (under === '' && entry.name === TEMP) continue;
        const key = under === '' ? entry.name : `${under}/${entry.name}`;
        if (entry.isDirectory()) await walk(join(dir, entry.name), key);
        else if (entry.isFile() && key.startsWith(prefix)) keys.push(key);
      }
    };
    await walk(this.root, '');
    return keys.sort();
  }

  /**
   * Removes temporary files of writes that never finished (a crash midway),
   * if older than `olderThanMs`, so writes in progress elsewhere are spared.
   * Returns how many were removed. Meant for start-up.
   */
  async sweepTemp(olderThanMs = 60 * 60 * 1000): Promise<number> {
    const dir = join(this.root, TEMP);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(dir, name);
      const info = await stat(path).catch(() => null);
      if (info && Date.now() - info.mtimeMs >= olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  private path(key: string): string {
    assertBlobKey(key);
    return join(this.root, ...key.split('/'));
  }
}

/** Writes `source` to a new file at `path` and fsyncs it. Returns the size. */
async function writeDurably(path: string, source: BlobSource): Promise<number> {
  if ('file' in source) {
    await copyFile(source.file, path);
    const handle = await open(path, 'r+');
    try {
      await handle.sync();
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  }
  // Opened here rather than by the stream, so the file exists once this
  // returns and a failed put's cleanup cannot run before the open lands.
  const handle = await open(path, 'wx');
  try {
    // `flush` fsyncs before the stream closes the handle; the stream also
    // copes with short writes.
    await pipeline(source, handle.createWriteStream({ flush: true }));
  } finally {
    // Closing again is harmless; this covers a source that failed first.
    await handle.close();
  }
  return (await stat(path)).size;
}

/** Makes a rename into `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}
