import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
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

interface SharedWorker {
  worker: Worker;
  /** Requests sent and not answered yet; the worker keeps the process alive only while there are some. */
  waiting: Map<number, (reply: Reply) => void>;
}

/** The shared worker, started with the first sandbox that needs it (again after it failed). */
let shared: SharedWorker | undefined;
let nextSeq = 0;
let nextId = 0;

/**
 * The compiled build runs the worker's .js. The sources (under tsx) run its
 * .ts through tsx's `tsImport`: Node 20 does not apply `--import`ed loaders
 * to a worker's entry module.
 */
function startWorker(): Worker {
  // None of the server's own flags: the worker needs none, and some (--input-type, --test) would stop it.
  const options = { name: 'agenthost written files', execArgv: [] };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./written-files-worker.js', import.meta.url), options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./written-files-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((tsx) => tsx.tsImport(${entry}, ${JSON.stringify(import.meta.url)}))`, { ...options, eval: true });
}

function sharedWorker(): SharedWorker {
  if (shared) return shared;
  const worker = startWorker();
  worker.unref();
  const mine: SharedWorker = { worker, waiting: new Map() };
  worker.on('message', (reply: Reply) => {
    const done = mine.waiting.get(reply.seq);
    mine.waiting.delete(reply.seq);
    if (mine.waiting.size === 0) worker.unref();
    done?.(reply);
  });
  const fail = (error: Error): void => {
    if (shared === mine) shared = undefined;
    for (const done of mine.waiting.values()) done({ seq: -1, held: 0, reports: [], error: `the written-files worker stopped: ${error.message}` });
    mine.waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  shared = mine;
  return mine;
}

type Unsequenced = Request extends infer R ? (R extends Request ? Omit<R, 'seq'> : never) : never;

function ask(to: SharedWorker, request: Unsequenced): Promise<Reply> {
  const seq = nextSeq++;
  return new Promise((resolve) => {
    if (to.waiting.size === 0) to.worker.ref();
    to.waiting.set(seq, resolve);
    to.worker.postMessage({ ...request, seq });
  });
}

export class WrittenFiles {
  private readonly id = nextId++;
  private held = 0;
  private scanning: Promise<void> | undefined;
  private closed = false;
  /** The worker this sandbox's files are known to, and its answer to being told of them. */
  private worker: SharedWorker | undefined;
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
    this.scanning ??= this.settle(ask(this.connect(), { op: 'scan', id: this.id, pids: [...pids] })).finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** A last look at `pids`; then reports what reached the limit and lets go of every file. */
  close(pids: Iterable<number> = []): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.settle(ask(this.connect(), { op: 'close', id: this.id, pids: [...pids] }));
  }

  /** The shared worker, told of this sandbox's dirs first (again when a worker that failed was replaced). */
  private connect(): SharedWorker {
    const to = sharedWorker();
    if (this.worker !== to) {
      this.worker = to;
      this.opened = ask(to, { op: 'open', id: this.id, dirs: this.o.dirs, limitBytes: this.o.limitBytes });
    }
    return to;
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
