import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, utimesSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { silentLogger } from '../logger.js';
import { BwrapProvider } from './bwrap/provider.js';
import { detectCgroups, sandboxCgroupPath, type CgroupLayout } from './cgroups/cgroup.js';
import { collect } from './contract.js';

/** The cgroup directories a server leaves in the kernel: none once its sandboxes are gone. */

function layoutOrSkip(t: TestContext): CgroupLayout | undefined {
  const layout = detectCgroups();
  if (!('unavailable' in layout)) return layout;
  // CI runs as root with cgroups writable: there it must work.
  if (process.env.CI) assert.fail(`cgroups: ${layout.unavailable}`);
  t.skip(layout.unavailable);
  return undefined;
}

const mounts = (layout: CgroupLayout): string[] => [...new Set(Object.values(layout.mounts))];
const limits = { memoryMib: 256, cpus: 1, pids: 64, diskMib: 64, toolTimeoutS: null };

describe('host cgroups of a sandbox', () => {
  it("destroying a runtime directory's last sandbox leaves no cgroup directory of it", async (t) => {
    const layout = layoutOrSkip(t);
    if (!layout) return;
    const base = mkdtempSync(join(tmpdir(), 'ahcg-'));
    chmodSync(base, 0o755); // the sandbox user reaches its home below it
    // bwrap binds the gateway socket into each process's sandbox: it must exist.
    const gateway = createServer();
    await new Promise<void>((r) => gateway.listen(join(base, 'gw.sock'), r));
    const runtimeDir = join(base, 'run');
    const provider = new BwrapProvider({ runtimeDir, log: silentLogger() });
    t.after(async () => {
      for (const id of ['sb_a', 'sb_b']) await provider.destroy(id);
      gateway.close();
      rmSync(base, { recursive: true, force: true });
    });
    const spec = (id: string) => {
      const dirs = { workspaceDir: join(base, id, 'w'), configDir: join(base, id, 'c'), tmpDir: join(base, id, 't') };
      for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
      return { id, workspaceId: 'ws', gatewaySocket: join(base, 'gw.sock'), gatewayUrl: 'http://127.0.0.1:1', limits, ...dirs };
    };
    const a = await provider.create(spec('sb_a'));
    const b = await provider.create(spec('sb_b'));
    for (const s of [a, b]) {
      const r = await collect(s.spawn({ command: '/bin/true', args: [], cwd: join(base, s.id, 'w'), env: {} }));
      assert.equal(r.code, 0, r.stderr);
    }
    const level = dirname(sandboxCgroupPath(runtimeDir, 'bwrap', 'sb_a'));
    await a.destroy();
    assert.ok(!mounts(layout).some((m) => existsSync(join(m, level, 'sb_a'))), 'the sandbox cgroup is gone');
    assert.ok(mounts(layout).every((m) => existsSync(join(m, level, 'sb_b'))), "the other sandbox's stays");
    await b.destroy();
    assert.deepEqual(mounts(layout).filter((m) => existsSync(join(m, level))), [], `left behind: ${level}`);
  });

  it("start-up removes what servers that are gone left: empty levels, and their sandboxes' cgroups without processes", async (t) => {
    const layout = layoutOrSkip(t);
    if (!layout) return;
    const base = mkdtempSync(join(tmpdir(), 'ahcg-'));
    const level = () => join('agenthost', `bwrap-${randomBytes(6).toString('hex')}`);
    const empty = level();
    // A dead server's level: an old sandbox cgroup without processes, as a SIGKILLed server left them.
    const dead = join(level(), 'sb_dead');
    // A level no helper watches (a server from before the helpers), whose sandbox was created a moment ago.
    const recent = join(level(), 'sb_recent');
    // A live server's level (its helper names it), with a sandbox between its creation and its first spawn.
    const watched = join(level(), 'sb_standby');
    const old = new Date('2020-01-01');
    for (const m of mounts(layout)) {
      mkdirSync(join(m, empty), { recursive: true });
      for (const d of [dead, recent, watched]) mkdirSync(join(m, d), { recursive: true });
      utimesSync(join(m, dead), old, old);
      utimesSync(join(m, watched), old, old);
    }
    // Named as sweep-on-exit.ts names its helper.
    const helper = spawn('/bin/sh', ['-c', 'sleep 60', 'agenthost-sweep', ...mounts(layout).map((m) => join(m, dirname(watched)))], { stdio: 'ignore' });
    t.after(() => {
      helper.kill('SIGKILL');
      for (const m of mounts(layout)) {
        for (const d of [empty, ...[dead, recent, watched].flatMap((d) => [d, dirname(d)])]) if (existsSync(join(m, d))) rmdirSync(join(m, d));
      }
      rmSync(base, { recursive: true, force: true });
    });
    await new BwrapProvider({ runtimeDir: join(base, 'run'), log: silentLogger() }).list();
    const left = (d: string) => mounts(layout).filter((m) => existsSync(join(m, d)));
    assert.deepEqual(left(empty), [], 'the empty level is gone');
    assert.deepEqual([...left(dead), ...left(dirname(dead))], [], "the dead server's sandbox cgroup and level are gone");
    assert.deepEqual(left(recent), mounts(layout), 'a sandbox cgroup created a moment ago stays');
    assert.deepEqual(left(watched), mounts(layout), "a live server's sandbox stays, however old");
  });
});
