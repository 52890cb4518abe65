import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePs, parseTasks } from './runsc.js';

describe('runsc output', () => {
  it('counts the tasks of `runsc events --stats`, threads included', () => {
    // A python3 with five threads and a socat, as runsc 2024 prints it.
    const stats =
      '{"type":"stats","id":"thr.1","data":{"cpu":{"usage":{"total":2345402475579}},"memory":{"usage":{"limit":0,"usage":19918848,"failcnt":0}},"pids":{"current":7},"network_interfaces":[]}}\n';
    assert.equal(parseTasks(stats), 7);
    assert.throws(() => parseTasks('{"type":"stats","data":{}}\n'), /no task count/);
    assert.throws(() => parseTasks(''), /no task count/);
  });

  it('reads processes from `runsc ps`', () => {
    const ps = [
      'UID       PID       PPID      C         TTY       STIME     TIME      CMD',
      '1000      1         0         0         ?         05:57     30ms      python3.11',
      '1000      3         1         0         ?         05:57     10ms      socat',
    ].join('\n');
    assert.deepEqual(parsePs(ps), [
      { pid: 1, ppid: 0, cmd: 'python3.11' },
      { pid: 3, ppid: 1, cmd: 'socat' },
    ]);
  });
});
