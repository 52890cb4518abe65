import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';

/**
 * Bridges from the host into a sandbox's network namespace: for one
 * (session, port), a socat that runs in the sandbox's network namespace but
 * the host's filesystem, listening on a Unix socket in a host directory the
 * sandbox cannot see and connecting to 127.0.0.1:port inside the sandbox.
 * Nothing else is reachable through it: the sandbox's namespace has only its
 * own loopback. Entering a namespace needs root (nsenter).
 *
 * No bridge outlives the server: each dies with it (a parent-death signal),
 * `closeAll` stops them on a clean stop, and `init` removes any an earlier
 * run on the same directory left.
 */
export class NetnsBridges {
  private readonly bridges = new Map<string, { netns: string; proc: ChildProcess; socket: string }>();
  private readonly hostNetns: Promise<string>;

  constructor(private readonly o: { dir: string; log: Logger }) {
    this.hostNetns = readlink('/proc/self/ns/net');
  }

  /** Removes what an earlier run left: sockets, and helpers still running for this directory. */
  async init(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    for (const pid of await helpersOf(this.o.dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    for (const name of await readdir(this.o.dir).catch(() => [] as string[])) await rm(join(this.o.dir, name), { force: true });
  }

  /**
   * A Unix socket reaching 127.0.0.1:`port` in the network namespace of the
   * sandbox whose outermost process is `hostPid`. Reused while that
   * namespace lives; replaced when the session has a new one.
   */
  async socketFor(sessionId: string, hostPid: number, port: number): Promise<string> {
    const netnsPid = await this.sandboxNetnsPid(hostPid);
    const netns = await readlink(`/proc/${netnsPid}/ns/net`);
    const key = `${sessionId}:${port}`;
    const existing = this.bridges.get(key);
    if (existing && existing.netns === netns && existing.proc.exitCode === null && existing.proc.signalCode === null && existsSync(existing.socket)) return existing.socket;
    this.stop(key);
    const socket = join(this.o.dir, `${sessionId}-${port}-${Date.now().toString(36)}.sock`);
    // setpriv asks the kernel to SIGKILL the bridge when this server dies, even by SIGKILL; the
    // death signal survives nsenter's exec of socat. (socat's per-connection children end with
    // their connection, whose other end was this server.)
    const proc = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'nsenter', '--target', String(netnsPid), '--net', '--', 'socat', `UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${port}`],
      { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    proc.once('error', (error) => this.o.log.warn({ err: error, sessionId, port }, 'preview bridge failed to start'));
    this.bridges.set(key, { netns, proc, socket });
    const deadline = Date.now() + 5_000;
    while (!existsSync(socket)) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        this.stop(key);
        throw new Error(`could not bridge into the sandbox's network: ${stderr.trim() || 'setpriv/nsenter/socat did not start'}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return socket;
  }

  /** Stops the bridges of a session (all ports, or one). */
  close(sessionId: string, port?: number): void {
    for (const key of [...this.bridges.keys()]) {
      if (port === undefined ? key.startsWith(`${sessionId}:`) : key === `${sessionId}:${port}`) this.stop(key);
    }
  }

  closeAll(): void {
    for (const key of [...this.bridges.keys()]) this.stop(key);
  }

  /** Session ids with a bridge, for sweeps. */
  sessions(): string[] {
    return [...new Set([...this.bridges.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
  }

  private stop(key: string): void {
    const bridge = this.bridges.get(key);
    if (!bridge) return;
    this.bridges.delete(key);
    // The listener and the children it forked per connection share its process group.
    if (bridge.proc.pid !== undefined) {
      try {
        process.kill(-bridge.proc.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    void rm(bridge.socket, { force: true });
  }

  /**
   * The first process under `hostPid` (itself included) that is in another
   * network namespace than agenthost's: a bridge never enters the host's.
   */
  private async sandboxNetnsPid(hostPid: number): Promise<number> {
    const host = await this.hostNetns;
    const queue = [hostPid];
    for (let seen = 0; queue.length > 0 && seen < 64; seen++) {
      const pid = queue.shift()!;
      const netns = await readlink(`/proc/${pid}/ns/net`).catch(() => null);
      if (netns && netns !== host) return pid;
      const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
      queue.push(...children.split(/\s+/).filter(Boolean).map(Number));
    }
    throw new Error('the session has no sandbox network of its own');
  }
}

/** Pids of bridge helpers (nsenter or socat) whose command line names `dir`. */
async function helpersOf(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('socat') && cmd.includes(`UNIX-LISTEN:${dir}/`)) out.push(Number(name));
  }
  return out;
}
