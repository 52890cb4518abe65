/**
 * The Store holds everything agenthost must not lose: workspaces and their API
 * keys, agents (with every version), environments, sessions and each session's
 * append-only event log, and the Claude Code transcripts a session resumes from.
 *
 * Implementations: `sqlite/` (embedded default) and `postgres/`. Both pass the
 * one contract suite in `contract.ts`. Every method is async, even over
 * better-sqlite3. Adapters own their connections; no driver type leaks out.
 *
 * Records hold API-facing bodies as plain JSON values (`Json`); the service
 * layer owns their shape. The store owns ids' uniqueness, ordering (`seq`) and
 * atomicity.
 *
 * Timestamps are ISO 8601 strings. The store keeps them as instants and hands
 * them back in `Date#toISOString()` form (UTC, milliseconds, `Z`), whatever
 * offset they were written with; the `created*` filters compare instants.
 *
 * Errors: a write that would duplicate an id (or a key hash) throws
 * `StoreConflictError`; a write that references a row that does not exist
 * (workspace, agent version, environment, session) throws `StoreNotFoundError`.
 * Lookups return null or false instead of throwing.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface WorkspaceRecord {
  id: string;
  name: string;
  createdAt: string;
}

/** What a key may do: everything, or only read (GET requests). */
export type ApiKeyScope = 'full' | 'read_only';

export interface ApiKeyRecord {
  id: string;
  workspaceId: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  hash: string;
  /** The first characters of the key, for display (`ak-abc123…`). */
  prefix: string;
  /** Keys made before scopes existed are `full`. */
  scope: ApiKeyScope;
  createdAt: string;
  revokedAt: string | null;
}

/** Fields every listable resource carries. */
export interface ListedRecord {
  id: string;
  workspaceId: string;
  /**
   * Store-assigned, strictly increasing across the table (insertion order).
   * Cursors are built from it; it never changes after insert.
   */
  seq: number;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}

export interface AgentRecord extends ListedRecord {
  /** Current version, starting at 1. */
  version: number;
  /** The agent as the API shows it, minus id/type/timestamps/version. */
  body: JsonObject;
}

export interface AgentVersionRecord {
  agentId: string;
  version: number;
  body: JsonObject;
  createdAt: string;
}

export interface EnvironmentRecord extends ListedRecord {
  body: JsonObject;
}

export type SessionStatus = 'idle' | 'running' | 'rescheduling' | 'terminated';

export interface SessionRecord extends ListedRecord {
  agentId: string;
  agentVersion: number;
  environmentId: string;
  status: SessionStatus;
  /**
   * Everything else the API shows (agent snapshot, title, metadata, budget,
   * resources, usage, stats, runtime). Replaced whole by `updateSession`.
   */
  body: JsonObject;
}

export interface EventRecord {
  id: string;
  sessionId: string;
  /** Position in the session's log: 1, 2, 3, ... with no gaps. */
  seq: number;
  type: string;
  /** The full event as the API shows it (including `id`, `type`, `processed_at`). */
  body: JsonObject;
  createdAt: string;
}

export interface NewEvent {
  id: string;
  type: string;
  body: JsonObject;
  createdAt: string;
}

/** Cursor paging over `seq`. `after`/`before` are exclusive bounds. */
export interface PageQuery {
  limit: number;
  afterSeq?: number;
  beforeSeq?: number;
  order: 'asc' | 'desc';
  /** Default false: rows with `archivedAt` set are left out. */
  includeArchived?: boolean;
  createdGte?: string;
  createdLte?: string;
  createdGt?: string;
  createdLt?: string;
}

export interface Page<T> {
  items: T[];
  /** True when more items exist beyond the last one in the direction of travel. */
  hasMore: boolean;
}

export interface SessionQuery extends PageQuery {
  agentId?: string;
  agentVersion?: number;
  /** Any of these; absent or empty means any status. */
  statuses?: SessionStatus[];
}

