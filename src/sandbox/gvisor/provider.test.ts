import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../logger.js';
import { runSandboxContract } from '../contract.js';
import { listProcesses, waitFor } from '../host-processes.js';
import { commandLine } from '../watchdog.js';
import { GvisorProvider } from './provider.js';

/**
 * Processes inside gVisor are not host processes, so the contract's checks
 * for survivors look inside every container runsc still has.
 */
let stateRoot = '';
function sleepsWith(token: string): number[] {
  const runsc = (args: string[]): string => {
    try {
      return execFileSync('runsc', ['--root', stateRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  const found: number[] = [];
  for (const container of runsc(['list', '--quiet']).split('\n').filter(Boolean)) {
    const lines = runsc(['exec', '--user', '0:0', container, '/bin/sh', '-c', 'for f in /proc/[0-9]*; do printf "%s " "${f#/proc/}"; tr "\\0" " " < $f/cmdline; echo; done']);
    for (const line of lines.split('\n')) {
      const [pid, argv0, arg] = line.trim().split(' ');
      if (argv0 && /(^|\/)sleep$/.test(argv0) && arg?.includes(token)) found.push(Number(pid));
    }
  }
  return found;
}

runSandboxContract(
  'gvisor',
  ({ runtimeDir }) => {
    stateRoot = join(runtimeDir, 'gvisor', 'state');
    return new GvisorProvider({ runtimeDir, log: silentLogger() });
  },
  {
    isolated: true,
    sleepsWith,
    virtualCpuTime: "gVisor's own CPU accounting inside does not see the host cgroup's throttling; the quota is the host cgroup's cpu.cfs_quota_us, as for bwrap",
    clone3Allowed: "gVisor's clone3 stays allowed: Bun aborts when it fails with EPERM, and runsc refuses with nothing else (src/sandbox/gvisor/oci.ts)",
    commandEndTakesTools: "each command is a gVisor kernel of its own: when it ends, so do its tools, and only a tick before that sees a bomb",
  },
);

/** Host processes whose command line names `needle` (runsc run, boot and gofer name their container). */
function hostProcessesNaming(needle: string): string[] {
  return listProcesses()
    .filter((p) => p.pid !== process.pid)
    .map((p) => `${p.pid} ${commandLine(p.pid, 300)}`)
    .filter((line) => line.includes(needle));
}

describe('gvisor: when the server is SIGKILLed', () => {
  it('its sandboxes go with it, and a restarted server finds and removes the leftover record', async (t) => {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'ahsb-run-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'ahsb-data-'));
    const provider = new GvisorProvider({ runtimeDir, log: silentLogger() });
    // The provider's clean-up waits on unref'd timers (so that it never holds a stopping server open), and
    // this test waits on nothing else while it destroys the leftover: without this, node may end the test there.
    const hold = setInterval(() => {}, 1_000);
    t.after(() => clearInterval(hold));
    const token = String(randomInt(100_000, 999_999));
    t.after(async () => {
      await provider.destroy(`dies-${token}`).catch(() => undefined);
      rmSync(runtimeDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });
    try {
      await provider.check();
    } catch (error) {
      if (process.env.CI) throw error;
      return t.skip(`gVisor unavailable: ${(error as Error).message}`);
    }
    stateRoot = join(runtimeDir, 'gvisor', 'state');
    const fixture = new URL('../fixtures/server-that-dies.ts', import.meta.url).pathname;
    const server = spawn(process.execPath, ['--import', 'tsx', fixture, 'gvisor', runtimeDir, dataDir, token], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
    assert.ok(await waitFor(() => sleepsWith(`1000.${token}`).length === 1 && sleepsWith(`1001.${token}`).length === 1, 5_000, { keepAlive: true }), 'the command and its grandchild run');

    server.kill('SIGKILL');
    const gone = await waitFor(() => hostProcessesNaming(`dies-${token}`).length === 0, 5_000, { keepAlive: true });
    assert.ok(gone, `still running: ${hostProcessesNaming(`dies-${token}`).join('\n')}`);
    assert.deepEqual(sleepsWith(token), []);

    assert.deepEqual(await provider.list(), [{ id: `dies-${token}`, provider: 'gvisor' }]);
    await provider.destroy(`dies-${token}`);
    assert.deepEqual(await provider.list(), []);
  });
});
