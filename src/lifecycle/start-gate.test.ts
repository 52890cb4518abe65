import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartGate } from './start-gate.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('StartGate', () => {
  it('runs at most `limit` starts at once and queues the rest in order', async () => {
    const gate = new StartGate(2);
    const order: string[] = [];
    const blocks = [deferred(), deferred(), deferred()];
    const runs = blocks.map((b, i) => gate.run(async () => { order.push(`start ${i}`); await b.promise; order.push(`end ${i}`); }));
    await new Promise((r) => setImmediate(r));
    assert.equal(gate.running, 2);
    assert.equal(gate.queued, 1);
    assert.deepEqual(order, ['start 0', 'start 1']);
    blocks[1]!.resolve();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['start 0', 'start 1', 'end 1', 'start 2']);
    blocks[0]!.resolve();
    blocks[2]!.resolve();
    await Promise.all(runs);
    assert.equal(gate.running, 0);
  });

  it('lets urgent starts pass background ones and releases the slot when a start fails', async () => {
    const gate = new StartGate(1);
    const first = deferred();
    const order: string[] = [];
    const running = gate.run(() => first.promise);
    const background = gate.run(async () => void order.push('background'), 'background');
    const urgent = gate.run(async () => void order.push('urgent'));
    first.resolve();
    await Promise.all([running, background, urgent]);
    assert.deepEqual(order, ['urgent', 'background']);
    await assert.rejects(gate.run(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(gate.running, 0);
    await gate.run(async () => undefined);
  });

  it('refuses a limit below one', () => {
    assert.throws(() => new StartGate(0), /positive integer/);
  });
});