export interface EventQuery {
  limit: number;
  afterSeq?: number;
  beforeSeq?: number;
  order: 'asc' | 'desc';
  /** Any of these; absent or empty means any type. */
  types?: string[];
  createdGte?: string;
  createdLte?: string;
  createdGt?: string;
  createdLt?: string;
}

/**
 * Names one Claude Code transcript, as the Agent SDK's `SessionKey` does.
 * `projectKey` scopes transcripts (the SDK's default is the sanitized cwd);
 * `sessionId` is Claude Code's session id, not an agenthost session id.
 */
export interface TranscriptKey {
  projectKey: string;
  sessionId: string;
  /**
   * Absent (or empty) for the main transcript; for a subagent's, an opaque
   * path such as `subagents/agent-<id>`.
   */
  subpath?: string;
}

/**
 * One JSONL line of a transcript. Opaque to the store: kept as JSON and
 * handed back deep-equal. A string `uuid`, when present, identifies it.
 */
export type TranscriptEntry = JsonObject;

/**
 * What a request with an `Idempotency-Key` got, kept so a retry gets the same
 * answer instead of doing the work twice. Keys are scoped to a workspace.
 */
export interface IdempotencyRecord {
  workspaceId: string;
  key: string;
  /**
   * Fingerprint of the request (e.g. SHA-256 of method, path and body): a
   * retry carries the same one; another request reusing the key does not.
   */
  requestHash: string;
  /** Replayed to retries. Opaque to the store. */
  response: JsonObject;
  createdAt: string;
  /** From this instant on the key is forgotten and may be used afresh. */
  expiresAt: string;
}

/** Options of `appendEvents` beyond the patch. */
export interface AppendOptions {
  /**
   * Saves this record in the same transaction as the events. If the key is
   * already held (not expired at `createdAt`), nothing is written and
   * `StoreIdempotencyConflictError` carries the held record.
   */
  idempotency?: IdempotencyRecord;
}

/** Patch applied to a session together with appended events, atomically. */
export interface SessionPatch {
  status?: SessionStatus;
  body?: JsonObject;
  updatedAt: string;
  archivedAt?: string | null;
}

export interface Store {
  /** Applies pending numbered migrations. Idempotent; safe on every start. */
  migrate(): Promise<void>;
  /** Cheap liveness probe of the backing database. */
  ping(): Promise<void>;
  /** Closes connections. The store is unusable afterwards. Idempotent. */
  close(): Promise<void>;

