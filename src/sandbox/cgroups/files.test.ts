import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { timedOutTools } from '../watchdog.js';
import { detectCgroups, sandboxCgroupPath, SandboxCgroup } from './cgroup.js';
import { limitWrites, readCounters } from './files.js';

const limits = { memoryMib: 512, cpus: 1.5, pids: 100, diskMib: 64, toolTimeoutS: 30 };

describe('cgroup limits', () => {
  it('writes v1 and v2 files', () => {
    assert.deepEqual(
      limitWrites(1, limits).map((w) => `${w.controller}/${w.file}=${w.value}`),
      [
        'memory/memory.limit_in_bytes=536870912',
        'memory/memory.memsw.limit_in_bytes=536870912',
        'pids/pids.max=100',
        'cpu/cpu.cfs_period_us=100000',
        'cpu/cpu.cfs_burst_us=0',
        'cpu/cpu.cfs_quota_us=150000',
        'cpu/cpu.cfs_burst_us=150000',
      ],
    );
    assert.deepEqual(
      limitWrites(2, limits).map((w) => `${w.file}=${w.value}`),
      ['memory.max=536870912', 'memory.swap.max=0', 'pids.max=100', 'cpu.max.burst=0', 'cpu.max=150000 100000', 'cpu.max.burst=150000'],
    );
  });

  it("on this host's cgroups, re-creating a sandbox's cgroup with a lower cpus lowers its quota and its burst", async (t) => {
    const layout = detectCgroups();
    if ('unavailable' in layout) {
      // CI runs as root with the cpu controller writable: there it must work.
      if (process.env.CI) assert.fail(`cgroups: ${layout.unavailable}`);
      return t.skip(layout.unavailable);
    }
    const runtimeDir = mkdtempSync(join(tmpdir(), 'ahcg-run-'));
    const first = SandboxCgroup.create(layout, sandboxCgroupPath(runtimeDir, 'test', `burst_${process.pid}`), { ...limits, cpus: 2 });
    const cpuFile = (file: string) => readFileSync(join(first.dir('cpu'), file), 'utf8').trim();
    const burstFile = layout.version === 1 ? 'cpu.cfs_burst_us' : 'cpu.max.burst';
    try {
      SandboxCgroup.create(layout, first.path, { ...limits, cpus: 0.5 });
      assert.equal(cpuFile(layout.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max'), layout.version === 1 ? '50000' : '50000 100000');
      if (existsSync(join(first.dir('cpu'), burstFile))) assert.equal(cpuFile(burstFile), '50000');
    } finally {
      await first.destroy();
      assert.ok(![...new Set(Object.values(layout.mounts))].some((m) => existsSync(join(m, first.path, '..'))), 'its runtime level went with it');
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });

  it('reads the OOM-kill and refused-fork counters of both versions', () => {
    assert.deepEqual(readCounters('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'max 7\n'), { oomKills: 3, pidsRefused: 7 });
    assert.deepEqual(readCounters('low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n', 'max 0\n'), { oomKills: 1, pidsRefused: 0 });
    assert.deepEqual(readCounters('', ''), { oomKills: 0, pidsRefused: 0 });
  });

  it('detects v2 and creates a sandbox cgroup with controllers enabled down the tree', () => {
    const root = mkdtempSync(join(tmpdir(), 'ahcg-'));
    try {
      assert.match(JSON.stringify(detectCgroups(root)), /unavailable/);
      writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      const layout = detectCgroups(root);
      assert.ok(!('unavailable' in layout) && layout.version === 2);
      const path = sandboxCgroupPath('/data/run', 'bwrap', 'sesn_1');
      assert.match(path, /^agenthost\/bwrap-[0-9a-f]{12}\/sesn_1$/);
      const cg = SandboxCgroup.create(layout, path, limits);
      assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+memory +pids +cpu');
      assert.equal(readFileSync(join(root, path, '..', 'cgroup.subtree_control'), 'utf8'), '+memory +pids +cpu');
      assert.equal(readFileSync(join(root, path, 'memory.max'), 'utf8'), '536870912');
      assert.equal(readFileSync(join(root, path, 'cpu.max'), 'utf8'), '150000 100000');
      assert.deepEqual(cg.procsFiles(), [join(root, path, 'cgroup.procs')]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('detects v1 hierarchies per controller', () => {
    const root = mkdtempSync(join(tmpdir(), 'ahcg-'));
    try {
      for (const c of ['memory', 'pids', 'cpu']) {
        mkdirSync(join(root, c));
        writeFileSync(join(root, c, 'cgroup.procs'), '');
      }
      assert.deepEqual(detectCgroups(root), { version: 1, mounts: { memory: join(root, 'memory'), pids: join(root, 'pids'), cpu: join(root, 'cpu') } });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('tool timeout', () => {
  it('kills over-age tools with their descendants, never protected processes', () => {
    const procs = [
      { pid: 10, ppid: 1, startedAt: 0 }, // the CLI
      { pid: 11, ppid: 10, startedAt: 5 }, // a tool, over age
      { pid: 12, ppid: 11, startedAt: 90 }, // its young child
      { pid: 13, ppid: 10, startedAt: 80 }, // a young tool
      { pid: 14, ppid: 1, startedAt: 1 }, // an orphaned old tool
    ];
    assert.deepEqual(timedOutTools(procs, new Set([10]), 100, 30), { kill: [11, 12, 14], culprits: [11, 14] });
    assert.deepEqual(timedOutTools(procs, new Set([10, 11, 14]), 100, 30), { kill: [], culprits: [] });
  });
});
