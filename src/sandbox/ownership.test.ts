import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chownTree, chownTreeSync } from './ownership.js';

const asRoot = process.getuid?.() === 0 ? {} : { skip: 'changing owners needs root' };

describe('chownTree', asRoot, () => {
  /** A tree with a nested file and a link to a file outside it. */
  function tree(t: { after(fn: () => void): void }): { root: string; inside: string[]; outside: string } {
    const base = mkdtempSync(join(tmpdir(), 'ah-own-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const root = join(base, 'workspace');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'b', 'file'), 'x');
    const outside = join(base, 'host-file');
    writeFileSync(outside, 'host');
    symlinkSync(outside, join(root, 'a', 'link'));
    return { root, inside: [root, join(root, 'a'), join(root, 'a', 'b'), join(root, 'a', 'b', 'file'), join(root, 'a', 'link')], outside };
  }

  for (const [name, give] of [
    ['chownTree', (dirs: string[], uid: number) => chownTree(dirs, uid, uid)],
    ['chownTreeSync', async (dirs: string[], uid: number) => chownTreeSync(dirs, uid, uid)],
  ] as const) {
    it(`${name} gives every entry, links themselves, to the user, and never a link's target`, async (t) => {
      const { root, inside, outside } = tree(t);
      await give([root], 65536);
      for (const path of inside) assert.deepEqual([lstatSync(path).uid, lstatSync(path).gid], [65536, 65536], path);
      assert.equal(lstatSync(outside).uid, 0, 'the host file behind the link is still root');
    });
  }

  it('rejects with the directory and chown message when it cannot', async () => {
    await assert.rejects(chownTree(['/nonexistent/agenthost'], 65536, 65536), /could not hand \/nonexistent\/agenthost to 65536:65536: .*No such file/);
  });
});
