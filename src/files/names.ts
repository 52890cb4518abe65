import { posix } from 'node:path';
import { extensionFor } from './mime.js';

/**
 * Names of files and the paths they are mounted at. Pure functions: the API
 * validates with them before anything is written, and the workspace code
 * trusts only what they return.
 */

/** Absolute prefixes clients of the hosted API use, and where they land in the workspace. */
export const MOUNT_PREFIXES: ReadonlyArray<readonly [prefix: string, replacement: string]> = [
  ['/workspace/', ''],
  ['/mnt/session/', ''],
];

const MAX_PATH = 1024;
const MAX_SEGMENT_BYTES = 255;

/**
 * The filename an upload is stored under: the final path component of what
 * the client sent (either separator), or `unnamed` plus the media type's
 * extension when that is empty.
 */
export function uploadFilename(raw: string | undefined, mimeType: string): string {
  const last = (raw ?? '').replace(/[\u0000-\u001f\u007f]/g, '').split(/[/\\]/).pop()?.trim() ?? '';
  const name = last === '.' || last === '..' ? '' : last;
  if (name === '') return `unnamed${extensionFor(mimeType)}`;
  return truncateBytes(name, MAX_SEGMENT_BYTES);
}

export class MountPathError extends Error {
  override name = 'MountPathError';
}

/**
 * Resolves a resource's `mount_path` to a path relative to the session's
 * working directory: `a/b.txt`, with `.` and repeated slashes folded away.
 *
 * - Relative paths are taken as they are; `..` is refused anywhere in them,
 *   even where it would stay inside, so what a client reads in the request is
 *   what the agent sees.
 * - `/workspace/<rest>` and `/mnt/session/<rest>` (the hosted API's
 *   conventions) become `<rest>`; any other absolute path is refused.
 * - Absent or null: the file's filename.
 */
export function resolveMountPath(mountPath: string | null | undefined, filename: string): string {
  let path = mountPath ?? filename;
  if (path.length === 0) throw new MountPathError('mount_path is empty');
  if (path.length > MAX_PATH) throw new MountPathError(`mount_path is longer than ${MAX_PATH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new MountPathError('mount_path contains control characters');
  if (path.startsWith('/')) {
    const match = MOUNT_PREFIXES.find(([prefix]) => path.startsWith(prefix));
    if (!match) {
      const allowed = MOUNT_PREFIXES.map(([p]) => p).join(' or ');
      throw new MountPathError(`mount_path ${JSON.stringify(path)} is absolute; use a path relative to the workspace (or one under ${allowed})`);
    }
    path = match[1] + path.slice(match[0].length);
  }
  const segments = path.split('/');
  if (segments.includes('..')) throw new MountPathError(`mount_path ${JSON.stringify(mountPath ?? filename)} must not contain '..'`);
  const normalized = posix.normalize(path).replace(/\/+$/, '');
  if (normalized === '.' || normalized === '' || normalized.startsWith('/')) {
    throw new MountPathError(`mount_path ${JSON.stringify(mountPath ?? filename)} names the workspace itself, not a file in it`);
  }
  for (const segment of normalized.split('/')) {
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) throw new MountPathError(`mount_path has a component longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return normalized;
}

/**
 * Fails when two mount paths are the same or one lies inside the other
 * (`a` and `a/b`): both could not exist in the workspace.
 */
export function checkMountPathsDisjoint(paths: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) throw new MountPathError(`two resources are mounted at ${JSON.stringify(p)}`);
    seen.add(p);
  }
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (seen.has(parent)) throw new MountPathError(`resource mounted at ${JSON.stringify(p)} lies inside another mounted file, ${JSON.stringify(parent)}`);
    }
  }
}

function truncateBytes(value: string, max: number): string {
  if (Buffer.byteLength(value) <= max) return value;
  let out = '';
  for (const ch of value) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}
