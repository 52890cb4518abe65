import {
  query,
  type CanUseTool,
  type HookCallback,
  type HookCallbackMatcher,
  type PermissionResult,
  type Query,
  type SDKMessage,
  type SDKUserMessage,
  type SessionKey,
  type SessionStore,
} from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logger.js';
import type { Sandbox } from '../sandbox/provider.js';
import type { EventDraft, EventLog, SessionRef } from '../sessions/event-log.js';
import { withInternal, withRuntime } from '../sessions/session-body.js';
import type { Json, JsonObject } from '../store/store.js';
import { InputQueue } from './input-queue.js';
import { idleDraft, mapAssistantContent, mapResult, mapToolResult, sessionError, type ContentBlockLike, type ResultLike, type StopReason } from './mapping.js';
import type { ToolPlan } from './tools.js';

export interface SessionDirs {
  /** The session's own files (config, tmp); removed when the session is deleted. */
  root: string;
  /** The sandbox's writable workspace; shared by every session of a shared environment. */
  workspace: string;
  /** Where the agent starts: the workspace itself, or its own directory in a shared one. */
  cwd: string;
  config: string;
  tmp: string;
}

export interface LiveSessionOptions {
  model: string;
  system: string | null;
  plan: ToolPlan;
  maxTurns: number;
  /** Remaining budget for this process's lifetime, USD. */
  maxBudgetUsd?: number;
  /** Claude Code session id to resume; its transcript must be in the session's config dir (`materializeTranscript`). */
  resume?: string;
  /**
   * Checks a file write (Write, Edit, NotebookEdit) before it happens: returns
   * a reason to refuse it, or null. Used to coordinate shared workspaces.
   */
  writeGuard?: (path: string, cwd: string) => string | null;
  /**
   * A call the user approved while no process was waiting for the answer
   * (the session hibernated or the server restarted). The first matching
   * call (same tool, same input) is allowed without asking again.
   */
  preapproved?: { claudeName: string; input: JsonObject };
  /** The Claude Code executable to run; absent, the Agent SDK's bundled one. */
  executable?: string;
}

export interface LiveSessionDeps {
  ref: SessionRef;
  log: Logger;
  events: EventLog;
  sandbox: Sandbox;
  dirs: SessionDirs;
  gatewayToken: string;
  options: LiveSessionOptions;
  /** Called once when the Claude Code process has ended, for whatever reason. */
  onEnded: (live: LiveSession) => void;
  /**
   * Where Claude Code's transcript is mirrored (our Store). With it, a
   * session resumes on any machine that reaches the database, even without
   * its local config dir.
   */
  sessionStore?: SessionStore;
  /** Called after each turn's idle event is committed (not for requires_action pauses). */
  onTurnEnded?: (live: LiveSession, stop: StopReason) => void;
  /**
   * Called when the SDK gave up mirroring a batch of transcript lines to
   * `sessionStore` (after its retries): the store's copy of `key` now misses
   * lines the local file has.
   */
  onMirrorError?: (live: LiveSession, key: SessionKey, error: string) => void;
}

/** What a rehearsal sends; the gateway answers it (see `rehearse`). */
export const REHEARSAL_PROMPT = 'This is a rehearsal before a session starts. Reply with one word.';

/** A rehearsal in progress: the process's messages go here, not to the event log. */
interface Rehearsal {
  /** The rehearsed conversation's id (its first init). */
  conversation?: string;
  /** Whether Claude Code announced a fresh conversation (the /clear took). */
  reset: boolean;
  onResult: (result: ResultLike) => void;
  onEnd: () => void;
}

interface PendingAsk {
  sdkToolUseId: string;
  eventId?: string;
  resolve?: (result: PermissionResult) => void;
  announced: boolean;
}

/**
 * One session's running Claude Code process: a long-lived streaming-input
 * `query()` inside the session's sandbox. It turns queued user messages into
 * turns, SDK messages into events, and `always_ask` tool calls into
 * `requires_action` pauses that `confirm()` resumes.
 */
export class LiveSession {
  private readonly input = new InputQueue<SDKUserMessage>();
  private readonly q: Query;
  private readonly pending: Json[] = [];
  private readonly toolEventIds = new Map<string, string>();
  private readonly asks = new Map<string, PendingAsk>();
  private turnActive = false;
  /** When the last turn ended (or the process started); null while a turn runs. */
  private idleSinceMs: number | null = Date.now();
  /** When the turn paused for tool confirmations; null when it is not waiting. */
  private waitingSinceMs: number | null = null;
  /** Set by a quiet close: the process ends without ending the turn in the log. */
  private quiet = false;
  private preapproved: LiveSessionOptions['preapproved'];
  /** When this process (and its sandbox) started, or was handed to its session from a warm pool. */
  private startedMs = Date.now();
  private interrupted = false;
  /** Host pid of the sandboxed Claude Code process (for the provider, e.g. bwrap's own pid). */
  private processPid: number | undefined;
  private ended = false;
  private consumer: Promise<void>;
  private readonly log: Logger;
  private rehearsal: Rehearsal | null = null;
  private version: string | null = null;

