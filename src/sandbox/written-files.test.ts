import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from './host-processes.js';
import { fileLimitMessage, WrittenFiles, type WrittenFile } from './written-files.js';

/** Real processes writing real files: what `scan` sees in /proc. */
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
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 1024 * 1024, onLimit: (f) => reports.push(f) });
    const path = join(dir, 'out.output');
    const writer = shell(`exec 3>${path}; head -c 1000 /dev/zero >&3`);
    assert.ok(await waitFor(() => (files.scan([writer.pid!]), files.heldCount === 1), 5_000, { keepAlive: true }));
    assert.equal(reports.length, 0);
    // It grows to the limit, its writer ends, and the file is deleted before the next scan.
    writeFileSync(path, Buffer.alloc(1024 * 1024));
    writer.stdin!.end();
    await new Promise((r) => writer.once('exit', r));
    unlinkSync(path);
    files.scan([writer.pid!]);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.size, 1024 * 1024);
    assert.equal(files.heldCount, 0, 'released once nobody writes it');
    assert.match(fileLimitMessage(1, reports[0]!), /^a file reached 1 MiB, the most one file may hold under config\.sandbox\.disk_mib \(1\): .*\(out\.output\)$/);
    files.close();
  });

  it('reports a file once, however many scans see it', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 4096, onLimit: (f) => reports.push(f) });
    const writer = shell(`exec 3>${join(dir, 'full')}; head -c 8192 /dev/zero >&3`);
    await waitFor(() => (files.scan([writer.pid!]), reports.length > 0), 5_000, { keepAlive: true });
    files.scan([writer.pid!]);
    files.close();
    assert.equal(reports.length, 1);
    writer.stdin!.end();
  });

  it('holds only regular files under its dirs that are open for writing', async () => {
    const reports: WrittenFile[] = [];
    const files = new WrittenFiles({ dirs: [dir], limitBytes: 1, onLimit: (f) => reports.push(f) });
    writeFileSync(join(dir, 'read-only'), 'data');
    const p = shell(`exec 3<${join(dir, 'read-only')} 4>${join(outside, 'written')}; echo x >&4; mkfifo ${join(dir, 'fifo')}; exec 5<>${join(dir, 'fifo')}`);
    await new Promise((r) => setTimeout(r, 300));
    files.scan([p.pid!]);
    assert.equal(files.heldCount, 0);
    assert.deepEqual(reports, []);
    files.close();
    p.stdin!.end();
  });
});
