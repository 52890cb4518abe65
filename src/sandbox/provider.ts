import type { Readable, Writable } from 'node:stream';

/**
 * A SandboxProvider turns a session's directories into an isolated place where
 * the Claude Code CLI and the tools it runs execute.
 *
 * Providers: `bwrap/` (default), `process/` (no isolation, development only).
 * Every provider passes the contract suite in `contract.ts`.
 */

export interface SandboxSpec {
  /** Stable id chosen by the caller (the session id); one sandbox per id. */
  id: string;
  workspaceId: string;
  /**
   * Host directories the sandbox may write. Each is mounted at the same
   * absolute path inside the sandbox, so paths the Agent SDK computes on the
   * host (cwd, CLAUDE_CONFIG_DIR, resume files) stay valid inside it.
   * Everything else the sandbox sees is read-only or absent.
   */
  workspaceDir: string;
  configDir: string;
  tmpDir: string;
  /**
   * Unix socket on the host where the model gateway listens for this session.
   * Inside the sandbox the model is reachable only through it, at the URL the
   * created sandbox reports as `modelBaseUrl`.
   */
  gatewaySocket: string;
  /** The gateway as a loopback TCP URL, for providers without network isolation. */
  gatewayUrl: string;
  /**
   * Unix socket of the session's egress proxy (`src/egress/`), the only
   * network a sandbox has besides the model. Isolated providers bridge it
   * into the sandbox and add HTTP_PROXY, HTTPS_PROXY (and lowercase) and
   * NO_PROXY for loopback to every process's environment. Absent: no
   * network at all.
   */
  egressSocket?: string;
  /**
   * True when the environment's networking is `limited`: a provider that
   * cannot confine its processes to the proxy (no network isolation)
   * rejects the sandbox instead of letting them around it.
   */
  egressLimited?: boolean;
  /**
   * Hard limits for everything the sandbox runs, together. Absent means
   * none (tests of other behaviour); the engine always passes them. A
   * provider that cannot enforce one of them rejects `create` with
   * `SandboxUnsupportedError` rather than run weaker.
   */
  limits?: SandboxLimits;
  /**
   * Called when a limit stopped something (a process killed, a fork or a
   * write refused), with a message for the session's user. Never throws
   * into the provider; may be called from timers after `create` returned.
   */
  onLimit?: (event: LimitEvent) => void;
}

/** What one sandbox may use. Enforced by cgroups or the provider's own mechanism. */
export interface SandboxLimits {
  /** Memory of all processes together (and tmpfs they fill), MiB. Over it the kernel kills the largest process. */
  memoryMib: number;
  /** CPU time, in CPUs (1.5 = one and a half cores' worth per period). */
  cpus: number;
  /** Processes and threads together; forks beyond it fail. Reaching it kills the sandbox's tools. */
  pids: number;
  /** Bytes written to the sandbox's writable places together (workspace, config, tmp, home), MiB. */
  diskMib: number;
  /** Wall-clock limit of each process the command starts (a tool), seconds; null for none. */
  toolTimeoutS: number | null;
}

export type LimitKind = 'memory' | 'pids' | 'disk' | 'tool_timeout' | 'output';

export interface LimitEvent {
  kind: LimitKind;
  /** One sentence for the user: what was stopped and which limit did it. */
  message: string;
}

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd: string;
  /**
   * The whole environment of the process (nothing is inherited from the
   * host). Entries whose value is undefined are left out.
   */
  env: Record<string, string | undefined>;
  /**
   * Stops the process when aborted: SIGTERM to its group, then SIGKILL after
   * the provider's grace period. The Agent SDK's `SpawnOptions.signal` fits
   * here; it fires only after the SDK's own stdin-EOF grace window.
   */
  signal?: AbortSignal;
}

/**
 * A process in a sandbox. Shaped like the Agent SDK's `SpawnedProcess` (so it
 * can be returned from `spawnClaudeCodeProcess`), plus stderr and pid.
 */
export interface SandboxProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Host pid of the outermost process (e.g. bwrap), for diagnostics. */
  readonly pid: number | undefined;
  readonly killed: boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  /** Signals the process's whole process group (the CLI and every tool it started). */
  kill(signal: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  off(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  off(event: 'error', listener: (error: Error) => void): this;
}

export interface Sandbox {
  readonly id: string;
  readonly provider: string;
  /** Base URL for ANTHROPIC_BASE_URL inside the sandbox. */
  readonly modelBaseUrl: string;
  /**
   * A writable directory for HOME, as a path valid inside the sandbox. It is
   * shared by the sandbox's processes, owned by the provider and deleted by
   * `destroy`: scratch for tools' caches and dotfiles, not for anything that
   * must outlive the sandbox (that belongs in the workspace or config dir).
   * The provider does not set HOME itself; the caller puts it in `env`.
   */
  readonly homeDir: string;
  /**
   * Starts a process inside the sandbox. Synchronous, like the Agent SDK's
   * `spawnClaudeCodeProcess`; a failure to start is reported as an 'error'
   * event or a non-zero exit. Throws if the sandbox has been destroyed.
   *
   * The process and everything it starts die when `destroy` is called, when
   * the process group is killed, and - for isolated providers - when the
   * agenthost server itself dies (even by SIGKILL).
   */
  spawn(request: SpawnRequest): SandboxProcess;
  /**
   * Kills every process in the sandbox and releases its resources. The
   * workspace directory is left in place (the caller owns it). Idempotent.
   */
  destroy(): Promise<void>;
}

export interface SandboxInfo {
  id: string;
  provider: string;
}

export interface SandboxProvider {
  readonly name: string;
  /** True when the sandbox isolates filesystem, processes and network. */
  readonly isolated: boolean;
  /**
   * Checks the host can run this provider (binaries present, kernel features).
   * Throws `SandboxUnavailableError` with a fix-it message when it cannot.
   */
  check(): Promise<void>;
  /**
   * Creates a sandbox. Throws if one with this id exists and its owning
   * server is alive; a leftover of a server that died is destroyed first.
   */
  create(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Sandboxes this provider has, from `create` until `destroy`, whether or
   * not processes run in them - including ones left by an earlier run of
   * agenthost that died, so start-up can destroy them. Providers keep this
   * registry under the runtime directory they are given; one server per
   * runtime directory. Providers with host cgroups also remove here the empty
   * cgroup directories earlier runs left (any runtime directory's).
   */
  list(): Promise<SandboxInfo[]>;
  /** Destroys a sandbox by id, whether or not this process created it. Idempotent. */
  destroy(id: string): Promise<void>;
}

/** The host cannot run this provider; the message says what is missing. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError';
}

/**
 * The sandbox asked for a setting this provider cannot enforce (a limit, a
 * network policy). Thrown by `create`, so nothing runs weaker than asked.
 */
export class SandboxUnsupportedError extends Error {
  override name = 'SandboxUnsupportedError';
  constructor(
    readonly provider: string,
    /** The setting, as the environment names it: `config.sandbox.memory_mib`, `config.networking`. */
    readonly setting: string,
    reason: string,
  ) {
    super(`sandbox provider ${provider} cannot enforce ${setting}: ${reason}`);
  }
}
