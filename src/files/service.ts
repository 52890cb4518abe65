import type { ReadStream } from 'node:fs';
import { AppError, ErrorCode, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { FileQuery, FileRecord, Page, Store } from '../store/store.js';
import type { BlobStore, StagedBlob } from './blobs.js';

export interface FileServiceOptions {
  store: Store;
  blobs: BlobStore;
  log: Logger;
  now?: () => Date;
}

export interface NewFile {
  staged: StagedBlob;
  filename: string;
  mimeType: string;
  /** The session that produced the file (its outputs); absent for uploads. */
  scopeId?: string;
  expiresAt?: string | null;
}

/**
 * Files of a workspace: metadata in the store, bytes in the blob store. A
 * file is visible only once both exist; deleting removes the metadata first,
 * so a half-deleted file is already gone for clients.
 */
export class FileService {
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly o: FileServiceOptions) {
    this.now = o.now ?? (() => new Date());
    this.log = o.log.child({ component: 'files' });
  }

  get blobs(): BlobStore {
    return this.o.blobs;
  }

  /** Commits a staged blob as a new file. The staged blob is consumed whether this succeeds or not. */
  async create(workspaceId: string, file: NewFile): Promise<FileRecord> {
    const id = newId('file');
    try {
      await this.o.blobs.commit(file.staged, id);
    } catch (error) {
      await this.o.blobs.discard(file.staged);
      throw error;
    }
    try {
      return await this.o.store.createFile({
        id,
        workspaceId,
        filename: file.filename,
        mimeType: file.mimeType,
        sizeBytes: file.staged.size,
        scopeId: file.scopeId ?? null,
        createdAt: this.now().toISOString(),
        expiresAt: file.expiresAt ?? null,
      });
    } catch (error) {
      await this.o.blobs.remove(id).catch((e: unknown) => this.log.warn({ err: e, fileId: id }, 'could not remove the bytes of a file that was not stored'));
      throw error;
    }
  }

  async get(workspaceId: string, id: string): Promise<FileRecord> {
    const file = await this.o.store.getFile(workspaceId, id);
    if (!file) throw notFound('file', id);
    return file;
  }

  list(workspaceId: string, query: FileQuery): Promise<Page<FileRecord>> {
    return this.o.store.listFiles(workspaceId, query);
  }

  /** The file and a stream of its bytes. An expired file is a 404 with `error_code: file_expired`. */
  async download(workspaceId: string, id: string): Promise<{ file: FileRecord; body: ReadStream }> {
    const file = await this.get(workspaceId, id);
    if (this.isExpired(file)) {
      throw new AppError(ErrorCode.notFound, `file ${JSON.stringify(id)} expired at ${file.expiresAt}`, { error_code: 'file_expired' });
    }
    const body = this.o.blobs.read(id);
    // Opening is asynchronous: wait for it, so a missing blob is an error response, not a broken one.
    await new Promise<void>((resolve, reject) => {
      body.once('open', () => resolve());
      body.once('error', reject);
    }).catch((error: unknown) => {
      this.log.error({ err: error, fileId: id }, 'the bytes of a stored file are missing');
      throw new AppError(ErrorCode.api, `the content of file ${id} is unavailable`, undefined, error);
    });
    return { file, body };
  }

  async delete(workspaceId: string, id: string): Promise<{ id: string; type: 'file_deleted' }> {
    if (!(await this.o.store.deleteFile(workspaceId, id))) throw notFound('file', id);
    await this.o.blobs.remove(id).catch((error: unknown) => this.log.warn({ err: error, fileId: id }, 'could not remove the bytes of a deleted file'));
    return { id, type: 'file_deleted' };
  }

  isExpired(file: FileRecord): boolean {
    return file.expiresAt !== null && Date.parse(file.expiresAt) <= this.now().getTime();
  }
}
