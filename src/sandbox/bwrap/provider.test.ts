import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../logger.js';
import { detectCgroups, sandboxCgroupPath } from '../cgroups/cgroup.js';
import { hostSleepsWith, runSandboxContract } from '../contract.js';
import { waitFor } from '../host-processes.js';
import { BwrapProvider } from './provider.js';

runSandboxContract('bwrap', ({ runtimeDir }) => new BwrapProvider({ runtimeDir, log: silentLogger() }), { isolated: true });

// How a server that is not root runs them; here, as root, the user namespace maps the sandbox user to root.
runSandboxContract('bwrap (user namespace)', ({ runtimeDir }) => new BwrapProvider({ runtimeDir, log: silentLogger(), identity: 'user-namespace' }), {
  isolated: true,
  serverUid: 'in a user namespace the sandbox user is the server\'s own uid on the host',
});

describe('bwrap: when the server is SIGKILLed', () => {
  it('nothing in its sandboxes survives, and a restarted server finds and removes the leftover', async (t) => {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'ahsb-run-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'ahsb-data-'));
    t.after(() => {
      rmSync(runtimeDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });
    const provider = new BwrapProvider({ runtimeDir, log: silentLogger() });
    // The provider's clean-up waits on unref'd timers (so that it never holds a stopping server open), and
    // this test waits on nothing else while it destroys the leftover: without this, node may end the test there.
    const hold = setInterval(() => {}, 1_000);
    t.after(() => clearInterval(hold));
    try {
      await provider.check();
    } catch (error) {
      if (process.env.CI) throw error;
      return t.skip(`bwrap unavailable: ${(error as Error).message}`);
    }
    const token = String(randomInt(100_000, 999_999));
    const fixture = new URL('../fixtures/server-that-dies.ts', import.meta.url).pathname;
    const server = spawn(process.execPath, ['--import', 'tsx', fixture, 'bwrap', runtimeDir, dataDir, token], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
    const running = (): boolean => hostSleepsWith(`1000.${token}`).length === 1 && hostSleepsWith(`1001.${token}`).length === 1;
    assert.ok(await waitFor(running, 3_000, { keepAlive: true }), 'the command and its grandchild run');

    server.kill('SIGKILL');
    const gone = await waitFor(() => hostSleepsWith(token).length === 0, 5_000, { keepAlive: true });
    assert.ok(gone, `still running: ${hostSleepsWith(token).join(', ')}`);

    // Start-up cleanup in the next server.
    assert.deepEqual(await provider.list(), [{ id: `dies-${token}`, provider: 'bwrap' }]);
    await provider.destroy(`dies-${token}`);
    assert.deepEqual(await provider.list(), []);
  });
});

describe('bwrap: when the server is SIGKILLed while its sandboxes start', () => {
  it('nothing of them survives: not even a sandbox whose init bwrap was still setting up', async (t) => {
    const token = String(randomInt(100_000, 999_999));
    const runtimeDir = mkdtempSync(join(tmpdir(), 'ahsb-run-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'ahsb-data-'));
    const hold = setInterval(() => {}, 1_000);
    t.after(async () => {
      // Start-up cleanup, as a next server would do: kills whatever a failed run left in the sandbox's cgroup.
      await new BwrapProvider({ runtimeDir, log: silentLogger() }).destroy(`dies-${token}`);
      clearInterval(hold);
      rmSync(runtimeDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });
    const layout = detectCgroups();
    if ('unavailable' in layout) {
      if (process.env.CI) assert.fail(`cgroups: ${layout.unavailable}`);
      return t.skip(layout.unavailable);
    }
    const fixture = new URL('../fixtures/server-that-dies.ts', import.meta.url).pathname;
    const server = spawn(process.execPath, ['--import', 'tsx', fixture, 'bwrap', runtimeDir, dataDir, token, 'starting'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
    // It starts a sandbox every 10 ms: the kill lands while some are being set up.
    await new Promise((r) => setTimeout(r, 500));
    server.kill('SIGKILL');
    const cgroup = join(layout.mounts.pids, sandboxCgroupPath(runtimeDir, 'bwrap', `dies-${token}`));
    const left = (): string[] => [
      ...hostSleepsWith(token).map((pid) => `sleep ${pid}`),
      ...(existsSync(cgroup) ? readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map((pid) => `${pid} in the cgroup`) : []),
    ];
    // Killed processes go within a second even on a loaded host; one left after five is left for good.
    await waitFor(() => left().length === 0, 5_000, { keepAlive: true });
    // And none appears later: a surviving init would go on to start its command.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(left(), []);
  });
});
