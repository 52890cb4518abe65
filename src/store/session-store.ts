import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SessionKey, SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import { chownTree } from '../sandbox/ownership.js';
import type { Store, TranscriptEntry, TranscriptKey } from './store.js';

/** A SessionStore whose copy of a transcript can be rewritten from the local file, when a mirror missed lines. */
export interface RepairableSessionStore extends SessionStore {
  replace(key: SessionKey, entries: SessionStoreEntry[]): Promise<void>;
}

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
export class TranscriptStore implements RepairableSessionStore {
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

  /** Makes the stored transcript exactly `entries` (its subagent transcripts stay). */
  async replace(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    await this.store.replaceTranscript(transcriptKey(key), entries as TranscriptEntry[]);
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

/**
 * The entries of the JSONL file Claude Code keeps for `key` under its
 * config dir (where a resume materializes it too), or null when there is
 * none. A last line cut short by a killed process is left out.
 */
export async function readLocalTranscript(configDir: string, key: SessionKey): Promise<SessionStoreEntry[] | null> {
  const file = transcriptFile(configDir, key);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const lines = text.split('\n');
  const entries: SessionStoreEntry[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      entries.push(JSON.parse(line) as SessionStoreEntry);
    } catch (error) {
      if (i === lines.length - 1) return;
      throw new Error(`${file}:${i + 1} is not JSON: ${(error as Error).message}`);
    }
  });
  return entries;
}

/**
 * Makes the JSONL files Claude Code resumes from under `configDir` hold the
 * whole conversation, main and subagent transcripts; the files become the
 * config dir's owner's (the sandbox user's). False when neither the store nor
 * the config dir has the main transcript.
 *
 * Each file is the store's copy, unless the local file already there begins
 * with exactly the store's entries and goes on: Claude Code writes a line
 * before the SDK mirrors it, in batches, so a server killed in between leaves
 * the local file ahead of the store. Then the local file stays, and its lines
 * the store lacks are appended to the store (idempotent per entry `uuid`), so
 * the next machine to resume finds them too. A local file that differs any
 * other way (stale, or from another conversation) is replaced.
 *
 * The Agent SDK does this itself for `resume` with a `sessionStore`, but
 * into a new directory under the server's temp dir that it then expects
 * Claude Code's CLAUDE_CONFIG_DIR to be. A sandbox sees only the session's
 * own config dir, and mirror frames from any other dir are dropped: every
 * line a resumed process wrote was missing from the store. So agenthost
 * materializes the files where the sandbox looks, and passes `--resume`
 * itself.
 */
export async function materializeTranscript(store: SessionStore, key: { projectKey: string; sessionId: string }, configDir: string): Promise<boolean> {
  const subpaths = (await store.listSubkeys?.(key)) ?? [];
  let found = false;
  for (const k of [key as SessionKey, ...subpaths.map((subpath) => ({ ...key, subpath }))]) {
    const file = transcriptFile(configDir, k);
    const stored = (await store.load(k)) ?? [];
    const local = await readLocalTranscript(configDir, k).catch(() => null);
    if (local && local.length > 0 && startsWith(local, stored)) {
      if (local.length > stored.length) await store.append(k, local.slice(stored.length));
    } else if (stored.length > 0) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, stored.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    } else {
      continue;
    }
    if (!k.subpath) found = true;
  }
  if (!found) return false;
  const owner = await stat(configDir);
  if (owner.uid !== process.getuid?.()) await chownTree([join(configDir, 'projects')], owner.uid, owner.gid);
  return true;
}

/** Whether `entries` begins with `prefix`, entry by entry (by `uuid` where both have one; a store may reorder an object's keys). */
function startsWith(entries: SessionStoreEntry[], prefix: SessionStoreEntry[]): boolean {
  if (prefix.length > entries.length) return false;
  return prefix.every((p, i) => {
    const e = entries[i]!;
    if (typeof p.uuid === 'string' && typeof e.uuid === 'string') return p.uuid === e.uuid;
    return canonical(p) === canonical(e);
  });
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The JSONL file Claude Code keeps for `key` under its config dir. Throws for a key that would name a path outside it. */
function transcriptFile(configDir: string, key: SessionKey): string {
  // Only names under the config dir: each part one path segment, never . or ..
  const parts = [key.projectKey.replace(/\//g, '\\'), key.sessionId.replace(/\//g, '\\'), ...(key.subpath ? key.subpath.split('/') : [])];
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\'))) throw new Error(`not a transcript key: ${JSON.stringify(key)}`);
  return join(configDir, 'projects', key.projectKey, key.subpath ? join(key.sessionId, `${key.subpath}.jsonl`) : `${key.sessionId}.jsonl`);
}
