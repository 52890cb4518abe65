import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { silentLogger } from '../../logger.js';
import { runSandboxContract } from '../contract.js';
import { GvisorProvider } from './provider.js';

/**
 * Processes inside gVisor are not host processes, so the contract's checks
 * for survivors look inside every container runsc still has.
 */
let stateRoot = '';
function sleepsWith(token: string): number[] {
  const runsc = (args: string[]): string => {
    try {
      return execFileSync('runsc', ['--root', stateRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  const found: number[] = [];
  for (const container of runsc(['list', '--quiet']).split('\n').filter(Boolean)) {
    const lines = runsc(['exec', '--user', '0:0', container, '/bin/sh', '-c', 'for f in /proc/[0-9]*; do printf "%s " "${f#/proc/}"; tr "\\0" " " < $f/cmdline; echo; done']);
    for (const line of lines.split('\n')) {
      const [pid, argv0, arg] = line.trim().split(' ');
      if (argv0 && /(^|\/)sleep$/.test(argv0) && arg?.includes(token)) found.push(Number(pid));
    }
  }
  return found;
}

runSandboxContract(
  'gvisor',
  ({ runtimeDir }) => {
    stateRoot = join(runtimeDir, 'gvisor', 'state');
    return new GvisorProvider({ runtimeDir, log: silentLogger() });
  },
  {
    isolated: true,
    sleepsWith,
    virtualCpuTime: "gVisor's own CPU accounting inside does not see the host cgroup's throttling; the quota is the host cgroup's cpu.cfs_quota_us, as for bwrap",
  },
);