  constructor(private readonly deps: LiveSessionDeps) {
    this.log = deps.log.child({ sessionId: deps.ref.id, workspaceId: deps.ref.workspaceId });
    this.preapproved = deps.options.preapproved;
    const { options, dirs, sandbox } = deps;
    this.q = query({
      prompt: this.input,
      options: {
        cwd: dirs.cwd,
        env: this.environment(),
        ...this.hookOptions(),
        model: options.model,
        systemPrompt: options.system
          ? { type: 'preset', preset: 'claude_code', append: options.system }
          : { type: 'preset', preset: 'claude_code' },
        tools: options.plan.tools,
        // With nothing to ask, allow rules decide everything. Otherwise every
        // call goes through canUseTool (allow rules would bypass it), which
        // allows the always_allow tools at once.
        ...(options.plan.askTools.size === 0 ? { allowedTools: options.plan.allowedTools } : { canUseTool: this.canUseTool }),
        permissionMode: 'default',
        settingSources: [],
        maxTurns: options.maxTurns,
        ...(options.maxBudgetUsd !== undefined ? { maxBudgetUsd: options.maxBudgetUsd } : {}),
        // Not `resume`: with a sessionStore the SDK would rebuild the transcript in a
        // directory the sandbox cannot see (see materializeTranscript); the engine has
        // put it in the session's config dir.
        ...(options.resume ? { extraArgs: { resume: options.resume } } : {}),
        ...(options.executable ? { pathToClaudeCodeExecutable: options.executable } : {}),
        ...(deps.sessionStore ? { sessionStore: deps.sessionStore, sessionStoreFlush: 'eager' as const } : {}),
        spawnClaudeCodeProcess: (spawn) => {
          const child = sandbox.spawn({
            command: spawn.command,
            args: spawn.args,
            cwd: spawn.cwd ?? dirs.cwd,
            env: spawn.env,
            ...(spawn.signal ? { signal: spawn.signal } : {}),
          });
          child.stderr.on('data', (chunk: Buffer) => this.log.debug({ stderr: chunk.toString('utf8').slice(0, 2000) }, 'claude stderr'));
          this.processPid = child.pid;
          return child;
        },
      },
    });
    this.consumer = this.consume();
  }

  get startedAtMs(): number {
    return this.startedMs;
  }

  /**
   * Resolves once Claude Code has started and answered the SDK's initialize
   * request (it then waits for its first message), or once the process has
   * ended, whichever comes first; check `isEnded` after. Never rejects.
   */
  async ready(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([this.q.initializationResult().then(noop, noop), this.consumer.then(noop, noop), timeout]);
    clearTimeout(timer);
  }

  /**
   * A process started ahead of its session (a warm pool) is now the
   * session's: its lifetime and idle clocks start from here.
   */
  adopted(): void {
    this.startedMs = Date.now();
    if (!this.turnActive) this.idleSinceMs = this.startedMs;
  }

  /**
   * Runs one turn before any session owns this process (a warm pool's
   * member), then clears it: a message whose model call the gateway answers
   * itself (the caller turns that on), then `/clear`. Claude Code's first turn
   * runs much of its code for the first time, about 100 ms of CPU on two
   * cores; rehearsed, the session's own first turn reaches the model about
   * as fast as a second turn does. The session gets the fresh conversation
   * `/clear` starts, which opens with Claude Code's record of that command.
   *
   * Resolves with the rehearsed conversation's id: its transcript, local and
   * mirrored, is the caller's to delete. Rejects when the process ends, a
   * step fails or times out, or `/clear` did not start a new conversation;
   * the process must not serve a session then.
   */
  async rehearse(timeoutMs = 30_000): Promise<string> {
    if (this.ended || this.turnActive || this.rehearsal) throw new Error('only an idle process that has not run a turn can rehearse');
    const rehearsal: Rehearsal = { reset: false, onResult: noop, onEnd: noop };
    // Left in place when the rehearsal fails: whatever the process says next is ignored until it is closed.
    this.rehearsal = rehearsal;
    const step = (text: string) =>
      new Promise<ResultLike>((resolve, reject) => {
        if (this.ended) return reject(new Error('Claude Code exited during the rehearsal'));
        const timer = setTimeout(() => reject(new Error(`the rehearsal took longer than ${timeoutMs} ms`)), timeoutMs);
        rehearsal.onResult = (result) => {
          clearTimeout(timer);
          resolve(result);
        };
        rehearsal.onEnd = () => {
          clearTimeout(timer);
          reject(new Error('Claude Code exited during the rehearsal'));
        };
        this.input.push({ type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null });
      });
    const turn = await step(REHEARSAL_PROMPT);
    if (turn.subtype !== 'success' || turn.is_error) throw new Error(`the rehearsed turn failed (${turn.subtype})`);
    const cleared = await step('/clear');
    if (cleared.subtype !== 'success' || !rehearsal.reset || !rehearsal.conversation) throw new Error('/clear did not start a new conversation');
    this.rehearsal = null;
    return rehearsal.conversation;
  }

