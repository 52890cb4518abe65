/**
 * The system calls every sandbox is denied, on top of holding no
 * capabilities: no new namespaces (unshare, setns, clone with a namespace
 * flag; clone3 is ENOSYS so libc falls back to clone, whose flags a filter can
 * read), no mounts or chroot, no ptrace, and none of the kernel interfaces
 * unprivileged code most often attacks (keyrings, bpf, userfaultfd, perf
 * events, io_uring). One policy, in two forms: an OCI profile for the
 * docker provider's engine and for gVisor (`ociProfile`), and a classic BPF
 * program for bubblewrap's `--seccomp` (`compileBpf`). A denied call fails
 * with EPERM, so a program can fall back and the agent reads why.
 */

export const DENIED_SYSCALLS = [
  'unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'chroot', 'move_mount', 'open_tree', 'fsopen', 'fsmount', 'fsconfig', 'fspick', 'mount_setattr',
  'ptrace', 'keyctl', 'add_key', 'request_key', 'bpf', 'userfaultfd', 'perf_event_open', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'kexec_load', 'kexec_file_load', 'open_by_handle_at', 'init_module', 'finit_module', 'delete_module', 'acct', 'swapon', 'swapoff', 'reboot',
] as const;
type Denied = (typeof DENIED_SYSCALLS)[number];

/** Namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
const CLONE_NEW_FLAGS = [0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000];

const EPERM = 1;
const ENOSYS = 38;

/** The OCI profile format: Docker's API takes it as JSON, Podman's from a file, runsc from the OCI spec. */
export function ociProfile() {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    syscalls: [
      // umount is x86's old name for umount2; the engine skips names an architecture lacks.
      { names: [...DENIED_SYSCALLS, 'umount'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      ...CLONE_NEW_FLAGS.map((flag) => ({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }] })),
    ],
  };
}

interface Arch {
  /** AUDIT_ARCH_* of seccomp_data.arch. */
  audit: number;
  /** Numbers at or above this are another ABI on the same architecture (x86_64's x32). */
  foreignFrom?: number;
  numbers: Record<Denied | 'clone' | 'clone3', number>;
}

/** From the kernel's uapi headers: asm/unistd_64.h (x86_64) and asm-generic/unistd.h (aarch64). */
const ARCHES: Record<string, Arch> = {
  x64: {
    audit: 0xc000003e,
    foreignFrom: 0x40000000,
    numbers: {
      unshare: 272, setns: 308, mount: 165, umount2: 166, pivot_root: 155, chroot: 161, move_mount: 429, open_tree: 428, fsopen: 430, fsmount: 432, fsconfig: 431,
      fspick: 433, mount_setattr: 442, ptrace: 101, keyctl: 250, add_key: 248, request_key: 249, bpf: 321, userfaultfd: 323, perf_event_open: 298,
      io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, kexec_load: 246, kexec_file_load: 320, open_by_handle_at: 304, init_module: 175,
      finit_module: 313, delete_module: 176, acct: 163, swapon: 167, swapoff: 168, reboot: 169, clone: 56, clone3: 435,
    },
  },
  arm64: {
    audit: 0xc00000b7,
    numbers: {
      unshare: 97, setns: 268, mount: 40, umount2: 39, pivot_root: 41, chroot: 51, move_mount: 429, open_tree: 428, fsopen: 430, fsmount: 432, fsconfig: 431,
      fspick: 433, mount_setattr: 442, ptrace: 117, keyctl: 219, add_key: 217, request_key: 218, bpf: 280, userfaultfd: 282, perf_event_open: 241,
      io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, kexec_load: 104, kexec_file_load: 294, open_by_handle_at: 265, init_module: 105,
      finit_module: 273, delete_module: 106, acct: 89, swapon: 224, swapoff: 225, reboot: 142, clone: 220, clone3: 435,
    },
  },
};

// Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
// Offsets in struct seccomp_data: nr, arch, then args[0] (its low 32 bits on little-endian machines).
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16;

type Insn = { code: number; jt?: string | number; jf?: string | number; k: number } | { label: string };

/**
 * The policy as a `struct sock_filter` array for this machine's architecture
 * (bubblewrap reads it from `--seccomp FD`). Another ABI on the same machine
 * (32-bit x86 or x32 calls on x86_64) is refused outright: its numbers differ.
 * Throws on an architecture it has no numbers for.
 */
export function compileBpf(arch: string = process.arch): Buffer {
  const table = ARCHES[arch];
  if (!table) throw new Error(`no seccomp syscall numbers for ${arch}`);
  const cloneMask = CLONE_NEW_FLAGS.reduce((a, b) => a | b, 0);
  const program: Insn[] = [
    { code: LD_W_ABS, k: ARCH },
    { code: JEQ_K, jt: 0, jf: 'deny', k: table.audit },
    { code: LD_W_ABS, k: NR },
    ...(table.foreignFrom !== undefined ? [{ code: JGE_K, jt: 'deny', jf: 0, k: table.foreignFrom }] : []),
    ...DENIED_SYSCALLS.map((name) => ({ code: JEQ_K, jt: 'deny', jf: 0, k: table.numbers[name] })),
    { code: JEQ_K, jt: 'enosys', jf: 0, k: table.numbers.clone3 },
    { code: JEQ_K, jt: 0, jf: 'allow', k: table.numbers.clone },
    { code: LD_W_ABS, k: ARG0_LOW },
    { code: JSET_K, jt: 'deny', jf: 0, k: cloneMask },
    { label: 'allow' },
    { code: RET_K, k: RET_ALLOW },
    { label: 'deny' },
    { code: RET_K, k: RET_ERRNO | EPERM },
    { label: 'enosys' },
    { code: RET_K, k: RET_ERRNO | ENOSYS },
  ];
  return assemble(program);
}

/** Resolves labels to relative jumps and encodes each instruction as 8 little-endian bytes. */
function assemble(program: Insn[]): Buffer {
  const labels = new Map<string, number>();
  const insns: Array<Exclude<Insn, { label: string }>> = [];
  for (const i of program) {
    if ('label' in i) labels.set(i.label, insns.length);
    else insns.push(i);
  }
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, pc) => {
    const jump = (to: string | number | undefined): number => {
      if (to === undefined || typeof to === 'number') return to ?? 0;
      const offset = labels.get(to)! - (pc + 1);
      if (offset < 0 || offset > 255) throw new Error(`seccomp jump to ${to} out of range`);
      return offset;
    };
    out.writeUInt16LE(insn.code, pc * 8);
    out.writeUInt8(jump(insn.jt), pc * 8 + 2);
    out.writeUInt8(jump(insn.jf), pc * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, pc * 8 + 4);
  });
  return out;
}
