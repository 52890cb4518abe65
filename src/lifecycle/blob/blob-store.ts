/**
 * Blob stores keep large opaque objects outside the database: a hibernated
 * session's workspace snapshot, above all, which another agenthost process
 * (possibly on another machine) restores when the session resumes.
 *
 * Implementations: `LocalDirBlobStore` (a directory). The interface is shaped
 * so an S3-compatible store maps onto it one call each: put → PutObject (or a
 * multipart upload for a large file), get → GetObject, delete →
 * DeleteObject, exists → HeadObject, list → ListObjectsV2. Every
 * implementation passes the shared suite in `contract.ts`.
 */
import type { Readable } from 'node:stream';

/** What `put` stores: bytes as they stream, or a file on local disk (whose size is known up front). */
export type BlobSource = AsyncIterable<Uint8Array> | { file: string };

export interface BlobInfo {
  key: string;
  /** Bytes stored. */
  size: number;
}

export interface BlobStore {
  /**
   * Stores `source` under `key`, replacing any blob there. Atomic: readers
   * see the old blob or the complete new one, never part of one; if `put`
   * fails, the old blob (if any) is still there. Consumes `source`.
   */
  put(key: string, source: BlobSource): Promise<BlobInfo>;
  /**
   * The blob's bytes, or null when there is none. The stream reads the blob
   * as it was when `get` returned, even if it is replaced meanwhile. The
   * caller must consume or destroy it.
   */
  get(key: string): Promise<Readable | null>;
  /** Removes the blob. Returns false when there was none; never an error for that. */
  delete(key: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Keys starting with `prefix` (e.g. `snapshots/`), sorted, for cleanup and audits. */
  list(prefix?: string): Promise<string[]>;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Keys are `/`-separated relative names whose segments use letters, digits,
 * `.`, `_` and `-` and do not start with `.` or `-`: valid as an S3 key and
 * as a relative path, with no way to name `..` or a hidden file.
 */
export function assertBlobKey(key: string): void {
  const ok = key.length > 0 && key.length <= 1024 && key.split('/').every((s) => SEGMENT.test(s));
  if (!ok) throw new RangeError(`invalid blob key ${JSON.stringify(key)}`);
}

/** Where a session's workspace snapshot is kept. */
export function snapshotKey(sessionId: string): string {
  const key = `snapshots/${sessionId}.tar.gz`;
  assertBlobKey(key);
  return key;
}
