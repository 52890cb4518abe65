import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionKey } from '@anthropic-ai/claude-agent-sdk';
import { sessionError } from '../agent/mapping.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { materializeTranscript, readLocalTranscript, type RepairableSessionStore } from '../store/session-store.js';
import type { Store } from '../store/store.js';
import type { EventLog, SessionMutation, SessionRef } from './event-log.js';
import { internalOf, withInternal } from './session-body.js';

export interface TranscriptsOptions {
  store: Store;
  events: EventLog;
  log: Logger;
  metrics: Metrics;
  /** Where Claude Code transcripts are mirrored; without it they stay on local disk only. */
  mirror: RepairableSessionStore | undefined;
}

/**
 * Claude Code's transcripts as the store keeps them. The Agent SDK mirrors
 * each line to the store as the CLI writes it; when a batch cannot be saved
 * (after the SDK's retries) the session records which transcript misses
 * lines (`internal.transcript_gaps`), and the store's copy is rewritten from
 * the local file before that file goes (hibernation) or a resume would
 * overwrite it (the next start).
 */
export class Transcripts {
  constructor(private readonly o: TranscriptsOptions) {}

  /** The store the SDK mirrors to, if any. */
  get mirror(): RepairableSessionStore | undefined {
    return this.o.mirror;
  }

  /** The SDK gave up saving a batch of the session's transcript lines: the gap is recorded. */
  async missed(ref: SessionRef, key: SessionKey, error: string): Promise<void> {
    this.o.metrics.transcriptMirror({ outcome: 'missed' });
    this.o.log.error({ sessionId: ref.id, transcript: key, error }, 'the store missed transcript lines; they are rewritten from the local file later');
    await this.o.events
      .update(ref, (s) => {
        const gaps = internalOf(s.body).transcript_gaps ?? [];
        if (gaps.some((k) => sameTranscript(k, key))) return {};
        return { body: withInternal(s.body, { transcript_gaps: [...gaps, storedKey(key)] }) };
      })
      .catch((e: unknown) => this.o.log.error({ err: e, sessionId: ref.id }, 'could not record a transcript the store missed lines of'));
  }

  /**
   * Rewrites the store's copy of each transcript the session's mirror missed
   * lines of, from the local file under `configDir`. True when nothing is
   * missing any more. A store that fails keeps the gap recorded (the caller
   * keeps the local file); a local file that is gone (another machine)
   * cannot repair it, which the user is told. Never rejects.
   */
  async repair(ref: SessionRef, configDir: string): Promise<boolean> {
    return this.repairOrThrow(ref, configDir).catch((error: unknown) => {
      this.o.log.error({ err: error, sessionId: ref.id }, 'could not repair transcripts');
      return false;
    });
  }

  private async repairOrThrow(ref: SessionRef, configDir: string): Promise<boolean> {
    const mirror = this.o.mirror;
    const session = await this.o.store.getSession(ref.workspaceId, ref.id);
    const gaps = session ? (internalOf(session.body).transcript_gaps ?? []) : [];
    if (!mirror || gaps.length === 0) return true;
    const left: SessionKey[] = [];
    let lost = 0;
    for (const key of gaps) {
      try {
        const entries = await readLocalTranscript(configDir, key);
        if (entries === null) {
          lost++;
          this.o.metrics.transcriptMirror({ outcome: 'failed' });
          this.o.log.error({ sessionId: ref.id, transcript: key }, 'the store misses transcript lines and the local file is gone');
          continue;
        }
        await mirror.replace(key, entries);
        this.o.metrics.transcriptMirror({ outcome: 'repaired' });
        this.o.log.info({ sessionId: ref.id, transcript: key, entries: entries.length }, 'transcript rewritten from the local file');
      } catch (error) {
        left.push(key);
        this.o.metrics.transcriptMirror({ outcome: 'failed' });
        this.o.log.error({ err: error, sessionId: ref.id, transcript: key }, 'could not rewrite a transcript from the local file');
      }
    }
    const record: SessionMutation = (s) => ({ body: withInternal(s.body, { transcript_gaps: left.map(storedKey) }) });
    if (lost === 0) await this.o.events.update(ref, record);
    else {
      const message = 'part of this session’s conversation history could not be saved; the agent may not remember some earlier turns';
      await this.o.events.append(ref, [sessionError('unknown_error', message)], record);
    }
    return left.length === 0;
  }

  /**
   * The Claude Code conversation to resume, if there is one, with its
   * transcript written from the store into the session's config dir. A
   * server killed after Claude Code announced its session id but before any
   * line of its transcript reached the store leaves an id with nothing
   * behind it; resuming that fails every turn ("No conversation found"), so
   * the session starts a new conversation instead, and the messages the
   * crash kept from the old one are redelivered (see redeliver.ts).
   */
  async resumable(sessionId: string, claudeSessionId: string | undefined, configDir: string): Promise<string | undefined> {
    if (typeof claudeSessionId !== 'string') return undefined;
    const mirror = this.o.mirror;
    if (!mirror) return claudeSessionId;
    if (await materializeTranscript(mirror, { projectKey: sessionId, sessionId: claudeSessionId }, configDir)) return claudeSessionId;
    this.o.log.warn({ sessionId, claudeSessionId }, 'no stored transcript for this conversation; starting a new one');
    return undefined;
  }

  /** The text of a conversation's local transcript, or null when there is none. */
  readLocal(configDir: string, projectKey: string, claudeSessionId: string): ReturnType<typeof readLocalTranscript> {
    return readLocalTranscript(configDir, { projectKey, sessionId: claudeSessionId });
  }

  /** Deletes one conversation, local and mirrored (a warm sandbox's rehearsal). */
  async deleteConversation(configDir: string, projectKey: string, claudeSessionId: string): Promise<void> {
    await rm(join(configDir, 'projects', projectKey, `${claudeSessionId}.jsonl`), { force: true });
    await this.o.mirror?.delete?.({ projectKey, sessionId: claudeSessionId });
  }

  /** Deletes every mirrored transcript kept under a session id. */
  async deleteAll(projectKey: string): Promise<void> {
    const mirror = this.o.mirror;
    if (!mirror?.listSessions || !mirror.delete) return;
    for (const t of await mirror.listSessions(projectKey)) await mirror.delete({ projectKey, sessionId: t.sessionId });
  }
}

function sameTranscript(a: SessionKey, b: SessionKey): boolean {
  return a.projectKey === b.projectKey && a.sessionId === b.sessionId && (a.subpath ?? '') === (b.subpath ?? '');
}

/** A transcript's key as stored: without an empty subpath. */
function storedKey(key: SessionKey): SessionKey {
  return { projectKey: key.projectKey, sessionId: key.sessionId, ...(key.subpath ? { subpath: key.subpath } : {}) };
}
