/**
 * Workspace snapshots: a directory tree as one gzipped tar stream, and back.
 *
 * Kept: regular files with their bytes, modes and mtimes; directories,
 * empty ones included, with their modes; symlinks as links (never followed,
 * whatever they point at); hard links within the tree. Ownership is restored
 * only when running as root. Sockets, FIFOs and devices are left out.
 *
 * A restore refuses, and leaves nothing behind, an archive with an entry
 * whose path is absolute or has a `..` segment, or that would be placed
 * beneath a symlink (see entry-guard.ts): it never writes outside its
 * directory.
 */
import { chmod, mkdir, readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { create, extract, type ReadEntry, type Unpack } from 'tar';
import { snapshotKey, type BlobInfo, type BlobStore } from './blob-store.js';
import { EntryGuard } from './entry-guard.js';

export interface SnapshotOptions {
  /** gzip level, 1 (fastest) to 9 (smallest). Default 6, zlib's own default. */
  level?: number;
}

/**
 * A gzipped tar of everything under `dir`, entries relative to it, as it
 * streams. Packing starts on the first read, so an error (say, `dir` is
 * gone) reaches whoever reads rather than an unheard 'error' event.
 */
export function snapshotDir(dir: string, options: SnapshotOptions = {}): Readable {
  return Readable.from(pack(dir, options.level ?? 6));
}

async function* pack(dir: string, level: number): AsyncGenerator<Buffer> {
  // Iterating at once listens for errors before any file is read.
  yield* create(
    {
      cwd: dir,
      gzip: { level },
      follow: false,
      portable: false,
      // tar would skip sockets, FIFOs and devices itself, but doing so it
      // sometimes never ends the archive: they are filtered out first.
      filter: (_path, stat) => !('isFile' in stat) || stat.isFile() || stat.isDirectory() || stat.isSymbolicLink(),
    },
    ['.'],
  );
}

/**
 * Unpacks a snapshot into `dir`, which must be absent or empty (so no
 * symlink already there can redirect a write). On any failure `dir` is
 * removed again, so a failed restore leaves nothing half-written.
 */
export async function restoreDir(source: AsyncIterable<Uint8Array>, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`cannot restore a snapshot into ${dir}: it is not empty`);
  // Unpacking adds owner rwx to every directory so it can fill it, and
  // filling a directory moves its mtime: both are put back once everything
  // is in place, deepest first.
  const directories: { path: string; mode: number | undefined; mtime: Date | undefined }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const guard = new EntryGuard();
      const unpack: Unpack = extract({
        cwd: dir,
        // Any warning (an unsupported entry type, a failed write) fails the restore.
        strict: true,
        // tar's own path rules would rewrite absolute symlink targets; the
        // guard below enforces what matters instead (see entry-guard.ts).
        preservePaths: true,
        unlink: true,
        chmod: true,
        processUmask: 0,
        // Snapshots are agenthost's own output; a workspace of zero-filled
        // files legitimately compresses beyond the default 1000:1 guard.
        maxDecompressionRatio: Infinity,
        filter: (path, entry) => {
          const problem = guard.check(path, entry as ReadEntry);
          if (problem) {
            unpack.abort(new UnsafeSnapshotError(problem));
            return false;
          }
          const { mode, mtime, type } = entry as ReadEntry;
          if (type === 'Directory') directories.push({ path, mode, mtime });
          return true;
        },
      });
      unpack.on('error', reject);
      unpack.on('close', resolve);
      feed(source, unpack).catch((error: unknown) => {
        unpack.abort(error instanceof Error ? error : new Error(String(error)));
        reject(error);
      });
    });
    directories.sort((a, b) => depth(b.path) - depth(a.path));
    for (const { path, mode, mtime } of directories) {
      if (mode !== undefined && (mode & 0o700) !== 0o700) await chmod(join(dir, path), mode & 0o7777);
      if (mtime) await utimes(join(dir, path), mtime, mtime);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The archive tried to place something outside the restore directory. */
export class UnsafeSnapshotError extends Error {
  override name = 'UnsafeSnapshotError';
}

/** Snapshots `dir` into the blob store under the session's snapshot key. */
export function saveSnapshot(blobs: BlobStore, sessionId: string, dir: string, options?: SnapshotOptions): Promise<BlobInfo> {
  return blobs.put(snapshotKey(sessionId), snapshotDir(dir, options));
}

/** Restores the session's snapshot into `dir` (absent or empty). Returns false when there is none. */
export async function restoreSnapshot(blobs: BlobStore, sessionId: string, dir: string): Promise<boolean> {
  const stream = await blobs.get(snapshotKey(sessionId));
  if (!stream) return false;
  try {
    await restoreDir(stream, dir);
  } finally {
    stream.destroy();
  }
  return true;
}

const depth = (path: string): number => path.split('/').filter((s) => s !== '' && s !== '.').length;

/** Writes `source` into the unpacker, honouring its backpressure, then ends it. */
async function feed(source: AsyncIterable<Uint8Array>, unpack: Unpack): Promise<void> {
  let stopped = false;
  // Settles when the unpacker stops early (an error or an abort), so a wait
  // for 'drain' cannot hang.
  const stoppedEarly = new Promise<void>((resolve) => {
    const stop = (): void => {
      stopped = true;
      resolve();
    };
    unpack.once('error', stop);
    unpack.once('close', stop);
  });
  for await (const chunk of source) {
    if (stopped) return;
    if (!unpack.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
      await Promise.race([new Promise<void>((resolve) => unpack.once('drain', resolve)), stoppedEarly]);
    }
  }
  if (!stopped) unpack.end();
}
