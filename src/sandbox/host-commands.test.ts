import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostCommand, hostCommandOutput } from './host-commands.js';

// The server's environment, which no command may see.
process.env.AH_HOST_COMMAND_MARK = 'server-only';

describe('host commands (started from a worker thread)', () => {
  it('returns the output, takes stdin and runs with an empty environment', async () => {
    const r = await hostCommand('/bin/sh', ['-c', 'cat; echo "[$HOME$AH_HOST_COMMAND_MARK]"; echo err >&2'], { input: 'in\n' });
    assert.deepEqual(r, { code: 0, signal: null, stdout: 'in\n[]\n', stderr: 'err\n' });
  });

  it('reports a failure in the result; hostCommandOutput rejects with it', async () => {
    const failed = await hostCommand('/bin/sh', ['-c', 'echo partial; exit 3']);
    assert.equal(failed.code, 3);
    assert.equal(failed.stdout, 'partial\n');
    assert.ok(failed.error);
    const missing = await hostCommand('/nonexistent/command', []);
    assert.equal(missing.code, null);
    assert.match(missing.error ?? '', /ENOENT/);
    await assert.rejects(hostCommandOutput('/bin/sh', ['-c', 'echo nope >&2; exit 1']), /nope/);
    const killed = await hostCommand('/bin/sleep', ['10'], { timeoutMs: 100 });
    assert.equal(killed.signal, 'SIGTERM');
  });

  it('runs commands side by side', async () => {
    // The first waits for what the second does: one after the other, it would time out.
    const dir = mkdtempSync(join(tmpdir(), 'ahhc-'));
    try {
      const waiter = hostCommand('/bin/sh', ['-c', `while [ ! -e ${dir}/go ]; do sleep 0.02; done; echo went`], { timeoutMs: 60_000 });
      await hostCommandOutput('/bin/sh', ['-c', `: > ${dir}/go`]);
      assert.deepEqual(await waiter, { code: 0, signal: null, stdout: 'went\n', stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
