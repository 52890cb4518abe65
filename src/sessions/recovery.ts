import { readdir } from 'node:fs/promises';
import { idleDraft, sessionError } from '../agent/mapping.js';
import type { Logger } from '../logger.js';
import type { SandboxProvider } from '../sandbox/provider.js';
import type { Json, JsonObject, SessionRecord, Store } from '../store/store.js';
import type { EventLog } from './event-log.js';
import { inputCommitted, redeliveryContent, undeliveredMessages } from './redeliver.js';
import { internalOf, runtimeOf, withInternal, withRuntime } from './session-body.js';
import type { Transcripts } from './transcripts.js';
import type { SessionWorkspaces } from './workspaces.js';

export interface RecoveryOptions {
  store: Store;
  events: EventLog;
  log: Logger;
  providers: ReadonlyMap<string, SandboxProvider>;
  workspaces: SessionWorkspaces;
  transcripts: Transcripts;
  /** Applies a tool confirmation the last server committed but never gave its agent. */
  confirm: (session: SessionRecord, toolUseEventId: string, allow: boolean, denyMessage: string | null) => Promise<boolean>;
}

/**
 * After a restart: what an earlier server left behind is cleaned up, turns it
 * was running end with an error the user can read, and input it committed
 * but never gave Claude Code reaches the agent (confirmations at once,
 * messages with the session's next one; see redeliver.ts).
 */
export class Recovery {
  constructor(private readonly o: RecoveryOptions) {}

  /**
   * Start-up recovery: sandboxes an earlier run left behind are destroyed and
   * turns it was running end with an error the user can read.
   */
  async recover(): Promise<void> {
    const { o } = this;
    for (const provider of o.providers.values()) {
      for (const info of await provider.list().catch(() => [])) {
        o.log.info({ sandbox: info.id, provider: provider.name }, 'destroying a sandbox left by an earlier run');
        await provider.destroy(info.id).catch((error: unknown) => o.log.warn({ err: error }, 'could not destroy a leftover sandbox'));
      }
    }
    await this.removeOrphanedFiles();
    const unapplied: Array<{ session: SessionRecord; confirmation: JsonObject }> = [];
    for (const session of await o.store.listSessionsByStatus(['idle'])) {
      const state = runtimeOf(session.body).sandbox_state;
      const hadSandbox = state === 'live' || state === 'starting' || state === 'standby';
      if (!hadSandbox && !inputCommitted(session.body)) continue;
      // Input committed after the last turn began or ended never reached Claude Code: the server died
      // while the sandbox started, or before it began to. An applied confirmation is followed by
      // session.status_running (a live process's) or a turn (a restored one's).
      const recent = (
        await o.store.listEvents(session.id, { limit: 100, order: 'desc', types: ['user.message', 'user.tool_confirmation', 'session.status_idle', 'session.status_running'] })
      ).items;
      const end = recent.findIndex((e) => e.type !== 'user.tool_confirmation');
      for (const e of recent.slice(0, end === -1 ? recent.length : end).reverse()) unapplied.push({ session, confirmation: e.body });
      if (recent[end]?.type === 'user.message') {
        await this.endInterrupted(session, 'agenthost restarted before your message reached the agent; send a message to continue, and it is delivered with that one');
      } else {
        await o.events.update(session, (s) => ({
          body: withInternal(hadSandbox ? withRuntime(s.body, { sandbox_state: 'destroyed' }) : s.body, { input_committed: undefined }),
        }));
      }
    }
    for (const session of await o.store.listSessionsByStatus(['running', 'rescheduling'])) {
      await this.endInterrupted(session, 'agenthost restarted while this turn was running; send a message to continue');
    }
    // Answers the user gave are applied as if the server had not died: to a restored process.
    for (const { session, confirmation: c } of unapplied) {
      o.log.info({ sessionId: session.id, toolUseId: c.tool_use_id }, 'applying a tool confirmation a restart kept from the agent');
      void o.confirm(session, String(c.tool_use_id), c.result === 'allow', typeof c.deny_message === 'string' ? c.deny_message : null).catch((error: unknown) =>
        o.log.error({ err: error, sessionId: session.id }, 'could not apply a tool confirmation after the restart'),
      );
    }
  }

  /**
   * The content of the next turn after a restart: the messages the crash
   * kept from Claude Code, then the new content. Clears the mark.
   */
  async withRedelivery(session: SessionRecord, content: Json[]): Promise<Json[]> {
    const current = (await this.o.store.getSession(session.workspaceId, session.id)) ?? session;
    const internal = internalOf(current.body);
    const through = internal.redeliver_through;
    if (typeof through !== 'number') return content;
    const events = await this.o.store.listEvents(session.id, { limit: 10_000, order: 'asc', types: ['user.message', 'session.status_idle'] });
    // The process just started from the transcript in its config dir (materialized from the store); read it there.
    const claudeSessionId = internal.claude_session_id;
    const transcript =
      typeof claudeSessionId === 'string' ? await this.o.transcripts.readLocal(this.o.workspaces.dirs(session.id).config, session.id, claudeSessionId) : null;
    const missed = undeliveredMessages(events.items, transcript, through);
    await this.o.events.update(session, (s) => ({ body: withInternal(s.body, { redeliver_through: undefined }) }));
    if (missed.length > 0) this.o.log.info({ sessionId: session.id, messages: missed.length }, 'redelivering messages a restart kept from Claude Code');
    return [...redeliveryContent(missed), ...content];
  }

  /**
   * Removes the directories, and mirrored transcripts, of sessions that do
   * not exist: warm sandboxes nobody had claimed when the last server died,
   * or a deletion it did not finish.
   */
  private async removeOrphanedFiles(): Promise<void> {
    const names = await readdir(this.o.workspaces.sessionsRoot).catch(() => [] as string[]);
    if (names.length === 0) return;
    const existing = await this.o.store.existingSessionIds(names);
    for (const id of names) {
      if (existing.has(id)) continue;
      this.o.log.info({ sessionId: id }, 'removing the files of a session that does not exist (an unclaimed warm sandbox)');
      await this.removeOwnFiles(id).catch((error: unknown) => this.o.log.warn({ err: error, sessionId: id }, 'could not remove leftover session files'));
    }
  }

  private async removeOwnFiles(id: string): Promise<void> {
    await this.o.workspaces.removeOwn(id);
    await this.o.transcripts.deleteAll(id);
  }

  /**
   * Ends a turn the last server did not finish, with an error the user can
   * read, and marks the log up to here for redelivery: messages in it that
   * Claude Code's transcript lacks go with the next message (see redeliver.ts).
   */
  private async endInterrupted(session: SessionRecord, message: string): Promise<void> {
    const { events } = await this.o.events.append(session, [sessionError('unknown_error', message, 'exhausted'), idleDraft({ type: 'retries_exhausted' })], (s) => ({
      // A hibernated session's snapshot is still its workspace: the next start restores it.
      body: runtimeOf(s.body).sandbox_state === 'hibernated' ? s.body : withRuntime(s.body, { sandbox_state: 'destroyed' }),
    }));
    const through = events.at(-1)!.seq;
    await this.o.events.update(session, (s) => ({ body: withInternal(s.body, { redeliver_through: through, input_committed: undefined }) }));
  }
}
