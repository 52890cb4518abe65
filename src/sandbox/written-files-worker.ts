import { close, closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { parentPort } from 'node:worker_threads';

/**
 * The thread behind `WrittenFiles` (written-files.ts): every sandbox's scans
 * of /proc run here, with synchronous calls, off the server's event loop.
 * A gVisor sandbox's runsc processes alone hold a thousand descriptors or
 * more, and each is a readlink: done on the event loop, a few live sandboxes'
 * scans took whole seconds of it per minute and stalled the API.
 *
 * Descriptors belong to the process, not the thread: a file held here keeps
 * its inode however soon the sandbox deletes it, as one held anywhere would.
 */

/** What `WrittenFiles` sends, in order; each request is answered by one `Reply` with its `seq`. */
export type Request =
  | { op: 'open'; seq: number; id: number; dirs: string[]; limitBytes: number }
  /** One look at what `pids` (host pids of the sandbox) have open for writing. */
  | { op: 'scan'; seq: number; id: number; pids: number[] }
  /** A last scan of `pids`, then every held file is checked and let go of, and `id` is forgotten. */
  | { op: 'close'; seq: number; id: number; pids: number[] };

export interface Reply {
  seq: number;
  /** Files held after the request. */
  held: number;
  /** Files seen at the limit for the first time. */
  reports: Array<{ path: string; size: number }>;
  error?: string;
}

const O_ACCMODE = 3;

interface Held {
  fd: number;
  path: string;
  reported: boolean;
}

/**
 * Closes a held file in the thread pool: the last close of a deleted file
 * frees its pages and blocks, which takes a while for hundreds of MiB.
 */
function release(fd: number): void {
  close(fd, () => {});
}

/**
 * Bytes written between two looks at a sandbox's descriptors that make the
 * second look necessary (see `HeldFiles.quiet`). An idle gVisor kernel
 * writes some 600 bytes a second (wake-ups of its own); a file on its way
 * to the limit writes far more.
 */
const QUIET_BYTES = 64 * 1024;
/**
 * Descriptors a sandbox's processes hold, at the last look, from which looks
 * are skipped while they are quiet. A gVisor kernel's are that many, and all
 * its sandbox's writes are its own (so they show in its counter); a few
 * ordinary processes' are looked at every time, cheap as that is, so that a
 * shell holding a file its short-lived children write is still seen.
 */
const MANY_DESCRIPTORS = 512;
/** The longest a look is skipped: what a skipped look would have let go of (a deleted file's blocks) is held no longer. */
const LOOK_AT_LEAST_EVERY_MS = 10_000;

/** Bytes `pid` has passed to write calls (`wchar` of /proc/<pid>/io), or undefined when unknown. */
function bytesWritten(pid: number): number | undefined {
  try {
    const m = /^wchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** One sandbox's held files (see `WrittenFiles`). */
class HeldFiles {
  private readonly held = new Map<string, Held>();
  /** What each process had written at the last look at the descriptors, and how many those were. */
  private written = new Map<number, number>();
  private descriptors = 0;
  private lookedAt = 0;
  private readonly prefixes: string[];
  /** Filesystems of the dirs: a file elsewhere is not held even when its path looks like theirs. */
  private readonly devices = new Set<number>();

  constructor(
    dirs: string[],
    private readonly limitBytes: number,
  ) {
    this.prefixes = dirs.map((d) => (d.endsWith(sep) ? d : `${d}${sep}`));
    for (const d of dirs) {
      try {
        this.devices.add(statSync(d).dev);
      } catch {
        // A path only the sandbox shows (its home inside).
      }
    }
  }

  get size(): number {
    return this.held.size;
  }

  /**
   * Whether the descriptors need no look now: they are many, the same
   * processes are there as at the last look, less than 10 s ago, and
   * together they have written less than `QUIET_BYTES` since. A gVisor
   * kernel holds two thousand descriptors, and its sandbox is idle most of
   * the time: looking at them all twice a second took 25 ms of CPU a second
   * per idle session.
   */
  private quiet(pids: number[]): boolean {
    if (this.descriptors < MANY_DESCRIPTORS) return false;
    const now = new Map<number, number>();
    for (const pid of pids) {
      const bytes = bytesWritten(pid);
      if (bytes === undefined) return false;
      now.set(pid, bytes);
    }
    const same = now.size === this.written.size && [...now.keys()].every((pid) => this.written.has(pid));
    const grown = [...now].reduce((sum, [pid, bytes]) => sum + bytes - (this.written.get(pid) ?? 0), 0);
    if (same && grown < Math.min(QUIET_BYTES, this.limitBytes / 16) && Date.now() - this.lookedAt < LOOK_AT_LEAST_EVERY_MS) return true;
    this.written = now;
    this.lookedAt = Date.now();
    return false;
  }

  scan(pids: number[], reports: Reply['reports']): void {
    if (this.quiet(pids)) {
      // The files held are still checked: one may reach the limit by fewer bytes than make a look.
      for (const file of this.held.values()) this.check(file, reports);
      return;
    }
    const seen = new Set<string>();
    let descriptors = 0;
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      descriptors += fds.length;
      for (const fd of fds) this.look(pid, fd, seen);
    }
    this.descriptors = descriptors;
    for (const [key, file] of this.held) {
      this.check(file, reports);
      if (!seen.has(key)) {
        release(file.fd);
        this.held.delete(key);
      }
    }
  }

  close(reports: Reply['reports']): void {
    for (const file of this.held.values()) {
      this.check(file, reports);
      release(file.fd);
    }
    this.held.clear();
  }

  private look(pid: number, fd: string, seen: Set<string>): void {
    const link = `/proc/${pid}/fd/${fd}`;
    try {
      const target = readlinkSync(link).replace(/ \(deleted\)$/, '');
      // Anywhere in the path: a process in another mount namespace may show it under its own root (gVisor's sentry: /root/...).
      if (!this.prefixes.some((p) => target.includes(p))) return;
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (!flags || (parseInt(flags[1]!, 8) & O_ACCMODE) === constants.O_RDONLY) return;
      const st = statSync(link);
      if (!st.isFile() || (this.devices.size > 0 && !this.devices.has(st.dev))) return;
      const key = `${st.dev}:${st.ino}`;
      seen.add(key);
      if (this.held.has(key)) return;
      // Non-blocking and checked again once open: the writer may have put something else at that fd meanwhile.
      const mine = openSync(link, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      const got = fstatSync(mine);
      if (!got.isFile() || got.dev !== st.dev || got.ino !== st.ino) {
        closeSync(mine);
        return;
      }
      this.held.set(key, { fd: mine, path: target, reported: false });
    } catch {
      // The process or the descriptor is gone.
    }
  }

  private check(file: Held, reports: Reply['reports']): void {
    if (file.reported) return;
    const size = fstatSync(file.fd).size;
    if (size < this.limitBytes) return;
    file.reported = true;
    reports.push({ path: file.path, size });
  }
}

const sandboxes = new Map<number, HeldFiles>();

function handle(request: Request): Reply {
  const reports: Reply['reports'] = [];
  if (request.op === 'open') {
    sandboxes.set(request.id, new HeldFiles(request.dirs, request.limitBytes));
    return { seq: request.seq, held: 0, reports };
  }
  const files = sandboxes.get(request.id);
  if (!files) return { seq: request.seq, held: 0, reports };
  files.scan(request.pids, reports);
  if (request.op === 'close') {
    files.close(reports);
    sandboxes.delete(request.id);
  }
  return { seq: request.seq, held: files.size, reports };
}

parentPort?.on('message', (request: Request) => {
  let reply: Reply;
  try {
    reply = handle(request);
  } catch (error) {
    reply = { seq: request.seq, held: 0, reports: [], error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(reply);
});
