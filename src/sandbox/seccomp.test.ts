import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBpf, DENIED_SYSCALLS, ociProfile } from './seccomp.js';

const X86_64 = 0xc000003e;
const I386 = 0x40000003;
const AARCH64 = 0xc00000b7;
const ALLOW = 'allow';

/**
 * Runs a classic BPF seccomp program the way the kernel does, for the
 * instructions a filter of this shape may use (anything else fails the test).
 */
function evaluate(program: Buffer, data: { arch: number; nr: number; arg0?: number }): string {
  const word = (offset: number): number => {
    if (offset === 0) return data.nr >>> 0;
    if (offset === 4) return data.arch >>> 0;
    if (offset === 16) return (data.arg0 ?? 0) >>> 0;
    throw new Error(`load from offset ${offset}`);
  };
  let acc = 0;
  for (let pc = 0; pc < program.length / 8; ) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    pc++;
    if (code === 0x20) acc = word(k);
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x35) pc += acc >= k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k === 0x7fff0000 ? ALLOW : (k & 0xffff0000) === 0x00050000 ? `errno ${k & 0xffff}` : `ret ${k}`;
    else throw new Error(`opcode ${code}`);
  }
  throw new Error('fell off the end of the program');
}

describe('seccomp policy', () => {
  // From the kernel's asm/unistd_64.h and asm-generic/unistd.h, independently of the table under test.
  const cases = {
    x64: { arch: X86_64, read: 0, clone: 56, clone3: 435, unshare: 272, ptrace: 101, keyctl: 250, io_uring_setup: 425, mount: 165, bpf: 321 },
    arm64: { arch: AARCH64, read: 63, clone: 220, clone3: 435, unshare: 97, ptrace: 117, keyctl: 219, io_uring_setup: 425, mount: 40, bpf: 280 },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: refuses the denied calls with EPERM and clone3 with ENOSYS, allows the rest`, () => {
      const program = compileBpf(name);
      const run = (nr: number, arg0?: number) => evaluate(program, { arch: c.arch, nr, ...(arg0 === undefined ? {} : { arg0 }) });
      for (const nr of [c.unshare, c.ptrace, c.keyctl, c.io_uring_setup, c.mount, c.bpf]) assert.equal(run(nr), 'errno 1', `syscall ${nr}`);
      assert.equal(run(c.clone3), 'errno 38');
      assert.equal(run(c.read), ALLOW);
      // A thread (CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID) and a fork go ahead.
      assert.equal(run(c.clone, 0x3d0f00), ALLOW);
      assert.equal(run(c.clone, 0x11), ALLOW);
      for (const flag of [0x20000, 0x10000000, 0x40000000]) assert.equal(run(c.clone, 0x11 | flag), 'errno 1', `clone with ${flag.toString(16)}`);
    });
  }

  it('refuses every call of another ABI on the same machine', () => {
    const program = compileBpf('x64');
    assert.equal(evaluate(program, { arch: I386, nr: 3 }), 'errno 1', 'a 32-bit x86 call');
    assert.equal(evaluate(program, { arch: X86_64, nr: 0x40000000 }), 'errno 1', 'an x32 call');
  });

  it('has no numbers for an architecture it does not know, and says so', () => {
    assert.throws(() => compileBpf('mips'), /no seccomp syscall numbers for mips/);
  });

  it('gives engines the same names', () => {
    const profile = ociProfile();
    assert.deepEqual(new Set(profile.syscalls[0]!.names), new Set([...DENIED_SYSCALLS, 'umount']));
    assert.deepEqual(profile.syscalls[1], { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });
});
