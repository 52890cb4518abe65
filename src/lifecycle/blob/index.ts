export { assertBlobKey, snapshotKey, type BlobInfo, type BlobSource, type BlobStore } from './blob-store.js';
export { LocalDirBlobStore } from './local-dir.js';
export {
  restoreDir,
  restoreSnapshot,
  saveSnapshot,
  snapshotDir,
  UnsafeSnapshotError,
  type SnapshotOptions,
} from './snapshot.js';