  /** The Claude Code version the process announced (its first init, a rehearsal's included); null before. */
  get cliVersion(): string | null {
    return this.version;
  }

  /** Host pid of the sandboxed process (undefined until it has started). */
  get pid(): number | undefined {
    return this.processPid;
  }

  get ref(): SessionRef {
    return this.deps.ref;
  }

  /** True while a turn runs (including while it waits for a tool confirmation). */
  get busy(): boolean {
    return this.turnActive;
  }

  /**
   * Since when the session has been idle, for the idle clock: null while a
   * turn runs, including model time, tools and waiting for a confirmation.
   */
  get idleSince(): number | null {
    return this.turnActive ? this.waitingSinceMs : this.idleSinceMs;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Event ids of `agent.tool_use` events waiting for `user.tool_confirmation`. */
  waitingToolUses(): string[] {
    return [...this.asks.values()].filter((a) => a.eventId && a.resolve).map((a) => a.eventId!);
  }

  /** Content queued but not yet sent to Claude Code; empties the queue. */
  drainPending(): Json[] {
    return this.pending.splice(0, this.pending.length);
  }

  /** Queues user message content; starts a turn unless one is running (then it runs next). */
  async enqueue(content: Json[]): Promise<void> {
    this.pending.push(...content);
    if (!this.turnActive) await this.startTurn();
  }

  /** Resolves a waiting tool call. Returns false when that tool use is not waiting. */
  async confirm(toolUseEventId: string, allow: boolean, denyMessage?: string | null): Promise<boolean> {
    const ask = [...this.asks.values()].find((a) => a.eventId === toolUseEventId && a.resolve);
    if (!ask?.resolve) return false;
    const resolve = ask.resolve;
    this.asks.delete(ask.sdkToolUseId);
    this.waitingSinceMs = null;
    await this.deps.events.append(this.deps.ref, [{ type: 'session.status_running' }]);
    resolve(
      allow
        ? { behavior: 'allow', toolUseID: ask.sdkToolUseId }
        : { behavior: 'deny', message: denyMessage || 'The user denied this tool call.', toolUseID: ask.sdkToolUseId },
    );
    return true;
  }

  /** Stops the running turn, including a running tool. No-op when idle. */
  async interrupt(): Promise<void> {
    if (!this.turnActive) return;
    this.interrupted = true;
    for (const ask of this.asks.values()) ask.resolve?.({ behavior: 'deny', message: 'Interrupted by the user.', interrupt: true });
    this.asks.clear();
    try {
      await this.q.interrupt();
    } catch (error) {
      this.log.warn({ err: error }, 'interrupt failed; closing the process');
      this.q.close();
    }
  }

  /**
   * Ends the process: input closed, query closed, sandbox destroyed.
   * Idempotent. A `quiet` close (hibernation) leaves the log as it is: a turn
   * waiting for confirmations stays waiting, to be answered after a restore.
   */
  async close(options: { quiet?: boolean } = {}): Promise<void> {
    if (options.quiet) this.quiet = true;
    if (!this.input.isEnded) this.input.end();
    if (!this.quiet) {
      for (const ask of this.asks.values()) ask.resolve?.({ behavior: 'deny', message: 'The session was stopped.', interrupt: true });
    }
    this.asks.clear();
    try {
      this.q.close();
    } catch {
      // Already closed.
    }
    await this.consumer.catch(() => undefined);
    await this.deps.sandbox.destroy();
  }

  private environment(): Record<string, string> {
    const { dirs, sandbox, gatewayToken } = this.deps;
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: sandbox.homeDir,
      LANG: 'C.UTF-8',
      CLAUDE_CONFIG_DIR: dirs.config,
      // The transcript's key in the store: the session, wherever its files live.
      CLAUDE_CODE_PROJECT_DIR_NAME: this.deps.ref.id,
      CLAUDE_CODE_TMPDIR: dirs.tmp,
      TMPDIR: dirs.tmp,
      ANTHROPIC_BASE_URL: sandbox.modelBaseUrl,
      // A per-session token: the gateway swaps it for the real credential.
      ANTHROPIC_API_KEY: gatewayToken,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_AGENT_SDK_CLIENT_APP: 'agenthost',
    };
  }

