import { close, closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, sep } from 'node:path';

/**
 * Files the sandbox's processes are writing, held open so that their size
 * can still be read once they are deleted.
 *
 * RLIMIT_FSIZE stops a writer at `limitBytes` (the disk limit: one file may
 * not outgrow it). The kernel tells only the writer (SIGXFSZ or EFBIG), and
 * a disk scan sees the file only while it exists: Claude Code keeps a Bash
 * tool's output in a file of its temporary directory and deletes it as soon
 * as the tool's shell has ended - which, for a flood of output, is at once:
 * the shell dies of SIGXFSZ itself when it writes its notice of the killed
 * writer into the full file, the tool result says only "Exit code 1", and
 * the file is gone tens of milliseconds later.
 *
 * So each `scan` looks at the open files of the sandbox's processes (host
 * pids, from `/proc/<pid>/fd`) and opens, read-only, every regular file under
 * `dirs` (on their filesystems, the path possibly under another mount
 * namespace's root) that one of them has open for writing. A held file keeps its inode:
 * its final size is known however soon it is deleted, and one that reached
 * the limit is reported (once) by the scan that sees it so, or when released.
 * A writer is held from the first scan it is seen in, so a report is certain
 * for any writer that runs across a scan; one that reaches the limit between
 * two scans writes faster than `limitBytes` per interval.
 * A file is released (closed) at the first scan where no process has it open
 * for writing any more, in the thread pool (the last close of a deleted file
 * frees it). Otherwise small synchronous /proc and fstat calls: no child
 * process, no file content read.
 */
export interface WrittenFile {
  /** Where the file was (its path as the writer's /proc entry showed it, " (deleted)" cut off). */
  path: string;
  size: number;
}

const O_ACCMODE = 3;

/**
 * Closes a held file off the event loop: the last close of a deleted file
 * frees its pages and blocks, which takes a while for hundreds of MiB.
 */
function release(fd: number): void {
  close(fd, () => {});
}

export class WrittenFiles {
  private readonly held = new Map<string, { fd: number; path: string; reported: boolean }>();
  private readonly prefixes: string[];
  /** Filesystems of the dirs: a file elsewhere is not held even when its path looks like theirs. */
  private readonly devices = new Set<number>();

  constructor(
    private readonly o: {
      /** Directories whose files count, as paths of the host or as the sandbox shows them. */
      dirs: string[];
      /** RLIMIT_FSIZE of the sandbox's processes: a file this large stopped its writer. */
      limitBytes: number;
      onLimit: (file: WrittenFile) => void;
    },
  ) {
    this.prefixes = o.dirs.map((d) => (d.endsWith(sep) ? d : `${d}${sep}`));
    for (const d of o.dirs) {
      try {
        this.devices.add(statSync(d).dev);
      } catch {
        // A path only the sandbox shows (its home inside).
      }
    }
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** One look at what `pids` (host pids of the sandbox) have open for writing. */
  scan(pids: Iterable<number>): void {
    const seen = new Set<string>();
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) this.look(pid, fd, seen);
    }
    for (const [key, file] of this.held) {
      this.check(file);
      if (!seen.has(key)) {
        release(file.fd);
        this.held.delete(key);
      }
    }
  }

  /** Reports what reached the limit and lets go of every file. */
  close(): void {
    for (const file of this.held.values()) {
      this.check(file);
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

  private check(file: { fd: number; path: string; reported: boolean }): void {
    if (file.reported) return;
    const size = fstatSync(file.fd).size;
    if (size < this.o.limitBytes) return;
    file.reported = true;
    this.o.onLimit({ path: file.path, size });
  }
}

/** The message of a file stopped at the file-size limit, for `LimitEvent`. */
export function fileLimitMessage(diskMib: number, file: WrittenFile): string {
  return `a file reached ${Math.round(file.size / 1024 / 1024)} MiB, the most one file may hold under config.sandbox.disk_mib (${diskMib}): its writer was stopped there (${basename(file.path)})`;
}
