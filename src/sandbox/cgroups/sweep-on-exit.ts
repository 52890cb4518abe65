import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLayout } from './cgroup.js';

/**
 * What dies with the server, whatever the stage its sandboxes are in.
 *
 * bwrap's `--die-with-parent` and the `setpriv --pdeathsig` in front of it
 * (`../dies-with-server.ts`) kill bwrap when the server dies, but not the
 * sandbox's init while bwrap is still setting it up: the init is a fresh
 * clone, without a parent-death signal until it arms its own, and a bwrap
 * killed in that window leaves it to run the command with no parent. A
 * server SIGKILLed (or a test process ending) while sandboxes started left
 * them running for good: 13 of 15 kills of a process starting sandboxes back
 * to back on a loaded host. Every process of a sandbox is in its cgroup from
 * before bwrap (or runsc) starts, so one helper per runtime directory's
 * cgroup level empties them all instead: a shell reading a pipe whose only
 * writer is the server. When the server's end closes (it exited, however),
 * the read ends and the shell SIGKILLs every process of every sandbox under
 * the level, in rounds while any remain, then removes their directories.
 * It runs in its own process group, so a terminal's Ctrl-C reaches only the
 * server, which then destroys its sandboxes itself.
 */

const started = new Set<string>();
/** The helper's name in its command line, before the level's directories. */
const NAME = 'agenthost-sweep';

/** The helper's script; `$@` are the level's directories, the pids hierarchy's first. */
export const SWEEP_SCRIPT = [
  // Returns at EOF: the server is gone. It never writes.
  'cat >/dev/null',
  'i=0',
  'while [ $i -lt 100 ]; do',
  '  found=',
  '  for f in "$1"/*/cgroup.procs; do',
  '    [ -r "$f" ] || continue',
  '    while read -r pid; do found=1; kill -9 "$pid" 2>/dev/null; done <"$f"',
  '  done',
  '  [ -z "$found" ] && break',
  '  i=$((i+1)); sleep 0.02',
  'done',
  // A killed process leaves its cgroup only once it is gone: a few tries.
  'i=0',
  'while [ $i -lt 50 ]; do',
  '  left=',
  '  for d in "$@"; do for s in "$d"/*/; do [ -d "$s" ] && { rmdir "$s" 2>/dev/null || left=1; }; done; rmdir "$d" 2>/dev/null; done',
  '  [ -z "$left" ] && break',
  '  i=$((i+1)); sleep 0.1',
  'done',
].join('\n');

/**
 * Starts, once per level (`agenthost/<provider>-<hash>`) and process, the
 * helper that kills the level's sandboxes when this process exits.
 */
export function sweepOnServerExit(layout: CgroupLayout, level: string): void {
  const mounts = [layout.mounts.pids, ...new Set(Object.values(layout.mounts).filter((m) => m !== layout.mounts.pids))];
  const key = join(layout.mounts.pids, level);
  if (started.has(key)) return;
  const child = spawn('/bin/sh', ['-c', SWEEP_SCRIPT, NAME, ...mounts.map((m) => join(m, level))], {
    detached: true,
    env: {},
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // The helper does not keep the server's event loop alive (its idle pipe does not either).
  child.unref();
  child.stdin?.on('error', () => {});
  child.once('error', () => started.delete(key));
  child.once('exit', () => started.delete(key));
  started.add(key);
}

/**
 * The level directories (in every hierarchy) that a running helper watches:
 * those of live servers. A level no helper names belongs to a server that is
 * gone (or to one from before these helpers).
 */
export function watchedLevels(): Set<string> {
  const out = new Set<string>();
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[1] !== '-c' || argv[3] !== NAME) continue;
    for (const dir of argv.slice(4)) if (dir) out.add(dir);
  }
  return out;
}
