import { existsSync } from 'node:fs';

/**
 * bwrap's `--die-with-parent` arms the parent-death signal only once bwrap
 * runs, after the cgroup joins and prlimit in front of it: a server killed
 * in that window leaves a sandbox, and the Claude Code in it, running with
 * no parent. This closes the window from the fork on. setpriv arms SIGKILL
 * for the death of the server (kept across the execs that follow), then a
 * shell checks its parent is still the server: one that died before setpriv
 * got there has already been replaced as the parent, so nothing starts.
 * Without setpriv (util-linux) the command runs as it is.
 */

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Exit status of a start refused because the server is already gone. */
export const SERVER_GONE_EXIT = 125;

export function diesWithServer(host: { command: string; args: string[] }, serverPid = process.pid): { command: string; args: string[] } {
  if (!SETPRIV) return host;
  const script = `[ "$PPID" = ${serverPid} ] || exit ${SERVER_GONE_EXIT}\nexec "$0" "$@"`;
  return { command: SETPRIV, args: ['--pdeathsig', 'KILL', '--', '/bin/sh', '-c', script, host.command, ...host.args] };
}
