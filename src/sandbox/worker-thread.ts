import { Worker } from 'node:worker_threads';

/**
 * A worker thread shared by every sandbox for one kind of work that must
 * stay off the server's event loop (`written-files.ts`, `host-commands.ts`).
 * Requests carry a `seq` and each is answered by one reply with it. The
 * worker keeps the process alive only while requests wait; one that fails is
 * replaced by the next request, and what waited on it gets `failed`.
 */

/**
 * The compiled build runs the worker's .js. The sources (under tsx) run its
 * .ts through tsx's `tsImport`: Node 20 does not apply `--import`ed loaders
 * to a worker's entry module.
 */
function startWorker(name: string, from: string, module: string): Worker {
  // None of the server's own flags: the worker needs none, and some (--input-type, --test) would stop it.
  const options = { name, execArgv: [] };
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${module}.js`, from), options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL(`./${module}.ts`, from).href);
  return new Worker(`import(${tsx}).then((tsx) => tsx.tsImport(${entry}, ${JSON.stringify(from)}))`, { ...options, eval: true });
}

type Unsequenced<R> = R extends unknown ? Omit<R, 'seq'> : never;

export class SharedWorker<Request extends { seq: number }, Reply extends { seq: number }> {
  private current: { worker: Worker; waiting: Map<number, (reply: Reply) => void> } | undefined;
  private nextSeq = 0;

  /**
   * `module`: the worker's file name without extension, beside `from` (the
   * caller's `import.meta.url`). `failed`: the reply a request gets when the
   * worker stops before answering it.
   */
  constructor(
    private readonly o: { name: string; from: string; module: string; failed: (seq: number, message: string) => Reply },
  ) {}

  /** The worker requests go to now (started if none runs): a new one knows nothing of what earlier ones were told. */
  worker(): object {
    return this.started().worker;
  }

  ask(request: Unsequenced<Request>): Promise<Reply> {
    const to = this.started();
    const seq = this.nextSeq++;
    return new Promise((resolve) => {
      if (to.waiting.size === 0) to.worker.ref();
      to.waiting.set(seq, resolve);
      to.worker.postMessage({ ...request, seq });
    });
  }

  private started(): { worker: Worker; waiting: Map<number, (reply: Reply) => void> } {
    if (this.current) return this.current;
    const worker = startWorker(this.o.name, this.o.from, this.o.module);
    worker.unref();
    const mine = { worker, waiting: new Map<number, (reply: Reply) => void>() };
    worker.on('message', (reply: Reply) => {
      const done = mine.waiting.get(reply.seq);
      mine.waiting.delete(reply.seq);
      if (mine.waiting.size === 0) worker.unref();
      done?.(reply);
    });
    const fail = (error: Error): void => {
      if (this.current === mine) this.current = undefined;
      for (const [seq, done] of mine.waiting) done(this.o.failed(seq, `the ${this.o.name} worker stopped: ${error.message}`));
      mine.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.current = mine;
    return mine;
  }
}
