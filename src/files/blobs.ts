import { randomUUID } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** A blob written to the staging area, not yet visible under any file id. */
export interface StagedBlob {
  path: string;
  size: number;
}

/** The source had more bytes than the caller allowed; nothing was kept. */
export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  constructor(readonly limit: number) {
    super(`more than ${limit} bytes`);
  }
}

const ID = /^file_[A-Za-z0-9]+$/;

/**
 * File bytes on local disk: `<dir>/<file id>`, one file each. Writes go to
 * `<dir>/.tmp/` first and are fsynced, then renamed into place, so a blob
 * under an id is always complete. The store holds the metadata; a blob
 * without a row (a crash between rename and insert) is never served.
 */
export class BlobStore {
  private readonly tmpDir: string;

  constructor(readonly dir: string) {
    this.tmpDir = join(dir, '.tmp');
  }

  /** Creates the directories and empties the staging area of an earlier run's leftovers. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { mode: 0o700 });
  }

  /**
   * Copies `source` into the staging area. More than `maxBytes` throws
   * `BlobTooLargeError` (and whatever `source` throws passes through); either
   * way the partial copy is removed.
   */
  async stage(source: Readable, maxBytes = Number.POSITIVE_INFINITY): Promise<StagedBlob> {
    const path = join(this.tmpDir, randomUUID());
    const handle = await open(path, 'wx', 0o600);
    let size: number;
    try {
      size = await writeAll(source, handle, maxBytes);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true });
      throw error;
    }
    await handle.close();
    return { path, size };
  }

  /** Makes a staged blob the bytes of `id`. */
  async commit(staged: StagedBlob, id: string): Promise<void> {
    await rename(staged.path, this.pathOf(id));
  }

  /** Drops a staged blob that will not be committed. Idempotent. */
  async discard(staged: StagedBlob): Promise<void> {
    await rm(staged.path, { force: true });
  }

  /** The bytes of `id`; the stream errors with ENOENT when there are none. */
  read(id: string): ReadStream {
    return createReadStream(this.pathOf(id));
  }

  /** Idempotent. */
  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }

  /** Where the bytes of `id` live. Ids are checked, so no id can name a path outside `dir`. */
  pathOf(id: string): string {
    if (!ID.test(id)) throw new Error(`not a file id: ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }
}

/**
 * Writes everything `source` yields to `handle`, in order; returns the byte
 * count. More than `maxBytes` throws `BlobTooLargeError` and stops reading.
 */
export async function writeAll(source: Readable, handle: FileHandle, maxBytes = Number.POSITIVE_INFINITY): Promise<number> {
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
    let offset = 0;
    while (offset < bytes.length) offset += (await handle.write(bytes, offset, bytes.length - offset)).bytesWritten;
  }
  return size;
}
