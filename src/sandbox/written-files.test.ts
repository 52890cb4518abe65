import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../logger.js';
import { waitFor } from './host-processes.js';
import { fileLimitMessage, WrittenFiles, type WrittenFile } from './written-files.js';

/** Scans `pids` until `done`, or for `timeoutMs`. */
async function scanUntil(files: WrittenFiles, pids: number[], done: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await files.scan(pids);
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Real processes writing real files: what `scan` sees in /proc (from the worker thread the scans run in). */
describe('WrittenFiles', () => {
  const base = mkdtempSync(join(tmpdir(), 'ahwf-'));
  const dir = join(base, 'tmp');
  const outside = join(base, 'elsewhere');
  mkdirSync(dir);
  mkdirSync(outside);
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  });

  /** A shell that runs `script` and then waits for its stdin to close. */
  function shell(script: string): ChildProcess {
    const c = spawn('/bin/sh', ['-c', `${script}; read _`], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(c);
    return c;
  }

  it('reports a file that reached the limit, from the writer it saw, after the file is deleted', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 1024 * 1024, onLimit: (f) => reports.push(f), log: silentLogger() });
    const path = join(dir, 'out.output');
    const writer = shell(`exec 3>${path}; head -c 1000 /dev/zero >&3`);
    assert.ok(await scanUntil(files, [writer.pid!], () => files.heldCount === 1));
    assert.equal(reports.length, 0);
    // It grows to the limit, its writer ends, and the file is deleted before the next scan.
    writeFileSync(path, Buffer.alloc(1024 * 1024));
    writer.stdin!.end();
    await new Promise((r) => writer.once('exit', r));
    unlinkSync(path);
    await files.scan([writer.pid!]);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.size, 1024 * 1024);
    assert.equal(files.heldCount, 0, 'released once nobody writes it');
    assert.match(fileLimitMessage(1, reports[0]!), /^a file reached 1 MiB, the most one file may hold under config\.sandbox\.disk_mib \(1\): .*\(out\.output\)$/);
    await files.close();
  });

  it('reports a file once, however many scans see it', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 4096, onLimit: (f) => reports.push(f), log: silentLogger() });
    const writer = shell(`exec 3>${join(dir, 'full')}; head -c 8192 /dev/zero >&3`);
    assert.ok(await scanUntil(files, [writer.pid!], () => reports.length > 0));
    await files.scan([writer.pid!]);
    await files.close([writer.pid!]);
    assert.equal(reports.length, 1);
    writer.stdin!.end();
  });

  it('holds only regular files under its dirs that are open for writing', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 1, onLimit: (f) => reports.push(f), log: silentLogger() });
    writeFileSync(join(dir, 'read-only'), 'data');
    const p = shell(`exec 3<${join(dir, 'read-only')} 4>${join(outside, 'written')}; echo x >&4; mkfifo ${join(dir, 'fifo')}; exec 5<>${join(dir, 'fifo')}`);
    await new Promise((r) => setTimeout(r, 300));
    await files.scan([p.pid!]);
    assert.equal(files.heldCount, 0);
    assert.deepEqual(reports, []);
    await files.close();
    p.stdin!.end();
  });

  it('reports at close a file its writer left at the limit, and looks no more after it', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 4096, onLimit: (f) => reports.push(f), log: silentLogger() });
    const writer = shell(`exec 3>${join(dir, 'late')}; head -c 100 /dev/zero >&3`);
    assert.ok(await scanUntil(files, [writer.pid!], () => files.heldCount === 1));
    writeFileSync(join(dir, 'late'), Buffer.alloc(8192));
    await files.close([writer.pid!]);
    assert.deepEqual(reports.map((r) => r.size), [8192]);
    assert.equal(files.heldCount, 0);
    await files.scan([writer.pid!]);
    assert.equal(files.heldCount, 0, 'a closed one holds nothing again');
    writer.stdin!.end();
  });

  it('keeps the sandboxes of one worker apart: each holds and reports only its own dirs', async () => {
    const other = join(base, 'other');
    mkdirSync(other);
    const mine: WrittenFile[] = [];
    const theirs: WrittenFile[] = [];
    const a = new WrittenFiles({ dirs: [dir], limitBytes: 1, onLimit: (f) => mine.push(f), log: silentLogger() });
    const b = new WrittenFiles({ dirs: [other], limitBytes: 1, onLimit: (f) => theirs.push(f), log: silentLogger() });
    const writer = shell(`exec 3>${join(dir, 'a-file')} 4>${join(other, 'b-file')}; echo x >&3; echo y >&4`);
    assert.ok(await scanUntil(a, [writer.pid!], () => a.heldCount === 1));
    await Promise.all([a.scan([writer.pid!]), b.scan([writer.pid!])]);
    assert.deepEqual([a.heldCount, b.heldCount], [1, 1]);
    assert.deepEqual(mine.map((f) => f.path), [join(dir, 'a-file')]);
    assert.deepEqual(theirs.map((f) => f.path), [join(other, 'b-file')]);
    await Promise.all([a.close(), b.close()]);
    writer.stdin!.end();
  });

  it('skips the look at many descriptors while their processes write nothing, and looks again once they write', async () => {
    // A process holding 600 descriptors, as a gVisor kernel holds thousands: it opens `path` for writing, then writes as told.
    const path = join(dir, 'quiet');
    const script = `
      const fs = require('node:fs');
      for (let i = 0; i < 600; i++) fs.openSync('/dev/null', 'r');
      let fd;
      require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
        if (line === 'open') fd = fs.openSync(${JSON.stringify(path)}, 'w');
        else fs.writeSync(fd, Buffer.alloc(Number(line)));
      });`;
    const p = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(p);
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 1024 * 1024, onLimit: (f) => reports.push(f), log: silentLogger() });
    // The first look counts its descriptors; the file is not open yet.
    assert.ok(await scanUntil(files, [p.pid!], () => readdirSync(`/proc/${p.pid}/fd`).length > 600));
    await files.scan([p.pid!]);
    p.stdin!.write('open\n');
    await waitFor(() => existsSync(path), 5_000, { keepAlive: true });
    await files.scan([p.pid!]);
    assert.equal(files.heldCount, 0, 'opened without a byte written: not looked for');
    p.stdin!.write(`${128 * 1024}\n`);
    assert.ok(await scanUntil(files, [p.pid!], () => files.heldCount === 1), 'held once it wrote');
    p.stdin!.write(`${1024 * 1024}\n`);
    assert.ok(await scanUntil(files, [p.pid!], () => reports.length === 1));
    assert.equal(reports[0]!.size, 1152 * 1024);
    await files.close([p.pid!]);
  });
});
