import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Logger } from '../logger.js';
import type { FileRecord } from '../store/store.js';
import { mimeTypeFor } from './mime.js';
import type { FileService } from './service.js';

/** The directory under a workspace whose files become the session's outputs. */
export const OUTPUTS_DIR = 'outputs';

export interface OutputLimits {
  /** Most files kept per session. */
  maxFiles: number;
  /** Most bytes kept per session, all files together. */
  maxBytes: number;
}

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { maxFiles: 1000, maxBytes: 1024 ** 3 };

const MAX_DEPTH = 32;

/**
 * Turns every regular file under `<workspace>/outputs/` into a file scoped
 * to the session, named by its path under `outputs/` (`report.txt`,
 * `charts/a.png`). Symlinks and special files are skipped, as is anything
 * whose opened descriptor turns out to lie outside `outputs/` (the agent
 * may still be running). Past the limits, the remaining files are skipped
 * with a warning in the log. Never throws: a file that cannot be kept is
 * logged and the rest still are.
 */
export async function collectOutputs(
  deps: { files: FileService; log: Logger; limits?: OutputLimits },
  session: { id: string; workspaceId: string },
  workspaceDir: string,
): Promise<FileRecord[]> {
  const log = deps.log.child({ component: 'files', sessionId: session.id });
  const limits = deps.limits ?? DEFAULT_OUTPUT_LIMITS;
  const root = join(workspaceDir, OUTPUTS_DIR);
  const kept: FileRecord[] = [];
  try {
    const stat = await lstat(root).catch(() => null);
    if (!stat) return kept;
    if (!stat.isDirectory()) {
      log.warn({ isSymlink: stat.isSymbolicLink() }, 'outputs is not a directory; no outputs kept');
      return kept;
    }
    const realRoot = await realpath(root);
    const { paths, more } = await listRegularFiles(root, limits.maxFiles);
    let bytes = 0;
    let exceeded = more;
    for (const relative of paths) {
      try {
        const record = await keepOne(deps.files, session, root, realRoot, relative, limits.maxBytes - bytes);
        if (record === 'too_large') exceeded = true;
        else if (record) {
          kept.push(record);
          bytes += record.sizeBytes;
        }
      } catch (error) {
        log.warn({ err: error, path: relative }, 'could not keep an output file');
      }
    }
    if (exceeded) {
      log.warn(
        { maxFiles: limits.maxFiles, maxBytes: limits.maxBytes, kept: kept.length, bytes, beyondFileLimit: more },
        'session outputs exceed the limits; the files beyond them were not kept',
      );
    }
  } catch (error) {
    log.error({ err: error }, 'could not collect session outputs');
  }
  return kept;
}

/** Paths (relative, `/`-separated, sorted) of regular files under `root`, at most `max`; `more` when there were others. */
export async function listRegularFiles(root: string, max: number): Promise<{ paths: string[]; more: boolean }> {
  const paths: string[] = [];
  let more = false;
  const walk = async (relative: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || more) return;
    const entries: Dirent[] = await readdir(join(root, relative), { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path, depth + 1);
      else if (entry.isFile()) {
        if (paths.length >= max) {
          more = true;
          return;
        }
        paths.push(path);
      }
      if (more) return;
    }
  };
  await walk('', 0);
  return { paths, more };
}

async function keepOne(
  files: FileService,
  session: { id: string; workspaceId: string },
  root: string,
  realRoot: string,
  relative: string,
  budget: number,
): Promise<FileRecord | 'too_large' | null> {
  // O_NONBLOCK: a file swapped for a FIFO since the listing must not hang the open.
  const handle = await open(join(root, relative), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return null;
    const actual = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (actual !== null && !actual.startsWith(`${realRoot}/`)) return null;
    if (stat.size > budget) return 'too_large';
    const source = stat.size === 0 ? Readable.from([]) : handle.createReadStream({ start: 0, end: stat.size - 1, autoClose: false });
    const staged = await files.blobs.stage(source, stat.size);
    return await files.create(session.workspaceId, { staged, filename: relative, mimeType: mimeTypeFor(relative), scopeId: session.id });
  } finally {
    await handle.close();
  }
}