  private async startTurn(): Promise<void> {
    if (this.pending.length === 0 || this.ended) return;
    const content = this.pending.splice(0, this.pending.length);
    this.turnActive = true;
    this.idleSinceMs = null;
    this.waitingSinceMs = null;
    this.interrupted = false;
    await this.deps.events.append(this.deps.ref, [{ type: 'session.status_running' }]);
    this.input.push({
      type: 'user',
      message: { role: 'user', content: content as never },
      parent_tool_use_id: null,
    });
  }

  /**
   * PreToolUse hooks. An `always_ask` tool is asked for every call, even one
   * Claude Code would run unasked (a read-only Bash command); shared
   * workspaces check writes.
   */
  private hookOptions(): { hooks?: { PreToolUse: HookCallbackMatcher[] } } {
    const { plan, writeGuard } = this.deps.options;
    const preToolUse: HookCallbackMatcher[] = [];
    if (plan.askTools.size > 0) preToolUse.push({ matcher: [...plan.askTools].join('|'), hooks: [this.askFirst] });
    if (writeGuard) preToolUse.push({ matcher: 'Write|Edit|MultiEdit|NotebookEdit', hooks: [this.guardWrite] });
    return preToolUse.length > 0 ? { hooks: { PreToolUse: preToolUse } } : {};
  }

