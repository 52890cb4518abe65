import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { create } from 'tar';
import { snapshotKey } from './blob-store.js';
import { LocalDirBlobStore } from './local-dir.js';
import { restoreDir, restoreSnapshot, saveSnapshot, snapshotDir, UnsafeSnapshotError } from './snapshot.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Everything a restore must reproduce, per path: type, mode, size, content digest or link target, mtime. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const info = await lstat(path);
      const mode = (info.mode & 0o7777).toString(8);
      // Whole seconds, as a plain tar header keeps them, of the time in whole
      // milliseconds, as Node's Date (and so tar) rounds it: x.9995 s is x+1.
      const mtime = Math.floor(Math.round(info.mtimeMs) / 1000);
      if (info.isSymbolicLink()) out[key] = `link -> ${await readlink(path)}`;
      else if (info.isDirectory()) {
        out[key] = `dir ${mode} ${mtime}`;
        await walk(path, key);
      } else {
        const digest = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
        out[key] = `file ${mode} ${info.size} ${digest} ${mtime} links=${info.nlink}`;
      }
    }
  };
  await walk(root, '');
  return out;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('workspace snapshots', () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'agenthost-snapshot-'));
    outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'not part of the workspace');
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function sampleTree(dir: string): Promise<void> {
    await mkdir(join(dir, 'src', 'lib', 'deep'), { recursive: true });
    await mkdir(join(dir, 'empty', 'nested-empty'), { recursive: true });
    await writeFile(join(dir, 'README.md'), '# hello\n');
    await writeFile(join(dir, 'src', 'odd: name\\with ünïcødé 🚀.txt'), 'odd');
    await writeFile(join(dir, 'src', 'lib', 'deep', 'data.json'), '{"a":1}\n');
    await writeFile(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await chmod(join(dir, 'run.sh'), 0o755);
    await writeFile(join(dir, 'private.key'), 'k', { mode: 0o600 });
    await chmod(join(dir, 'private.key'), 0o600);
    await writeFile(join(dir, 'big.bin'), randomBytes(5 * MiB));
    await symlink('src/lib/deep/data.json', join(dir, 'link-inside'));
    await symlink(join(outside, 'secret.txt'), join(dir, 'link-outside'));
    await symlink('../outside', join(dir, 'link-up'));
    await symlink('does-not-exist', join(dir, 'dangling'));
    await link(join(dir, 'README.md'), join(dir, 'README-hardlink.md'));
    await mkdir(join(dir, 'readonly'));
    await writeFile(join(dir, 'readonly', 'file.txt'), 'ro');
    await chmod(join(dir, 'readonly'), 0o555);
  }

  it('round-trips nested dirs, modes, symlinks (not followed), hard links, empty dirs and a 5 MiB file', async () => {
    const source = join(root, 'rt-source');
    const target = join(root, 'rt-target');
    await mkdir(source);
    await sampleTree(source);

    await restoreDir(snapshotDir(source), target);

    const [expected, actual] = [await describeTree(source), await describeTree(target)];
    assert.deepEqual(actual, expected);
    assert.equal(actual['link-outside'], `link -> ${join(outside, 'secret.txt')}`);
    assert.equal(actual['empty/nested-empty']?.startsWith('dir '), true);
    assert.match(actual['run.sh'] ?? '', /^file 755 /);
    assert.match(actual['big.bin'] ?? '', new RegExp(`^file 644 ${5 * MiB} `));
    assert.match(actual['README.md'] ?? '', /links=2$/);
    // So that cleanup can remove them.
    await chmod(join(source, 'readonly'), 0o755);
    await chmod(join(target, 'readonly'), 0o755);
  });

  it('the archive stores symlinks as links and nothing from outside the directory', async () => {
    const source = join(root, 'links-source');
    await mkdir(source);
    await symlink(join(outside, 'secret.txt'), join(source, 'link-outside'));
    await symlink('../outside', join(source, 'link-up'));
    const archive = join(root, 'links.tar.gz');
    await writeFile(archive, await collect(snapshotDir(source)));
    const { stdout: listing } = await run('tar', ['-tvzf', archive]);
    assert.match(listing, /^l.* \.\/link-outside -> .*\/outside\/secret\.txt$/m);
    assert.match(listing, /^l.* \.\/link-up -> \.\.\/outside$/m);
    // Every regular file's bytes, concatenated: the target's content is not among them.
    const { stdout: contents } = await run('tar', ['-xzOf', archive]);
    assert.doesNotMatch(contents, /not part of the workspace/);
  });

  it('leaves sockets and FIFOs out, without blocking on the FIFO', async () => {
    const source = join(root, 'special-source');
    await mkdir(source);
    await writeFile(join(source, 'a.txt'), 'a');
    await run('mkfifo', [join(source, 'pipe')]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(source, 'sock'), resolve));
    try {
      const target = join(root, 'special-target');
      await restoreDir(snapshotDir(source), target);
      assert.deepEqual(await readdir(target), ['a.txt']);
    } finally {
      server.close();
    }
  });

  it('restores only into an absent or empty directory', async () => {
    const source = join(root, 'nonempty-source');
    const target = join(root, 'nonempty-target');
    await mkdir(source);
    await writeFile(join(source, 'a'), 'a');
    await mkdir(target);
    await writeFile(join(target, 'existing'), 'keep me');
    await assert.rejects(restoreDir(snapshotDir(source), target), /not empty/);
    assert.equal(await readFile(join(target, 'existing'), 'utf8'), 'keep me');
  });

  async function refused(archive: Buffer, why: RegExp | (new (...args: never[]) => Error)): Promise<void> {
    const target = join(root, `refused-${randomBytes(4).toString('hex')}`);
    await assert.rejects(restoreDir(Readable.from([archive]), target), why);
    await assert.rejects(stat(target), { code: 'ENOENT' }, 'a refused restore leaves nothing behind');
  }

  it('refuses an archive with a .. path, and writes nothing outside', async () => {
    const base = join(root, 'dotdot', 'inner');
    await mkdir(base, { recursive: true });
    await writeFile(join(root, 'dotdot', 'escape.txt'), 'escaped');
    await writeFile(join(base, 'ok.txt'), 'ok');
    const archive = await collect(Readable.from(create({ cwd: base, gzip: true, preservePaths: true }, ['ok.txt', '../escape.txt'])));
    await refused(archive, UnsafeSnapshotError);
    await assert.rejects(stat(join(root, 'escape.txt')), { code: 'ENOENT' });
  });

  it('refuses an archive with an absolute path', async () => {
    const file = join(root, 'absolute.txt');
    await writeFile(file, 'absolute');
    const archive = await collect(Readable.from(create({ gzip: true, preservePaths: true }, [file])));
    await refused(archive, UnsafeSnapshotError);
  });

  it('does not write through a symlink the archive itself created', async () => {
    // GNU tar builds the archive: a symlink `link` to a directory outside,
    // then a member `link/planted.txt` (taken from a real directory of that name).
    const victim = join(root, 'victim');
    const a = join(root, 'through-a');
    const b = join(root, 'through-b');
    await Promise.all([mkdir(victim), mkdir(a), mkdir(join(b, 'link'), { recursive: true })]);
    await symlink(victim, join(a, 'link'));
    await writeFile(join(b, 'link', 'planted.txt'), 'planted');
    const tarFile = join(root, 'through.tar');
    await run('tar', ['-cf', tarFile, '-C', a, 'link']);
    await run('tar', ['-rf', tarFile, '-C', b, 'link/planted.txt']);
    await run('gzip', ['-f', tarFile]);
    await refused(await readFile(`${tarFile}.gz`), /beneath the symlink/);
    assert.deepEqual(await readdir(victim), []);
  });

  it('a source that fails midway fails the restore and leaves nothing', async () => {
    const source = join(root, 'broken-source');
    await mkdir(source);
    await writeFile(join(source, 'f'), randomBytes(300_000));
    const whole = await collect(snapshotDir(source));
    async function* breaking(): AsyncGenerator<Uint8Array> {
      yield whole.subarray(0, 100_000);
      throw new Error('connection reset');
    }
    const target = join(root, 'broken-target');
    await assert.rejects(restoreDir(breaking(), target), /connection reset/);
    await assert.rejects(stat(target), { code: 'ENOENT' });
  });

  it('refuses garbage and a truncated archive', async () => {
    await refused(randomBytes(10_000), /./);
    const source = join(root, 'trunc-source');
    await mkdir(source);
    await writeFile(join(source, 'f'), randomBytes(200_000));
    const whole = await collect(snapshotDir(source));
    await refused(whole.subarray(0, Math.floor(whole.length / 2)), /./);
  });

  it('saves to and restores from a blob store by session id', async () => {
    const blobs = new LocalDirBlobStore(join(root, 'blobs'));
    const source = join(root, 'blob-source');
    await mkdir(join(source, 'empty'), { recursive: true });
    await writeFile(join(source, 'x.txt'), 'x');
    const info = await saveSnapshot(blobs, 'sesn_abc', source);
    assert.equal(info.key, snapshotKey('sesn_abc'));
    assert.ok(info.size > 0);
    assert.equal(await restoreSnapshot(blobs, 'sesn_abc', join(root, 'blob-target')), true);
    assert.deepEqual(await describeTree(join(root, 'blob-target')), await describeTree(source));
    assert.equal(await restoreSnapshot(blobs, 'sesn_none', join(root, 'blob-none')), false);
    await assert.rejects(saveSnapshot(blobs, 'sesn_gone', join(root, 'no-such-dir')), { code: 'ENOENT' });
    assert.deepEqual(await blobs.list(), [snapshotKey('sesn_abc')]);
  });

  it('times a 20 MiB tree', { timeout: 120_000 }, async (t) => {
    // Half incompressible (binaries, images), half text-like, in 400 files across 20 directories.
    const source = join(root, 'timed-source');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(source, `dir-${d}`), { recursive: true });
      for (let f = 0; f < 20; f++) {
        const size = (20 * MiB) / 400;
        const body = f % 2 === 0 ? randomBytes(size) : Buffer.from('const value = 42; // some source text\n'.repeat(size / 38 + 1)).subarray(0, size);
        await writeFile(join(source, `dir-${d}`, `file-${f}`), body);
      }
    }
    const blobs = new LocalDirBlobStore(join(root, 'timed-blobs'));
    const ms = (from: number): number => Math.round(performance.now() - from);
    // The first round warms caches and is not reported.
    for (const [round, level] of [[0, 6], [1, 1], [1, 6]] as const) {
      const started = performance.now();
      const info = await saveSnapshot(blobs, `sesn_timed_${round}_${level}`, source, { level });
      const snapshotMs = ms(started);
      const target = join(root, `timed-target-${round}-${level}`);
      const restoring = performance.now();
      await restoreSnapshot(blobs, `sesn_timed_${round}_${level}`, target);
      if (round > 0) {
        t.diagnostic(
          `20 MiB in 400 files, gzip level ${level}: snapshot ${snapshotMs} ms (${(info.size / MiB).toFixed(1)} MiB), restore ${ms(restoring)} ms`,
        );
      }
      assert.deepEqual(await describeTree(target), await describeTree(source));
    }
    // For comparison: GNU tar and gzip (level 6) on the same tree, file to file.
    const archive = join(root, 'timed-gnu.tar.gz');
    const started = performance.now();
    await run('tar', ['-czf', archive, '-C', source, '.']);
    const gnuSnapshot = ms(started);
    await mkdir(join(root, 'timed-gnu'));
    const restoring = performance.now();
    await run('tar', ['-xzf', archive, '-C', join(root, 'timed-gnu')]);
    t.diagnostic(`GNU tar, same tree: snapshot ${gnuSnapshot} ms, restore ${ms(restoring)} ms`);
  });
});
