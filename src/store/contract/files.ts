import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../ids.js';
import { StoreConflictError, StoreNotFoundError, type FileQuery, type FileRecord, type Store } from '../store.js';
import { at, ids, workspace, type GetStore } from './fixtures.js';

function file(
  store: Store,
  workspaceId: string,
  options: Partial<Omit<FileRecord, 'seq' | 'workspaceId'>> = {},
): Promise<FileRecord> {
  return store.createFile({
    id: options.id ?? newId('file'),
    workspaceId,
    filename: options.filename ?? 'notes.txt',
    mimeType: options.mimeType ?? 'text/plain',
    sizeBytes: options.sizeBytes ?? 5,
    scopeId: options.scopeId ?? null,
    createdAt: options.createdAt ?? at(0),
    expiresAt: options.expiresAt ?? null,
  });
}

const page = (extra: Partial<FileQuery> = {}): FileQuery => ({ limit: 100, order: 'asc', ...extra });

export function fileTests(store: GetStore): void {
  describe('files', () => {
    it('createFile assigns a seq and getFile returns the record as stored', async () => {
      const ws = await workspace(store());
      const created = await file(store(), ws, {
        filename: 'report.pdf',
        mimeType: 'application/pdf',
        sizeBytes: 6 * 1024 ** 3,
        scopeId: 'sesn_1',
        createdAt: '2025-01-01T01:00:00+01:00',
        expiresAt: '2025-01-02T00:00:00Z',
      });
      assert.ok(Number.isInteger(created.seq) && created.seq > 0);
      assert.deepEqual(created, {
        id: created.id,
        workspaceId: ws,
        seq: created.seq,
        filename: 'report.pdf',
        mimeType: 'application/pdf',
        sizeBytes: 6 * 1024 ** 3,
        scopeId: 'sesn_1',
        createdAt: at(0),
        expiresAt: '2025-01-02T00:00:00.000Z',
      });
      assert.deepEqual(await store().getFile(ws, created.id), created);
      assert.equal(await store().getFile(ws, 'file_unknown'), null);
      const upload = await file(store(), ws);
      assert.equal(upload.scopeId, null);
      assert.equal(upload.expiresAt, null);
      assert.ok(upload.seq > created.seq);
    });

    it('createFile rejects a duplicate id and an unknown workspace', async () => {
      const ws = await workspace(store());
      const created = await file(store(), ws);
      await assert.rejects(file(store(), ws, { id: created.id }), StoreConflictError);
      await assert.rejects(file(store(), 'wrkspc_unknown'), StoreNotFoundError);
    });

    it('another workspace can neither see, list nor delete a file', async () => {
      const ws = await workspace(store());
      const other = await workspace(store());
      const created = await file(store(), ws, { scopeId: 'sesn_1' });
      assert.equal(await store().getFile(other, created.id), null);
      assert.deepEqual((await store().listFiles(other, page())).items, []);
      assert.deepEqual((await store().listFiles(other, page({ scopeId: 'sesn_1' }))).items, []);
      assert.deepEqual((await store().listFiles(other, page({ ids: [created.id] }))).items, []);
      assert.equal(await store().deleteFile(other, created.id), false);
      assert.deepEqual(await store().getFile(ws, created.id), created);
    });

    it('deleteFile removes the file once', async () => {
      const ws = await workspace(store());
      const created = await file(store(), ws);
      assert.equal(await store().deleteFile(ws, created.id), true);
      assert.equal(await store().getFile(ws, created.id), null);
      assert.equal(await store().deleteFile(ws, created.id), false);
      assert.deepEqual((await store().listFiles(ws, page())).items, []);
    });

    it('listFiles pages over seq in either order', async () => {
      const ws = await workspace(store());
      const all: FileRecord[] = [];
      for (let i = 1; i <= 5; i++) all.push(await file(store(), ws, { createdAt: at(i) }));
      const first = await store().listFiles(ws, page({ limit: 2 }));
      assert.deepEqual(ids(first.items), ids(all.slice(0, 2)));
      assert.equal(first.hasMore, true);
      const rest = await store().listFiles(ws, page({ limit: 10, afterSeq: first.items[1]!.seq }));
      assert.deepEqual(ids(rest.items), ids(all.slice(2)));
      assert.equal(rest.hasMore, false);
      const desc = await store().listFiles(ws, page({ order: 'desc', limit: 2, beforeSeq: all[4]!.seq }));
      assert.deepEqual(ids(desc.items), ids([all[3]!, all[2]!]));
      assert.equal(desc.hasMore, true);
      const dated = await store().listFiles(ws, page({ createdGte: at(2), createdLt: at(4) }));
      assert.deepEqual(ids(dated.items), ids(all.slice(1, 3)));
    });

    it('listFiles filters by scope and by ids', async () => {
      const ws = await workspace(store());
      const upload = await file(store(), ws);
      const a1 = await file(store(), ws, { scopeId: 'sesn_a', filename: 'one.txt' });
      const b1 = await file(store(), ws, { scopeId: 'sesn_b' });
      const a2 = await file(store(), ws, { scopeId: 'sesn_a', filename: 'dir/two.txt' });
      assert.deepEqual(ids((await store().listFiles(ws, page({ scopeId: 'sesn_a' }))).items), ids([a1, a2]));
      assert.deepEqual(ids((await store().listFiles(ws, page({ scopeId: 'sesn_none' }))).items), []);
      assert.deepEqual(ids((await store().listFiles(ws, page({ ids: [a2.id, upload.id, 'file_unknown'] }))).items), ids([upload, a2]));
      assert.deepEqual(ids((await store().listFiles(ws, page({ ids: [] }))).items), []);
      assert.deepEqual(ids((await store().listFiles(ws, page({ ids: [a1.id, b1.id], scopeId: 'sesn_b' }))).items), ids([b1]));
      assert.deepEqual(ids((await store().listFiles(ws, page())).items), ids([upload, a1, b1, a2]));
    });
  });
}
