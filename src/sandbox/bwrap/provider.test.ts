import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../logger.js';
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
