import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { AppError } from '../errors.js';
import { createLogger, silentLogger } from '../logger.js';
import type { SessionMutation } from '../sessions/event-log.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { JsonObject, SessionRecord } from '../store/store.js';
import { BlobStore } from './blobs.js';
import { copyNew, mountOnFirstStart } from './mount.js';
import { collectOutputs } from './outputs.js';
import { FileService } from './service.js';

/** Mounting resources into and collecting outputs from real directories, over a real SQLite store. */
describe('workspace files', () => {
  let dir: string;
  let store: SqliteStore;
  let blobs: BlobStore;
  let files: FileService;
  let workspaceId: string;
  const log = process.env.DEBUG_FILES ? createLogger({ level: 'debug' }) : silentLogger();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agenthost-files-'));
    store = new SqliteStore(join(dir, 'db.sqlite'));
    await store.migrate();
    workspaceId = (await store.ensureWorkspace('w', 'wrkspc_1', new Date().toISOString())).id;
    blobs = new BlobStore(join(dir, 'blobs'));
    await blobs.init();
    files = new FileService({ store, blobs, log });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fresh = async (name: string) => {
    const path = join(dir, name);
    await mkdir(path, { recursive: true });
    return path;
  };
  const uploaded = async (content: string, filename = 'f.txt') =>
    files.create(workspaceId, { staged: await blobs.stage(Readable.from([Buffer.from(content)])), filename, mimeType: 'text/plain' });

  describe('FileService', () => {
    it('refuses to download an expired file with file_expired, and delete removes the bytes', async () => {
      let now = new Date('2030-01-01T00:00:00Z');
      const clocked = new FileService({ store, blobs, log, now: () => now });
      const f = await clocked.create(workspaceId, {
        staged: await blobs.stage(Readable.from([Buffer.from('brief')])),
        filename: 'brief.txt',
        mimeType: 'text/plain',
        expiresAt: '2030-01-01T01:00:00Z',
      });
      const { body } = await clocked.download(workspaceId, f.id);
      body.destroy();
      now = new Date('2030-01-01T01:00:00Z');
      await assert.rejects(clocked.download(workspaceId, f.id), (error: AppError) => error.status === 404 && error.details?.error_code === 'file_expired');
      assert.equal((await clocked.get(workspaceId, f.id)).id, f.id, 'the metadata stays readable');
      assert.deepEqual(await clocked.delete(workspaceId, f.id), { id: f.id, type: 'file_deleted' });
      await assert.rejects(readFile(blobs.pathOf(f.id)), { code: 'ENOENT' });
      await assert.rejects(clocked.delete(workspaceId, f.id), (error: AppError) => error.status === 404);
    });
  });

  describe('copyNew', () => {
    it('creates the directories on the way and never overwrites', async () => {
      const ws = await fresh('copy-1');
      const f = await uploaded('first');
      assert.equal(await copyNew(blobs.pathOf(f.id), ws, 'a/b/c.txt'), true);
      assert.equal(await readFile(join(ws, 'a/b/c.txt'), 'utf8'), 'first');
      await writeFile(join(ws, 'a/b/c.txt'), 'edited by the agent');
      assert.equal(await copyNew(blobs.pathOf(f.id), ws, 'a/b/c.txt'), false);
      assert.equal(await readFile(join(ws, 'a/b/c.txt'), 'utf8'), 'edited by the agent');
    });

    it("gives what it creates to the workspace's owner", async (t) => {
      if (process.getuid?.() !== 0) return t.skip('needs root to give files away');
      const ws = await fresh('copy-owner');
      await chown(ws, 1000, 1000);
      await mkdir(join(ws, 'kept'));
      const f = await uploaded('for the sandbox user');
      assert.equal(await copyNew(blobs.pathOf(f.id), ws, 'kept/new/c.txt'), true);
      const owners = await Promise.all(['kept', 'kept/new', 'kept/new/c.txt'].map(async (p) => `${p} ${(await stat(join(ws, p))).uid}`));
      assert.deepEqual(owners, ['kept 0', 'kept/new 1000', 'kept/new/c.txt 1000'], 'only what the copy made changes hands');
    });

    it('does not follow a symlink, as a directory on the way or as the file', async () => {
      const ws = await fresh('copy-2');
      const outside = await fresh('outside-2');
      const f = await uploaded('payload');
      await symlink(outside, join(ws, 'dir'));
      await assert.rejects(copyNew(blobs.pathOf(f.id), ws, 'dir/x.txt'), /not a directory/);
      await symlink(join(outside, 'target.txt'), join(ws, 'link.txt'));
      assert.equal(await copyNew(blobs.pathOf(f.id), ws, 'link.txt'), false);
      assert.deepEqual(await readdir(outside), []);
    });
  });

  describe('mountOnFirstStart', () => {
    it('mounts at the first start only and records it on the session', async () => {
      const ws = await fresh('mount-1');
      const f = await uploaded('resource bytes', 'data.csv');
      const gone = await uploaded('deleted before start');
      await files.delete(workspaceId, gone.id);
      let session = {
        id: 'sesn_1',
        workspaceId,
        body: {
          resources: [
            { id: 'sesrsc_1', type: 'file', file_id: f.id, mount_path: 'in/data.csv', created_at: '', updated_at: '' },
            { id: 'sesrsc_2', type: 'file', file_id: gone.id, mount_path: 'gone.txt', created_at: '', updated_at: '' },
          ],
          internal: { claude_session_id: 'kept' },
        } as JsonObject,
      } as SessionRecord;
      const events = {
        update: async (_ref: unknown, mutate: SessionMutation) => {
          session = { ...session, ...mutate(session, new Date().toISOString()) } as SessionRecord;
          return session;
        },
      };
      await mountOnFirstStart({ store, blobs, log, events }, session, ws);
      assert.equal(await readFile(join(ws, 'in/data.csv'), 'utf8'), 'resource bytes');
      assert.deepEqual(await readdir(ws), ['in'], 'a deleted file is skipped; the start goes on');
      const internal = session.body.internal as JsonObject;
      assert.equal(internal.claude_session_id, 'kept');
      assert.equal(typeof internal.resources_mounted_at, 'string');

      await unlink(join(ws, 'in/data.csv'));
      await mountOnFirstStart({ store, blobs, log, events }, session, ws);
      assert.deepEqual(await readdir(join(ws, 'in')), [], 'a later start leaves the workspace as the agent left it');
    });

    it('does nothing for a session without resources', async () => {
      const ws = await fresh('mount-2');
      const events = { update: async () => assert.fail('no update expected') };
      await mountOnFirstStart({ store, blobs, log, events }, { id: 'sesn_2', workspaceId, body: {} } as SessionRecord, ws);
      assert.deepEqual(await readdir(ws), []);
    });
  });

  describe('collectOutputs', () => {
    // A getter: the workspace exists only once `before` has run.
    const session = {
      id: 'sesn_out',
      get workspaceId() {
        return workspaceId;
      },
    };

    it('keeps every regular file under outputs/, by its path there, and nothing else', async () => {
      const ws = await fresh('out-1');
      const outside = await fresh('outside-out-1');
      await writeFile(join(outside, 'secret.txt'), 'host secret');
      await mkdir(join(ws, 'outputs/deep/er'), { recursive: true });
      await writeFile(join(ws, 'outputs/report.md'), '# report');
      await writeFile(join(ws, 'outputs/deep/er/empty.bin'), '');
      await writeFile(join(ws, 'not-an-output.txt'), 'scratch');
      await symlink(join(outside, 'secret.txt'), join(ws, 'outputs/link.txt'));
      await symlink(outside, join(ws, 'outputs/linked-dir'));
      const kept = await collectOutputs({ files, log }, session, ws);
      assert.deepEqual(
        kept.map((f) => [f.filename, f.mimeType, f.sizeBytes, f.scopeId]),
        [
          ['deep/er/empty.bin', 'application/octet-stream', 0, 'sesn_out'],
          ['report.md', 'text/markdown', 8, 'sesn_out'],
        ],
      );
      const report = kept.find((f) => f.filename === 'report.md')!;
      assert.equal(await readFile(blobs.pathOf(report.id), 'utf8'), '# report');
    });

    it('finds nothing without an outputs directory, or when outputs is a symlink', async () => {
      assert.deepEqual(await collectOutputs({ files, log }, session, await fresh('out-2')), []);
      const ws = await fresh('out-3');
      await symlink(await fresh('outside-out-3'), join(ws, 'outputs'));
      await writeFile(join(dir, 'outside-out-3', 'x.txt'), 'x');
      assert.deepEqual(await collectOutputs({ files, log }, session, ws), []);
    });

    it('stops at the file and byte limits', async () => {
      const ws = await fresh('out-4');
      await mkdir(join(ws, 'outputs'));
      for (const name of ['a', 'b', 'c', 'd']) await writeFile(join(ws, 'outputs', name), name.repeat(10));
      const byCount = await collectOutputs({ files, log, limits: { maxFiles: 3, maxBytes: 1000 } }, session, ws);
      assert.deepEqual(byCount.map((f) => f.filename), ['a', 'b', 'c']);
      const byBytes = await collectOutputs({ files, log, limits: { maxFiles: 100, maxBytes: 25 } }, session, ws);
      assert.deepEqual(byBytes.map((f) => f.filename), ['a', 'b']);
    });
  });
});
