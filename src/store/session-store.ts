import type { SessionKey, SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import type { Store, TranscriptEntry, TranscriptKey } from './store.js';

/**
 * The Agent SDK's `SessionStore` over our Store, so Claude Code transcripts
 * live in the same database as the sessions they belong to and a session can
 * resume on a machine that never saw its local transcript files.
 *
 * Pass it as `query({ options: { sessionStore: new TranscriptStore(store) } })`.
 * The CLI still writes its JSONL files under `CLAUDE_CONFIG_DIR`; the SDK
 * mirrors every line here after the local write (`append`), and on `resume`
 * rebuilds the files from here (`load`, `listSubkeys`) before spawning.
 *
 * Keys: the SDK derives `projectKey` from the realpath of `options.cwd`
 * (non-alphanumerics as `-`), or takes `CLAUDE_CODE_PROJECT_DIR_NAME` from
 * `options.env` when that env also sets `CLAUDE_CONFIG_DIR`. A resume finds
 * its transcript only under the same project key it was written with.
 *
 * Not implemented: `listSessionSummaries` (optional; the SDK's
 * `listSessions({ sessionStore })` falls back to `listSessions` + `load`).
 */
export class TranscriptStore implements SessionStore {
  constructor(private readonly store: Store) {}

  /**
   * Idempotent per entry `uuid` (replays and SDK retries add nothing);
   * entries without one are always appended. The store keeps the batch's
   * order and does not interleave it with a concurrent batch.
   */
  async append(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    // The SDK hands over JSON-safe objects, one per JSONL line.
    await this.store.appendTranscript(transcriptKey(key), entries as TranscriptEntry[]);
  }

  /** Every entry in append order, deep-equal to what was appended; null when never written. */
  async load(key: SessionKey): Promise<SessionStoreEntry[] | null> {
    return (await this.store.loadTranscript(transcriptKey(key))) as SessionStoreEntry[] | null;
  }

  /** Main transcripts under the project key; `mtime` is epoch ms of the last append. */
  async listSessions(projectKey: string): Promise<Array<{ sessionId: string; mtime: number }>> {
    return this.store.listTranscriptSessions(projectKey);
  }

  /** Deletes one transcript; a main key takes its subagent transcripts with it. */
  async delete(key: SessionKey): Promise<void> {
    await this.store.deleteTranscript(transcriptKey(key));
  }

  /** Subpaths of the session's subagent transcripts, which resume materializes too. */
  async listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    return this.store.listTranscriptSubkeys({ projectKey: key.projectKey, sessionId: key.sessionId });
  }
}

function transcriptKey(key: SessionKey): TranscriptKey {
  const { projectKey, sessionId, subpath } = key;
  return subpath ? { projectKey, sessionId, subpath } : { projectKey, sessionId };
}
