import { mkdir } from 'node:fs/promises';
import { LiveSession, type SessionDirs } from '../agent/live-session.js';
import { sessionError, type StopReason } from '../agent/mapping.js';
import { planTools } from '../agent/tools.js';
import type { NetworkingConfig } from '../egress/policy.js';
import type { Logger } from '../logger.js';
import type { EnvironmentConfig } from '../resources/environment-config.js';
import type { SandboxProvider } from '../sandbox/provider.js';
import type { JsonObject } from '../store/store.js';
import type { Confirmations } from './confirmations.js';
import type { EventLog, SessionRef } from './event-log.js';
import { agentModelId, agentOf, budgetCentsOf, internalOf } from './session-body.js';
import type { Transcripts } from './transcripts.js';
import type { SessionWorkspaces } from './workspaces.js';

/** The part of the model gateway sessions use. */
export interface SessionGateway {
  /**
   * Opens the session's model endpoint and, given its environment's
   * `networking`, its egress proxy socket (the sandbox's only other way out).
   */
  openSession(
    sessionId: string,
    network?: { networking: NetworkingConfig | undefined; mcpServerUrls: string[] },
  ): Promise<{ token: string; socketPath: string; url: string; egressSocket?: string }>;
  closeSession(sessionId: string): Promise<void>;
  /** While on, the gateway answers the session's model calls itself (a warm sandbox's rehearsal). */
  rehearse(sessionId: string, on: boolean): void;
}

/** A sandbox with Claude Code started in it, waiting for its session's first message. */
export interface Booted {
  live: LiveSession;
  dirs: SessionDirs;
  providerName: string;
  executable: string | undefined;
}

export interface SessionBootOptions {
  providers: ReadonlyMap<string, SandboxProvider>;
  gateway: SessionGateway;
  events: EventLog;
  log: Logger;
  workspaces: SessionWorkspaces;
  transcripts: Transcripts;
  confirmations: Confirmations;
  maxTurns: number;
  defaultModel: string;
  /** The Claude Code executable a new process starts with (the version policy); undefined is the SDK's own. */
  claudeExecutable?: (() => Promise<string | undefined>) | undefined;
  /** The process ended, for whatever reason. */
  onEnded: (ref: SessionRef, live: LiveSession) => void;
  /** A turn ended (or paused for confirmations: `requires_action`). */
  onTurnEnded: (ref: SessionRef, stop: StopReason, config: EnvironmentConfig) => void;
}

/** Steps of one start that belong to its caller: restoring a workspace, placing files. */
export interface BootSteps {
  /** Once the directories are known, before they are created. */
  beforeStart?: (dirs: SessionDirs) => Promise<void>;
  /** Once they exist, before the sandbox starts. A failure fails the start. */
  prepare?: (dirs: SessionDirs) => Promise<void>;
}

/**
 * Boots a session: its directories, its gateway endpoint (model and egress),
 * its sandbox, and the Claude Code process in it, resumed from its
 * transcript when it has one. For a session that exists (a cold start) or
 * one a warm pool will hand out (its id preallocated, its record not yet
 * written).
 */
export class SessionBoot {
  constructor(private readonly o: SessionBootOptions) {}

  /** Resolves once the process waits for its first message. */
  async boot(ref: SessionRef, envId: string, config: EnvironmentConfig, body: JsonObject, steps: BootSteps = {}): Promise<Booted> {
    const { o } = this;
    const provider = o.providers.get(config.provider);
    if (!provider) throw new Error(`sandbox provider ${config.provider} is not available on this server`);
    const { lifecycle, networking } = config;
    if (lifecycle.pattern === 'shared' || lifecycle.pattern === 'long_running') o.workspaces.share(ref.id, envId);
    const dirs = o.workspaces.dirs(ref.id);
    await steps.beforeStart?.(dirs);
    await Promise.all([dirs.workspace, dirs.cwd, dirs.config, dirs.tmp].map((d) => mkdir(d, { recursive: true, mode: 0o777 })));
    const internal = internalOf(body);
    // A resume would materialize the store's copy over the local file that has the missed lines.
    if ((internal.transcript_gaps ?? []).length > 0 && !(await o.transcripts.repair(ref, dirs.config))) {
      throw new Error('the conversation transcript could not be saved to the store; try again');
    }
    await steps.prepare?.(dirs);
    const resume = await o.transcripts.resumable(ref.id, internal.claude_session_id, dirs.config);
    const agent = agentOf(body);
    const mcpServerUrls = (agent.mcp_servers ?? []).flatMap((m) => (typeof m.url === 'string' ? [m.url] : []));
    const endpoint = await o.gateway.openSession(ref.id, { networking, mcpServerUrls });
    let sandbox;
    try {
      sandbox = await provider.create({
        id: ref.id,
        workspaceId: ref.workspaceId,
        workspaceDir: dirs.workspace,
        configDir: dirs.config,
        tmpDir: dirs.tmp,
        gatewaySocket: endpoint.socketPath,
        gatewayUrl: endpoint.url,
        limits: config.limits,
        ...(endpoint.egressSocket ? { egressSocket: endpoint.egressSocket, egressLimited: networking.type === 'limited' } : {}),
        // What a limit stopped, for the user to read; the turn itself goes on (or ends as the CLI decides).
        onLimit: (event) =>
          void o.events
            .append(ref, [sessionError('unknown_error', `sandbox limit: ${event.message}`)])
            .catch((error: unknown) => o.log.warn({ err: error, sessionId: ref.id }, 'could not record a sandbox limit')),
      });
    } catch (error) {
      await o.gateway.closeSession(ref.id);
      throw error;
    }

    const executable = await this.executable();
    const preapproved = o.confirmations.preapproval(ref.id);
    const writeGuard = o.workspaces.writeGuard(ref.id);
    const live: LiveSession = new LiveSession({
      ref,
      log: o.log,
      events: o.events,
      sandbox,
      dirs,
      gatewayToken: endpoint.token,
      options: {
        model: agentModelId(agent) ?? o.defaultModel,
        system: typeof agent.system === 'string' ? agent.system : null,
        plan: planTools(agent.tools),
        maxTurns: o.maxTurns,
        ...remainingBudget(body),
        ...(executable ? { executable } : {}),
        ...(resume ? { resume } : {}),
        ...(preapproved ? { preapproved } : {}),
        ...(writeGuard ? { writeGuard } : {}),
      },
      ...(o.transcripts.mirror ? { sessionStore: o.transcripts.mirror } : {}),
      onEnded: (ended) => o.onEnded(ref, ended),
      onMirrorError: (_live, key, error) => void o.transcripts.missed(ref, key, error),
      onTurnEnded: (_live, stop) => o.onTurnEnded(ref, stop, config),
    });
    // Inside the caller's start gate, so a burst of starts queues instead of sharing the CPU.
    await live.ready();
    return { live, dirs, providerName: config.provider, executable };
  }

  /** The Claude Code executable new processes start with; undefined for the bundled one. */
  async executable(): Promise<string | undefined> {
    return this.o.claudeExecutable?.().catch((error: unknown) => {
      this.o.log.warn({ err: error }, 'no Claude Code version chosen; starting the bundled one');
      return undefined;
    });
  }
}

/** What is left of the session's budget for the next process, in USD. */
function remainingBudget(body: JsonObject): { maxBudgetUsd?: number } {
  const cents = budgetCentsOf(body);
  if (cents === undefined) return {};
  const spent = internalOf(body).cost_usd ?? 0;
  return { maxBudgetUsd: Math.max(Number(cents) / 100 - spent, 0.000001) };
}
