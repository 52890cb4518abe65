import type { Logger } from '../logger.js';
import type { SandboxIdentity } from './bwrap/args.js';
import { BwrapProvider } from './bwrap/provider.js';
import { GvisorProvider } from './gvisor/provider.js';
import { ProcessProvider } from './process/provider.js';
import type { SandboxProvider } from './provider.js';

export * from './provider.js';

/** Providers agenthost can run; the first is the default. */
export const sandboxProviderNames = ['bwrap', 'process', 'gvisor', 'docker'] as const;
export type SandboxProviderName = (typeof sandboxProviderNames)[number];

export interface SandboxProviderOptions {
  /**
   * A directory the provider owns: its registry of live sandboxes (so a
   * restarted server can destroy what a dead one left) and per-sandbox
   * scratch such as HOME. One server per runtime directory.
   */
  runtimeDir: string;
  log: Logger;
  /** Where sandboxes' cgroups are made (the cgroup mount, or a delegated v2 directory). Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Sandboxes' uid and gid (bwrap, gvisor and docker `uid`); unset for each provider's default. */
  sandboxUid?: number | undefined;
  /** Who bwrap sandboxes' processes are (`BwrapProviderOptions.identity`); unset for the provider's default. */
  bwrapIdentity?: SandboxIdentity;
  /** The docker provider's engine, image, and the host paths it mounts read-only (the Claude Code binaries). */
  docker?: { host: string; image: string | undefined; readOnlyPaths?: string[] };
}

/**
 * The named provider, not yet checked. The docker provider's client
 * (dockerode, with its gRPC and SSH dependencies: ~25 MiB) is imported only
 * when that provider is asked for.
 */
export async function createSandboxProvider(name: SandboxProviderName, options: SandboxProviderOptions): Promise<SandboxProvider> {
  switch (name) {
    case 'bwrap': {
      const { sandboxUid, bwrapIdentity, ...rest } = options;
      return new BwrapProvider({
        ...rest,
        ...(sandboxUid === undefined ? {} : { uid: sandboxUid, gid: sandboxUid }),
        ...(bwrapIdentity ? { identity: bwrapIdentity } : {}),
      });
    }
    case 'process':
      return new ProcessProvider(options);
    case 'gvisor': {
      const { sandboxUid, bwrapIdentity: _bwrapOnly, ...rest } = options;
      return new GvisorProvider({ ...rest, ...(sandboxUid === undefined ? {} : { uid: sandboxUid }) });
    }
    case 'docker': {
      const { DockerProvider } = await import('./docker/provider.js');
      return new DockerProvider({
        runtimeDir: options.runtimeDir,
        log: options.log,
        ...(options.docker?.host ? { host: options.docker.host } : {}),
        image: options.docker?.image ?? '',
        ...(options.sandboxUid === undefined ? {} : { uid: options.sandboxUid }),
        readOnlyPaths: options.docker?.readOnlyPaths ?? [],
      });
    }
  }
}
