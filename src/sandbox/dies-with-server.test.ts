import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { hostSleepsWith } from './contract.js';
import { diesWithServer, SERVER_GONE_EXIT } from './dies-with-server.js';

const run = promisify(execFile);

describe('diesWithServer', () => {
  it('runs the command when its parent is the server', async () => {
    const host = diesWithServer({ command: '/bin/echo', args: ['ran'] });
    const { stdout } = await run(host.command, host.args);
    assert.equal(stdout, 'ran\n');
  });

  it('starts nothing once the server it was started for is gone', async () => {
    // A server that died before the parent-death signal was armed shows as a different parent.
    const host = diesWithServer({ command: '/bin/echo', args: ['ran'] }, process.pid + 100_000);
    const outcome = await run(host.command, host.args).then(
      () => ({ code: 0, stdout: 'ran' }),
      (error: { code: number; stdout: string }) => error,
    );
    assert.equal(outcome.code, SERVER_GONE_EXIT);
    assert.equal(outcome.stdout, '');
  });

  it('kills a command still starting when the server is killed', async () => {
    // The "server" is killed while the command is still in its slow start
    // (standing for cgroup joins and prlimit ahead of bwrap's own guard).
    const token = String(randomInt(1e9)).padStart(9, '0');
    const module = new URL('./dies-with-server.ts', import.meta.url).pathname;
    const server = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { spawn } from 'node:child_process';
         import { diesWithServer } from ${JSON.stringify(module)};
         const host = diesWithServer({ command: '/bin/sh', args: ['-c', 'sleep 0.5; exec sleep 1000.${token}'] });
         spawn(host.command, host.args, { detached: true, stdio: 'ignore' });
         console.log('spawned');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => server.stdout.once('data', () => resolve()));
    server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(hostSleepsWith(`1000.${token}`), [], 'nothing the killed server was starting runs on');
  });
});
