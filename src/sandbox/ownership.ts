import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Gives `dir` and everything under it to uid:gid, skipping what already is
 * theirs. Symlinks are changed themselves, never followed: a link the agent
 * made to a host file must not hand that file to the agent.
 */
export function chownTree(dir: string, uid: number, gid: number): void {
  const visit = (path: string): void => {
    const st = lstatSync(path);
    if (st.uid !== uid || st.gid !== gid) lchownSync(path, uid, gid);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
}
