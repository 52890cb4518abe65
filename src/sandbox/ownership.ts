import { existsSync } from 'node:fs';
import { hostCommand } from './host-commands.js';

/**
 * The host uid and gid a root server's sandboxes run as (bwrap's `host-user`
 * identity, gVisor's and Docker's user inside), unless configured otherwise:
 * above the 16-bit ids distributions give accounts and below where
 * /etc/subuid ranges start (100000), so no account and no rootless container
 * owns it. (uid 1000, a common image default, is the first login account on
 * Debian and Ubuntu hosts.)
 */
export const SANDBOX_HOST_UID = 65536;

/**
 * Gives `dirs` and everything under them to uid:gid, with GNU `chown -R`:
 * it walks by directory descriptors without following symbolic links (a link
 * is changed itself, `-h`), so a sandbox that swaps a directory for a link
 * while the walk runs - another session's sandbox, in a shared workspace -
 * cannot steer root's chown to a host file. It also keeps a walk of a large
 * workspace off the event loop.
 */
export async function chownTree(dirs: string[], uid: number, gid: number): Promise<void> {
  const r = await hostCommand('chown', chownArgs(dirs, uid, gid));
  if (r.error !== undefined && !onlyVanished(dirs, r.stderr)) throw failure(dirs, uid, gid, r.stderr || r.error);
}

/**
 * Entries deleted while the walk ran (a sandbox sharing the workspace is at
 * work) are no failure; the directories asked for must still be there.
 */
function onlyVanished(dirs: string[], stderr: string): boolean {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return lines.length > 0 && lines.every((l) => /No such file or directory$/.test(l)) && dirs.every((d) => existsSync(d));
}

function failure(dirs: string[], uid: number, gid: number, reason: string): Error {
  return new Error(`could not hand ${dirs.join(', ')} to ${uid}:${gid}: ${reason.trim()}`);
}

function chownArgs(dirs: string[], uid: number, gid: number): string[] {
  return ['-R', '-P', '-h', `${uid}:${gid}`, '--', ...dirs];
}