  private readonly askFirst: HookCallback = async () => ({
    hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'ask', permissionDecisionReason: 'this tool is always_ask for this agent' },
  });

  private readonly guardWrite: HookCallback = async (input) => {
    const guard = this.deps.options.writeGuard;
    if (!guard || input.hook_event_name !== 'PreToolUse') return {};
    const toolInput = (input.tool_input ?? {}) as { file_path?: unknown; notebook_path?: unknown };
    const path = typeof toolInput.file_path === 'string' ? toolInput.file_path : toolInput.notebook_path;
    if (typeof path !== 'string') return {};
    const reason = guard(path, input.cwd || this.deps.dirs.cwd);
    if (!reason) return {};
    return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: reason } };
  };

  private readonly canUseTool: CanUseTool = (toolName, input, { toolUseID, signal }) => {
    if (!this.deps.options.plan.askTools.has(toolName)) {
      return Promise.resolve(
        this.deps.options.plan.allowedTools.includes(toolName)
          ? { behavior: 'allow', toolUseID }
          : { behavior: 'deny', message: `The tool ${toolName} is not enabled for this agent.` },
      );
    }
    const approved = this.preapproved;
    if (approved && approved.claudeName === toolName && JSON.stringify(approved.input) === JSON.stringify(input)) {
      this.preapproved = undefined;
      return Promise.resolve({ behavior: 'allow', toolUseID });
    }
    return new Promise<PermissionResult>((resolve) => {
      const ask = this.asks.get(toolUseID) ?? { sdkToolUseId: toolUseID, announced: false };
      ask.resolve = resolve;
      this.asks.set(toolUseID, ask);
      signal.addEventListener('abort', () => {
        if (this.asks.get(toolUseID) === ask) this.asks.delete(toolUseID);
        resolve({ behavior: 'deny', message: 'Aborted.' });
      }, { once: true });
      void this.announceAsks();
    });
  };

  /** Emits `requires_action` once an ask has both its event and its pending callback. */
  private async announceAsks(): Promise<void> {
    const ready = [...this.asks.values()].filter((a) => a.eventId && a.resolve && !a.announced);
    if (ready.length === 0) return;
    for (const a of ready) a.announced = true;
    this.waitingSinceMs = Date.now();
    const stop: StopReason = { type: 'requires_action', event_ids: this.waitingToolUses() };
    await this.deps.events.append(this.deps.ref, [idleDraft(stop)]);
  }

  private async consume(): Promise<void> {
    let sawResult = false;
    try {
      for await (const message of this.q) {
        sawResult = message.type === 'result';
        await this.handle(message);
      }
    } catch (error) {
      // Limits (max turns, budget) throw here after their result; anything
      // else is the process failing.
      if (!sawResult || this.turnActive) {
        this.log.warn({ err: error }, 'claude code process failed');
        await this.failTurn(`the agent process failed: ${(error as Error).message}`);
      }
    } finally {
      this.ended = true;
      this.rehearsal?.onEnd();
      if (this.turnActive && !this.quiet) await this.failTurn('the agent process exited');
      this.deps.onEnded(this);
    }
  }

  private async failTurn(message: string): Promise<void> {
    if (!this.turnActive) return;
    this.turnActive = false;
    this.idleSinceMs = Date.now();
    await this.deps.events
      .append(this.deps.ref, [sessionError('unknown_error', message, 'exhausted'), idleDraft({ type: 'retries_exhausted' })])
      .then(() => this.deps.onTurnEnded?.(this, { type: 'retries_exhausted' }))
      .catch((error: unknown) => this.log.error({ err: error }, 'could not record a failed turn'));
  }

  private async handle(message: SDKMessage): Promise<void> {
    if (this.rehearsal) return this.handleRehearsal(this.rehearsal, message);
    switch (message.type) {
      case 'system':
        if (message.subtype === 'init') {
          const init = message as { session_id: string; claude_code_version?: string };
          this.version ??= init.claude_code_version ?? null;
          await this.deps.events.update(this.deps.ref, (s) => ({
            body: withInternal(withRuntime(s.body, { cli_version: init.claude_code_version ?? null }), { claude_session_id: init.session_id }),
          }));
        } else if (message.subtype === 'mirror_error') {
          this.deps.onMirrorError?.(this, message.key, message.error);
        }
        return;
      case 'assistant': {
        if (message.parent_tool_use_id) return;
        const mapped = mapAssistantContent(message.message.content as ContentBlockLike[], this.deps.options.plan.askTools);
        if (mapped.length === 0) return;
        const { events } = await this.deps.events.append(this.deps.ref, mapped.map((m) => m.draft));
        mapped.forEach((m, i) => {
          if (!m.toolUse) return;
          const eventId = events[i]!.id;
          this.toolEventIds.set(m.toolUse.sdkToolUseId, eventId);
          if (this.deps.options.plan.askTools.has(m.toolUse.claudeName)) {
            const ask = this.asks.get(m.toolUse.sdkToolUseId) ?? { sdkToolUseId: m.toolUse.sdkToolUseId, announced: false };
            ask.eventId = eventId;
            this.asks.set(m.toolUse.sdkToolUseId, ask);
          }
        });
        await this.announceAsks();
        return;
      }
      case 'user': {
        if (message.parent_tool_use_id) return;
        const content = message.message.content;
        if (!Array.isArray(content)) return;
        const drafts: EventDraft[] = [];
        for (const block of content as ContentBlockLike[]) {
          if (block.type !== 'tool_result' || !block.tool_use_id) continue;
          const eventId = this.toolEventIds.get(block.tool_use_id);
          if (eventId) drafts.push(mapToolResult(block, eventId));
        }
        if (drafts.length > 0) await this.deps.events.append(this.deps.ref, drafts);
        return;
      }
      case 'result':
        await this.endTurn(message as unknown as ResultLike);
        return;
      default:
        return;
    }
  }

  /** A rehearsal's messages belong to no session: they are only watched. */
  private handleRehearsal(rehearsal: Rehearsal, message: SDKMessage): void {
    if (message.type === 'system' && message.subtype === 'init') {
      rehearsal.conversation ??= message.session_id;
      this.version ??= message.claude_code_version ?? null;
    }
    else if (message.type === 'conversation_reset') rehearsal.reset = true;
    else if (message.type === 'result') rehearsal.onResult(message as unknown as ResultLike);
  }

  private async endTurn(result: ResultLike): Promise<void> {
    const mapped = this.interrupted ? { stopReason: { type: 'end_turn' } as StopReason } : mapResult(result, this.deps.options.maxTurns);
    const drafts = mapped.error ? [mapped.error, idleDraft(mapped.stopReason)] : [idleDraft(mapped.stopReason)];
    this.turnActive = false;
    this.idleSinceMs = Date.now();
    this.waitingSinceMs = null;
    this.interrupted = false;
    this.asks.clear();
    await this.deps.events.append(this.deps.ref, drafts, (s) => ({ body: withInternal(s.body, { cost_usd: result.total_cost_usd ?? 0 }) }));
    this.deps.onTurnEnded?.(this, mapped.stopReason);
    // Limits end the process after their result; the engine hands what is
    // still queued to the next process. Otherwise the next turn starts here.
    if (result.subtype !== 'error_max_turns' && result.subtype !== 'error_max_budget_usd') await this.startTurn();
  }
}

function noop(): void {}
