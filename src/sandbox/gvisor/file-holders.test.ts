import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProcStat } from '../host-processes.js';
import { gvisorFileHolders } from './provider.js';

describe('gvisorFileHolders', () => {
  const proc = (pid: number, ppid: number): ProcStat => ({ pid, ppid, pgid: pid, state: 'S', startTime: '1' });

  it('takes each runsc run, its gofer and its sentry, not the stubs below the sentry', () => {
    // runsc run 10 (parent outside), gofer 11, sentry 12, stubs 13 and 14 (one below another); a second runsc run 20 with 21.
    const procs = [proc(10, 1), proc(11, 10), proc(12, 10), proc(13, 12), proc(14, 13), proc(20, 1), proc(21, 20)];
    assert.deepEqual(gvisorFileHolders(procs).sort((a, b) => a - b), [10, 11, 12, 20, 21]);
  });
});
