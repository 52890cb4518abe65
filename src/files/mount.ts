import { constants, createReadStream } from 'node:fs';
import { chown, lstat, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import type { EventLog } from '../sessions/event-log.js';
import { internalOf, withInternal } from '../sessions/session-body.js';
import type { JsonObject, SessionRecord, Store } from '../store/store.js';
import { writeAll, type BlobStore } from './blobs.js';
import { fileResourcesOf } from './session-resources.js';

export interface MountDeps {
  store: Store;
  blobs: BlobStore;
  log: Logger;
}

/**
 * Copies a session's file resources into `dir` (the directory its agent
 * starts in). A path that already exists is left as it is, so nothing the
 * agent wrote is ever overwritten. A file deleted since the session was
 * created, or a path that cannot be made, is skipped with a warning: the
 * session still starts. Returns how many files were copied.
 */
export async function mountResources(deps: MountDeps, session: SessionRecord, dir: string): Promise<number> {
  const log = deps.log.child({ component: 'files', sessionId: session.id });
  let copied = 0;
  for (const resource of fileResourcesOf(session.body)) {
    try {
      const file = await deps.store.getFile(session.workspaceId, resource.file_id);
      if (!file) {
        log.warn({ fileId: resource.file_id }, 'a file resource was deleted before the session started; not mounted');
        continue;
      }
      if (await copyNew(deps.blobs.pathOf(file.id), dir, resource.mount_path)) copied++;
    } catch (error) {
      log.warn({ err: error, fileId: resource.file_id, mountPath: resource.mount_path }, 'could not mount a file resource');
    }
  }
  return copied;
}

/**
 * Copies `source` to `root/relative`, creating directories on the way.
 * Every directory on the way must be a real directory, not a symlink, and
 * the file is created exclusively without following a symlink, so a
 * workspace the agent has shaped cannot redirect the copy outside `root`.
 * What it creates belongs to `root`'s owner: a sandbox that runs as its own
 * user (gvisor, docker) can change and delete it, even when the copy comes
 * after the sandbox was made (a warm sandbox claimed by the session).
 * False when something already exists at the path.
 */
export async function copyNew(source: string, root: string, relative: string): Promise<boolean> {
  const parts = relative.split('/');
  const name = parts.pop();
  if (!name) throw new Error(`empty path ${JSON.stringify(relative)}`);
  const owner = await lstat(root);
  const own = async (made: { uid: number; gid: number }, path: string): Promise<void> => {
    if (made.uid !== owner.uid || made.gid !== owner.gid) await chown(path, owner.uid, owner.gid);
  };
  let dir = root;
  for (const part of parts) {
    dir = join(dir, part);
    const made = await mkdir(dir).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        return false;
      },
    );
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new Error(`${join(...parts)} is not a directory in the workspace`);
    if (made) await own(st, dir);
  }
  const target = join(dir, name);
  let handle;
  try {
    handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await writeAll(createReadStream(source), handle);
    await own(await handle.stat(), target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(target, { force: true });
    throw error;
  }
  await handle.close();
  return true;
}

/**
 * Mounts a session's file resources at its first sandbox start only, and
 * records that on the session; later starts (after hibernation or a crash)
 * find the workspace as the agent left it, deleted files included.
 */
export async function mountOnFirstStart(deps: MountDeps & { events: Pick<EventLog, 'update'> }, session: SessionRecord, dir: string): Promise<void> {
  if (fileResourcesOf(session.body).length === 0) return;
  if (internalOf(session.body).resources_mounted_at) return;
  await mountResources(deps, session, dir);
  const at = new Date().toISOString();
  await deps.events.update(session, (s) => ({ body: withInternal(s.body, { resources_mounted_at: at }) }));
}
