import type { Logger } from '../../logger.js';
import type { LimitEvent } from '../provider.js';
import { hostCommand } from '../host-commands.js';
import { runscArgs, runscPs, runscTasks, type Runsc, type RunscProcess } from './runsc.js';

/**
 * Tools inside gVisor are not host processes: the watchdog finds them with
 * `runsc ps` and kills them with `runsc kill --pid`. A container's init (the
 * command spawn ran, pid 1) and the bridges (socat children of pid 1) are
 * never tools. Ages are counted from when a process was first seen, so a
 * tool is killed between `timeoutS` and `timeoutS` plus one poll: up to 2 s
 * more for one that started in a container running no tools at its last poll.
 *
 * Each `runsc ps` is a process spawned from the server (a fork of it, which
 * holds up its event loop for milliseconds) and a Go program's start-up: a
 * container is polled every `intervalMs` only while it runs tools, and every
 * `quietIntervalMs` while it runs none - idle sessions' sandboxes polled four
 * times a second took both of this host's cores between them.
 */
export class GvisorTools {
  private timer: NodeJS.Timeout | undefined;
  private readonly firstSeen = new Map<string, number>();
  /** Containers seen near their process limit: if one dies, the fork bomb took its CLI too. */
  private readonly crowded = new Set<string>();
  /** When each container is polled next. */
  private readonly nextPollAt = new Map<string, number>();
  private busy = false;

  constructor(
    private readonly o: {
      runsc: Runsc;
      containers: () => string[];
      timeoutS: number | null;
      /** RLIMIT_NPROC inside (threads, not processes): a container that reaches it is a fork bomb, and its tools are killed. */
      pids: number;
      report: (e: LimitEvent) => void;
      log: Logger;
      /** How often a container running tools is polled. Default 250. */
      intervalMs?: number;
      /** How often a container running no tools is polled. Default 2000. */
      quietIntervalMs?: number;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private static tools(procs: RunscProcess[]): RunscProcess[] {
    return procs.filter((p) => p.pid !== 1 && !(p.ppid === 1 && p.cmd === 'socat') && !procs.some((b) => b.pid === p.ppid && b.ppid === 1 && b.cmd === 'socat'));
  }

  /**
   * SIGKILL to `pids` of a container. runsc kills one pid per call, and a
   * fork bomb leaves hundreds: the calls are made by one xargs, four at a
   * time, because each start of a process blocks the thread that starts it
   * (hundreds in a row stalled the event loop for seconds, when they were
   * started from it; see host-commands.ts).
   */
  private async kill(container: string, pids: number[]): Promise<void> {
    if (pids.length === 0) return;
    const args = runscArgs(this.o.runsc, ['kill', '--pid', '{}', container, 'KILL']);
    // xargs exits non-zero when a tool was gone before its kill: only one that did not run is worth a word.
    const r = await hostCommand('xargs', ['-P', '4', '-I', '{}', this.o.runsc.path, ...args], { input: `${pids.join('\n')}\n` });
    if (r.code === null && r.signal === null) this.o.log.warn({ err: new Error(r.error) }, 'could not kill gVisor tools');
  }

  /**
   * A container's process ended. When it had been filling its process
   * table, the CLI (whose threads count against RLIMIT_NPROC too) most
   * likely died of it: say so.
   */
  exited(container: string, code: number | null): void {
    if (this.crowded.delete(container) && code !== 0) {
      this.o.report({
        kind: 'pids',
        message: `the sandbox ran into its limit of ${this.o.pids} processes (config.sandbox.pids) and its process was killed`,
      });
    }
  }

  /**
   * Kills every tool of `containers` (default: those running now) in rounds
   * while new ones appear: a fork bomb's (one container), a disk fill's (all).
   * A container started meanwhile is not one of them: its start-up would
   * look like tools.
   */
  async killAll(containers = this.o.containers()): Promise<void> {
    for (let round = 0; round < 10; round++) {
      let found = 0;
      for (const container of containers) {
        const tools = GvisorTools.tools(await runscPs(this.o.runsc, container).catch(() => []));
        found += tools.length;
        await this.kill(container, tools.map((t) => t.pid));
      }
      if (found === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const seen = new Set<string>();
      const containers = this.o.containers();
      for (const container of this.nextPollAt.keys()) if (!containers.includes(container)) this.nextPollAt.delete(container);
      for (const container of containers) {
        // Only a container that ran no tools at its last poll waits: it has no tool ages to keep.
        if (now < (this.nextPollAt.get(container) ?? 0)) continue;
        const procs = await runscPs(this.o.runsc, container).catch(() => []);
        const tools = GvisorTools.tools(procs);
        // While it runs tools (or crowds its limit), polled again at the next tick.
        if (tools.length > 0 || procs.length >= this.o.pids / 4) this.nextPollAt.delete(container);
        else this.nextPollAt.set(container, now + (this.o.quietIntervalMs ?? 2_000));
        // The limit counts threads, and the CLI's own take a few dozen of
        // them: a fork bomb can stall with fewer processes than the limit.
        // Forks fail at the limit and their processes come and go, so a
        // sample rarely shows it exactly: within 3% of it counts.
        let tasks = procs.length;
        if (procs.length >= this.o.pids / 4) {
          this.crowded.add(container);
          tasks = await runscTasks(this.o.runsc, container).catch(() => procs.length);
        }
        if (tasks >= this.o.pids - Math.max(2, Math.ceil(this.o.pids / 32))) {
          // Reported first: under a bomb the kill rounds take seconds, and
          // the tool (and the turn) ends with the first of them.
          this.o.report({
            kind: 'pids',
            message: `the sandbox reached its limit of ${this.o.pids} processes (config.sandbox.pids): further processes were refused and its tool processes were killed`,
          });
          await this.killAll([container]);
          continue;
        }
        if (this.o.timeoutS === null) continue;
        const expired: RunscProcess[] = [];
        for (const t of tools) {
          const key = `${container}/${t.pid}`;
          seen.add(key);
          const first = this.firstSeen.get(key) ?? now;
          this.firstSeen.set(key, first);
          if (now - first >= this.o.timeoutS * 1000) expired.push(t);
        }
        void this.kill(container, expired.map((t) => t.pid));
        for (const t of expired) {
          this.o.report({ kind: 'tool_timeout', message: `a tool ran longer than config.sandbox.tool_timeout_s (${this.o.timeoutS} s) and was killed: ${t.cmd}` });
        }
      }
      for (const key of this.firstSeen.keys()) if (!seen.has(key)) this.firstSeen.delete(key);
    } catch (error) {
      this.o.log.warn({ err: error }, 'gvisor tool watchdog failed');
    } finally {
      this.busy = false;
    }
  }
}
