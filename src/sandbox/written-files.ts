import { basename } from 'node:path';
import type { Logger } from '../logger.js';
import { SharedWorker } from './worker-thread.js';
import type { Reply, Request } from './written-files-worker.js';

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
 * namespace's root) that one of them has open for writing. A held file keeps
 * its inode: its final size is known however soon it is deleted, and one that
 * reached the limit is reported (once) by the scan that sees it so, or when
 * released. A writer is held from the first scan it is seen in, so a report is
 * certain for any writer that runs across a scan; one that reaches the limit
 * between two scans writes faster than `limitBytes` per interval. A file is
 * released (closed) at the first scan where no process has it open for
 * writing any more.
 *
 * The scans run in one worker thread shared by every sandbox
 * (written-files-worker.ts), never on the event loop: a scan is thousands of
 * small /proc calls for a gVisor sandbox. A `scan` asked for while the last
 * one is still running is skipped.
 */
export interface WrittenFile {
  /** Where the file was (its path as the writer's /proc entry showed it, " (deleted)" cut off). */
  path: string;
  size: number;
}

/** The thread every sandbox's scans run in, started with the first sandbox that needs it (again after it failed). */
const shared = new SharedWorker<Request, Reply>({
  name: 'agenthost written files',
  from: import.meta.url,
  module: 'written-files-worker',
  failed: (seq, message) => ({ seq, held: 0, reports: [], error: message }),
});
let nextId = 0;

export class WrittenFiles {
  private readonly id = nextId++;
  private held = 0;
  private scanning: Promise<void> | undefined;
  private closed = false;
  /** The worker this sandbox's files are known to, and its answer to being told of them. */
  private worker: object | undefined;
  private opened: Promise<Reply> = Promise.resolve({ seq: -1, held: 0, reports: [] });

  constructor(
    private readonly o: {
      /** Directories whose files count, as paths of the host or as the sandbox shows them. */
      dirs: string[];
      /** RLIMIT_FSIZE of the sandbox's processes: a file this large stopped its writer. */
      limitBytes: number;
      onLimit: (file: WrittenFile) => void;
      /** Where a failed scan is told (the worker stopped): scans never reject. */
      log: Logger;
    },
  ) {}

  /** Files held after the last scan that has answered. */
  get heldCount(): number {
    return this.held;
  }

  /**
   * One look at what `pids` (host pids of the sandbox) have open for
   * writing; settles when it has been made and its reports are out (or it
   * failed, which is logged). While one is under way, asking again returns it.
   */
  scan(pids: Iterable<number>): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.connect();
    this.scanning ??= this.settle(shared.ask({ op: 'scan', id: this.id, pids: [...pids] })).finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** A last look at `pids`; then reports what reached the limit and lets go of every file. */
  close(pids: Iterable<number> = []): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.connect();
    return this.settle(shared.ask({ op: 'close', id: this.id, pids: [...pids] }));
  }

  /** Tells the shared worker of this sandbox's dirs first (again when a worker that failed was replaced). */
  private connect(): void {
    const to = shared.worker();
    if (this.worker !== to) {
      this.worker = to;
      this.opened = shared.ask({ op: 'open', id: this.id, dirs: this.o.dirs, limitBytes: this.o.limitBytes });
    }
  }

  private async settle(pending: Promise<Reply>): Promise<void> {
    const opened = await this.opened;
    const reply = await pending;
    this.held = reply.held;
    for (const file of reply.reports) this.o.onLimit(file);
    const error = opened.error ?? reply.error;
    if (error) this.o.log.warn({ err: new Error(error) }, 'sandbox file check failed');
  }
}

/** The message of a file stopped at the file-size limit, for `LimitEvent`. */
export function fileLimitMessage(diskMib: number, file: WrittenFile): string {
  return `a file reached ${Math.round(file.size / 1024 / 1024)} MiB, the most one file may hold under config.sandbox.disk_mib (${diskMib}): its writer was stopped there (${basename(file.path)})`;
}