  // Workspaces and keys
  /** Returns the workspace with this name, creating it if absent. Idempotent. */
  ensureWorkspace(name: string, id: string, createdAt: string): Promise<WorkspaceRecord>;
  getWorkspace(id: string): Promise<WorkspaceRecord | null>;
  /** Every workspace, ordered by name byte by byte (operator commands such as `agenthost keys list`). */
  listWorkspaces(): Promise<WorkspaceRecord[]>;
  /** Stores the key with its scope; the scope never changes afterwards. */
  createApiKey(key: ApiKeyRecord): Promise<void>;
  /** Finds a key that is not revoked by its hash, with its scope. */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]>;
  /**
   * Sets revokedAt once (revoking again keeps the first time). Returns false
   * when the workspace has no key with this id.
   */
  revokeApiKey(workspaceId: string, id: string, at: string): Promise<boolean>;

  // Agents: every update writes a new version row; old versions stay readable.
  /** Inserts version 1. `seq` and `version` in the argument are ignored; seq is assigned. */
  createAgent(agent: Omit<AgentRecord, 'seq'>): Promise<AgentRecord>;
  getAgent(workspaceId: string, id: string): Promise<AgentRecord | null>;
  getAgentVersion(workspaceId: string, id: string, version: number): Promise<AgentVersionRecord | null>;
  /**
   * Writes `body` as version `expectedVersion + 1`. Returns null when the
   * agent does not exist in this workspace; throws `StoreConflictError` when
   * the current version is not `expectedVersion` (someone else updated it).
   */
  updateAgent(workspaceId: string, id: string, expectedVersion: number, body: JsonObject, at: string): Promise<AgentRecord | null>;
  listAgents(workspaceId: string, query: PageQuery): Promise<Page<AgentRecord>>;
  /** Sets archivedAt once; archiving again returns the record unchanged. */
  archiveAgent(workspaceId: string, id: string, at: string): Promise<AgentRecord | null>;

  // Environments
  createEnvironment(env: Omit<EnvironmentRecord, 'seq'>): Promise<EnvironmentRecord>;
  getEnvironment(workspaceId: string, id: string): Promise<EnvironmentRecord | null>;
  updateEnvironment(workspaceId: string, id: string, body: JsonObject, at: string): Promise<EnvironmentRecord | null>;
  listEnvironments(workspaceId: string, query: PageQuery): Promise<Page<EnvironmentRecord>>;
  archiveEnvironment(workspaceId: string, id: string, at: string): Promise<EnvironmentRecord | null>;
  /** Returns false when absent. Throws `StoreConflictError` while sessions that are not deleted reference it. */
  deleteEnvironment(workspaceId: string, id: string): Promise<boolean>;

  // Sessions and their event logs
  /**
   * Inserts the session and its initial events (seqs 1..n) in one transaction.
   * The agent version and environment must exist in the session's workspace,
   * else `StoreNotFoundError` and nothing is written.
   */
  createSession(session: Omit<SessionRecord, 'seq'>, initialEvents: NewEvent[]): Promise<{ session: SessionRecord; events: EventRecord[] }>;
  getSession(workspaceId: string, id: string): Promise<SessionRecord | null>;
  listSessions(workspaceId: string, query: SessionQuery): Promise<Page<SessionRecord>>;
  /** Sessions in any of these statuses, across workspaces, in seq order (start-up recovery). An empty list finds none. */
  listSessionsByStatus(statuses: SessionStatus[]): Promise<SessionRecord[]>;
  /** Which of these session ids exist, in any workspace (start-up cleanup of leftover files). */
  existingSessionIds(ids: string[]): Promise<Set<string>>;
  /** Applies the patch; returns null when absent. */
  updateSession(workspaceId: string, id: string, patch: SessionPatch): Promise<SessionRecord | null>;
  /** Deletes the session and its whole event log. Returns false when absent. */
  deleteSession(workspaceId: string, id: string): Promise<boolean>;

  /**
   * Appends events to a session's log, assigning consecutive `seq`s, and
   * applies `patch` to the session in the same transaction. Concurrent
   * appends to one session never interleave seqs or leave gaps. Returns the
   * stored events in order. Throws `StoreNotFoundError` if the session is gone.
   *
   * This and the two event reads below take no workspace: callers establish
   * that the session belongs to the caller's workspace (`getSession`) first.
   *
   * With `options.idempotency`, two requests racing with one key cannot both
   * append: the loser throws `StoreIdempotencyConflictError` with the
   * winner's record (compare `requestHash`: equal means replay its response).
   */
  appendEvents(
    sessionId: string,
    events: NewEvent[],
    patch?: SessionPatch,
    options?: AppendOptions,
  ): Promise<{ events: EventRecord[]; session: SessionRecord }>;
  listEvents(sessionId: string, query: EventQuery): Promise<Page<EventRecord>>;
  getEvent(sessionId: string, id: string): Promise<EventRecord | null>;

  // Idempotency keys
  /**
   * Saves the record unless its key is held: insert-if-absent, atomic across
   * processes. A held key that has expired by `record.createdAt` is replaced.
   * Returns the record that holds the key if that is not this one, else
   * null. Throws `StoreNotFoundError` for an unknown workspace.
   */
  saveIdempotentResponse(record: IdempotencyRecord): Promise<IdempotencyRecord | null>;
  /** The record holding the key at instant `at`; null when absent or expired. */
  getIdempotentResponse(workspaceId: string, key: string, at: string): Promise<IdempotencyRecord | null>;
  /** Deletes records expired at `at` (`expiresAt <= at`). Returns how many. */
  pruneIdempotencyKeys(at: string): Promise<number>;

  // Claude Code transcripts (the Agent SDK's SessionStore, see session-store.ts)
  /**
   * Appends entries to a transcript in order, creating it if absent (even
   * with no entries), and stamps its mtime. Idempotent per entry `uuid`: an
   * entry whose uuid the transcript already holds (or that repeats one
   * earlier in the batch) is skipped; entries without a uuid are always
   * appended. Concurrent appends to one transcript do not interleave.
   */
  appendTranscript(key: TranscriptKey, entries: TranscriptEntry[]): Promise<void>;
  /**
   * Makes one transcript (not its subagent transcripts) hold exactly
   * `entries`, in one transaction, creating it if absent; a uuid repeated in
   * `entries` is kept once. For a mirror that missed lines: the local file
   * Claude Code wrote has them all.
   */
  replaceTranscript(key: TranscriptKey, entries: TranscriptEntry[]): Promise<void>;
  /** The transcript's entries in append order; null when it was never written. */
  loadTranscript(key: TranscriptKey): Promise<TranscriptEntry[] | null>;
  /**
   * Main transcripts under a project key, in no particular order. `mtime`
   * is integer epoch milliseconds of the last append, by the store's clock.
   */
  listTranscriptSessions(projectKey: string): Promise<{ sessionId: string; mtime: number }[]>;
  /** Subpaths of a session's subagent transcripts, sorted; the main one is not listed. */
  listTranscriptSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]>;
  /**
   * Deletes one transcript; deleting a main transcript deletes its subagent
   * transcripts too. Deleting what does not exist is not an error.
   */
  deleteTranscript(key: TranscriptKey): Promise<void>;

  // Files (metadata only: the bytes live in a blob directory the store does not own)
  /**
   * Inserts a file's metadata; `seq` is assigned. Throws `StoreConflictError`
   * for a duplicate id and `StoreNotFoundError` for an unknown workspace.
   */
  createFile(file: Omit<FileRecord, 'seq'>): Promise<FileRecord>;
  getFile(workspaceId: string, id: string): Promise<FileRecord | null>;
  /** Cursor paging over seq like the other lists; `includeArchived` has no meaning for files. */
  listFiles(workspaceId: string, query: FileQuery): Promise<Page<FileRecord>>;
  /** Returns false when the workspace has no file with this id. */
  deleteFile(workspaceId: string, id: string): Promise<boolean>;

  // Triggers (agenthost extension); deleted with their session
  /**
   * Inserts a trigger for a session of `trigger.workspaceId`. Throws
   * `StoreNotFoundError` when that workspace has no such session and
   * `StoreConflictError` for a duplicate id. `seq` is assigned.
   */
  createTrigger(trigger: Omit<TriggerRecord, 'seq'>): Promise<TriggerRecord>;
  getTrigger(workspaceId: string, id: string): Promise<TriggerRecord | null>;
  /** A trigger by id alone, for the unauthenticated webhook route (the caller then checks the signature). */
  findTriggerById(id: string): Promise<TriggerRecord | null>;
  /** One session's triggers, paged by seq; the created filters apply, `includeArchived` does not. */
  listTriggers(workspaceId: string, sessionId: string, query: PageQuery): Promise<Page<TriggerRecord>>;
  /** Enabled triggers, across workspaces, whose nextFireAt is at or before `now`; soonest first, at most `limit`. */
  listDueTriggers(now: string, limit: number): Promise<TriggerRecord[]>;
  /** The soonest nextFireAt of any enabled trigger, or null when none is scheduled. */
  nextTriggerFireAt(): Promise<string | null>;
  /**
   * Claims one fire of a scheduled trigger: sets lastFiredAt and nextFireAt
   * only while the trigger is enabled and its nextFireAt still equals
   * `expectedNextFireAt`. Returns false otherwise (another process claimed
   * this fire, or the trigger was disabled or deleted), so a due time fires
   * at most once however many servers share the store.
   */
  claimTriggerFire(id: string, expectedNextFireAt: string, firedAt: string, nextFireAt: string | null): Promise<boolean>;
  /** Sets lastFiredAt (a webhook delivery); it never moves back. Returns false when absent. */
  markTriggerFired(id: string, firedAt: string): Promise<boolean>;
  /**
   * Disables the trigger for good and clears nextFireAt. Disabling again
   * keeps the first time and reason. Returns null when absent.
   */
  disableTrigger(id: string, at: string, reason: string): Promise<TriggerRecord | null>;
  /** Deletes the trigger and its delivery records. Returns false when absent. */
  deleteTrigger(workspaceId: string, id: string): Promise<boolean>;
  /**
   * Remembers a webhook delivery's signature until `expiresAt`. Returns false
   * when the trigger already holds it (a replay). Atomic: of two concurrent
   * calls with one signature, exactly one gets true. Throws
   * `StoreNotFoundError` when the trigger is gone.
   */
  recordWebhookDelivery(triggerId: string, signature: string, expiresAt: string): Promise<boolean>;
  /** Forgets deliveries whose expiresAt is before `now`; returns how many. */
  pruneWebhookDeliveries(now: string): Promise<number>;

  // Usage and budgets (agenthost extension)
  /** Appends a usage record. Throws `StoreNotFoundError` for an unknown workspace. */
  recordUsage(record: UsageRecord): Promise<void>;
  /** USD a workspace has spent at or after `since` (ever, without it). */
  usageTotal(workspaceId: string, since?: string): Promise<number>;
  /** Usage summed by workspace, kind and name, at or after `since`; ordered by workspace name, kind, name. */
  usageReport(query: { workspaceId?: string; since?: string }): Promise<UsageSummary[]>;
  getWorkspaceBudget(workspaceId: string): Promise<WorkspaceBudget | null>;
  /** Replaces the workspace's budget (insert or update). Throws `StoreNotFoundError` for an unknown workspace. */
  setWorkspaceBudget(budget: WorkspaceBudget): Promise<WorkspaceBudget>;

  // Outbound webhooks (agenthost extension)
  /** Throws `StoreNotFoundError` for an unknown workspace and `StoreConflictError` for a duplicate id. */
  createWebhookEndpoint(endpoint: WebhookEndpointRecord): Promise<WebhookEndpointRecord>;
  getWebhookEndpoint(workspaceId: string, id: string): Promise<WebhookEndpointRecord | null>;
  /** A workspace's endpoints, oldest first. */
  listWebhookEndpoints(workspaceId: string): Promise<WebhookEndpointRecord[]>;
  /** Deletes the endpoint and its deliveries. Returns false when absent. */
  deleteWebhookEndpoint(workspaceId: string, id: string): Promise<boolean>;
  /** Inserts deliveries (pending, due at `nextAttemptAt`). Throws `StoreNotFoundError` when an endpoint is gone. */
  createWebhookDeliveries(deliveries: WebhookDeliveryRecord[]): Promise<void>;
  /** An endpoint's deliveries, newest first, at most `limit`. */
  listWebhookDeliveries(endpointId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /**
   * Claims up to `limit` pending deliveries due at `now` (soonest first) by
   * moving their `nextAttemptAt` to `leaseUntil`, atomically: of two servers
   * sharing the store, each due delivery goes to one. A claimed delivery whose
   * attempt is never recorded becomes due again at `leaseUntil`.
   */
  claimWebhookDeliveries(now: string, leaseUntil: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /** Records an attempt's outcome (status, attempts, next attempt, last response). Returns false when absent. */
  recordWebhookAttempt(id: string, outcome: WebhookAttempt): Promise<boolean>;
}

/** Where a workspace wants its session events POSTed (an agenthost extension). */
export interface WebhookEndpointRecord {
  id: string;
  workspaceId: string;
  url: string;
  /** The HMAC key deliveries are signed with; kept to sign. */
  secret: string;
  /** Event types delivered; empty means all. */
  eventTypes: string[];
  createdAt: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event for one endpoint, and what came of delivering it. */
export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  eventType: string;
  /** The JSON body POSTed, as sent on every attempt. */
  payload: JsonObject;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due; null once delivered or failed for good. */
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface WebhookAttempt {
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

/**
 * One priced piece of consumption: a model request's tokens, or a stretch of
 * a session's sandbox time. Priced when observed; later price changes do not
 * reprice it.
 */
export interface UsageRecord {
  workspaceId: string;
  /** Not a reference: usage outlives its session. */
  sessionId: string;
  kind: 'tokens' | 'sandbox';
  /** The model (tokens) or the sandbox provider (sandbox). */
  name: string;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  sandboxSeconds: number;
  usd: number;
  at: string;
}

/** Usage records summed over one workspace, kind and name. */
export interface UsageSummary {
  workspaceId: string;
  workspaceName: string;
  kind: 'tokens' | 'sandbox';
  name: string;
  /** How many records were summed (model requests, or sandbox stretches). */
  records: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  sandboxSeconds: number;
  usd: number;
}

/** A workspace's spending limits in USD; null is no limit. The day is the UTC day. */
export interface WorkspaceBudget {
  workspaceId: string;
  dailyUsd: number | null;
  totalUsd: number | null;
  updatedAt: string;
}

/** What fires a trigger: a cron schedule, or a signed call of its webhook URL. */
export type TriggerKind = 'cron' | 'webhook';

/**
 * A trigger sends a `user.message` to its session on its own (an agenthost
 * extension). It belongs to the session: deleting the session deletes it.
 */
export interface TriggerRecord {
  id: string;
  workspaceId: string;
  sessionId: string;
  /** Store-assigned, strictly increasing in insertion order; cursors are built from it. */
  seq: number;
  kind: TriggerKind;
  /** The settings as the API shows them (schedule, timezone, message; or message_template). */
  body: JsonObject;
  /** The HMAC key of a webhook trigger (it must be kept to verify); null for cron. */
  secret: string | null;
  createdAt: string;
  updatedAt: string;
  lastFiredAt: string | null;
  /** When a cron trigger is next due; null for webhooks, disabled triggers and schedules that end. */
  nextFireAt: string | null;
  /** Set once when the trigger can no longer fire (its session ended); it stays listed. */
  disabledAt: string | null;
  disabledReason: string | null;
}

/**
 * Metadata of an uploaded or session-produced file. Files have no archive
 * state and no updates: they are created, read and deleted.
 */
export interface FileRecord {
  id: string;
  workspaceId: string;
  /** Store-assigned, strictly increasing (insertion order), as in `ListedRecord`. */
  seq: number;
  /** A single path component for uploads; a path relative to `outputs/` for session outputs. */
  filename: string;
  mimeType: string;
  sizeBytes: number;
  /** The session that produced the file; null for uploads. Not a foreign key: outputs outlive their session. */
  scopeId: string | null;
  createdAt: string;
  /** When the bytes stop being downloadable; null for never. */
  expiresAt: string | null;
}

export interface FileQuery extends PageQuery {
  /** Only files produced by this session. */
  scopeId?: string;
  /** Only files with these ids; an empty list finds none. */
  ids?: string[];
}

/** An optimistic-concurrency or referential conflict; the API maps it to 409. */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** The row an operation needs is gone (e.g. appending to a deleted session). */
export class StoreNotFoundError extends Error {
  override name = 'StoreNotFoundError';
}

/**
 * An idempotency key is already held, by the request in `existing`. A subclass
 * of the conflict error, so a caller that does not look inside answers 409.
 */
export class StoreIdempotencyConflictError extends StoreConflictError {
  override name = 'StoreIdempotencyConflictError';

  constructor(readonly existing: IdempotencyRecord) {
    super(`idempotency key ${JSON.stringify(existing.key)} is already used`);
  }
}
