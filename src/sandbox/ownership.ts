import { execFile, execFileSync } from 'node:child_process';

/**
 * Gives `dirs` and everything under them to uid:gid, with GNU `chown -R`:
 * it walks by directory descriptors without following symbolic links (a link
 * is changed itself, `-h`), so a sandbox that swaps a directory for a link
 * while the walk runs - another session's sandbox, in a shared workspace -
 * cannot steer root's chown to a host file. It also keeps a walk of a large
 * workspace off the event loop.
 */
export function chownTree(dirs: string[], uid: number, gid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('chown', chownArgs(dirs, uid, gid), { env: {} }, (error, _stdout, stderr) =>
      error ? reject(new Error(`could not hand ${dirs.join(', ')} to ${uid}:${gid}: ${stderr.trim() || error.message}`)) : resolve(),
    );
  });
}

/** `chownTree` for a small tree where the caller cannot wait (it blocks while chown runs). */
export function chownTreeSync(dirs: string[], uid: number, gid: number): void {
  execFileSync('chown', chownArgs(dirs, uid, gid), { env: {}, stdio: ['ignore', 'ignore', 'pipe'] });
}

function chownArgs(dirs: string[], uid: number, gid: number): string[] {
  return ['-R', '-P', '-h', `${uid}:${gid}`, '--', ...dirs];
}
