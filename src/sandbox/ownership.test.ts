import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chownTree } from './ownership.js';

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

  it("gives every entry, links themselves, to the user, and never a link's target", async (t) => {
    const { root, inside, outside } = tree(t);
    await chownTree([root], 65536, 65536);
    for (const path of inside) assert.deepEqual([lstatSync(path).uid, lstatSync(path).gid], [65536, 65536], path);
    assert.equal(lstatSync(outside).uid, 0, 'the host file behind the link is still root');
  });

  it('goes on past entries deleted while it walks (a sandbox sharing the workspace at work)', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'ah-own-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    for (let d = 0; d < 50; d++) {
      mkdirSync(join(root, `d${d}`));
      for (let f = 0; f < 200; f++) writeFileSync(join(root, `d${d}`, `f${f}`), '');
    }
    // Deleting from the end: chown reads the directory first, then meets the entries gone.
    const rm = spawn('sh', ['-c', 'for d in $(seq 49 -1 0); do rm -rf "$1/d$d"; done', 'sh', root]);
    await chownTree([root], 65536, 65536);
    await new Promise((resolve) => rm.once('exit', resolve));
    assert.equal(lstatSync(root).uid, 65536);
  });

  it('rejects with the directory and chown message when it cannot', async () => {
    await assert.rejects(chownTree(['/nonexistent/agenthost'], 65536, 65536), /could not hand \/nonexistent\/agenthost to 65536:65536: .*No such file/);
  });
});
