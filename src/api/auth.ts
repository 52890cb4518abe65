import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';
import { newId, newSecret } from '../ids.js';
import type { ApiKeyRecord, ApiKeyScope, Store } from '../store/store.js';

/** Keys look like `sk-ah-<43 url-safe chars>`; only their SHA-256 is stored. */
const KEY_PREFIX = 'sk-ah-';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Creates a key for a workspace (creating the workspace if needed) and returns the key once.
 * A `read_only` key may only make GET (and HEAD) requests.
 */
export async function createApiKey(
  store: Store,
  workspaceName: string,
  options: { scope?: ApiKeyScope; now?: Date } = {},
): Promise<{ key: string; record: ApiKeyRecord; workspaceId: string }> {
  const at = (options.now ?? new Date()).toISOString();
  const workspace = await store.ensureWorkspace(workspaceName, newId('wrkspc'), at);
  const key = `${KEY_PREFIX}${newSecret(32)}`;
  const record: ApiKeyRecord = {
    id: newId('key'),
    workspaceId: workspace.id,
    hash: hashApiKey(key),
    prefix: key.slice(0, KEY_PREFIX.length + 6),
    scope: options.scope ?? 'full',
    createdAt: at,
    revokedAt: null,
  };
  await store.createApiKey(record);
  return { key, record, workspaceId: workspace.id };
}

export interface AuthContext {
  workspaceId: string;
  keyId: string;
  scope: ApiKeyScope;
}

/** What a read-only key may do: requests that change nothing. */
const READ_METHODS = new Set(['GET', 'HEAD']);

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authz = request.headers.authorization;
  if (typeof authz === 'string' && authz.startsWith('Bearer ')) return authz.slice('Bearer '.length);
  return undefined;
}

/**
 * How long a key lookup is reused. Servers sharing a database learn of a
 * revocation only by asking it, so this bounds how long a revoked key keeps
 * working on any of them; under one second by design. The cost is one
 * indexed lookup per key per server per half second.
 */
export const AUTH_CACHE_TTL_MS = 500;

/**
 * Resolves `x-api-key` (or a bearer token) to a workspace. Lookups are cached
 * briefly: a key is hashed per request, but the store is asked at most once
 * per key per `ttlMs`, and revocation takes effect within that window (the
 * lookup's start counts, so a lookup that was under way when the key was
 * revoked is dropped within `ttlMs` of the revocation too).
 *
 * A read-only key's writes are refused here, as the request arrives: before
 * its body is read and before any handler runs, so a refused request changes
 * nothing.
 */
export function createAuthenticator(store: Store, ttlMs = AUTH_CACHE_TTL_MS) {
  // The lookup's promise is cached, so concurrent requests with one key share one query.
  const cache = new Map<string, { ctx: Promise<AuthContext | null>; at: number }>();
  const lookup = (hash: string): Promise<AuthContext | null> => {
    const now = Date.now();
    let hit = cache.get(hash);
    if (!hit || now - hit.at > ttlMs) {
      const ctx = store.findApiKeyByHash(hash).then((record) => (record ? { workspaceId: record.workspaceId, keyId: record.id, scope: record.scope } : null));
      hit = { ctx, at: now };
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, hit);
      // A failed lookup is not remembered: the next request asks again.
      const entry = hit;
      ctx.catch(() => {
        if (cache.get(hash) === entry) cache.delete(hash);
      });
    }
    return hit.ctx;
  };
  const open = new OpenRequests(lookup, ttlMs);

  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const key = presentedKey(request);
    if (!key) {
      throw new AppError(ErrorCode.authentication, 'missing API key: send it in the x-api-key header');
    }
    const hash = hashApiKey(key);
    const ctx = await lookup(hash);
    if (!ctx) throw new AppError(ErrorCode.authentication, 'invalid x-api-key');
    if (ctx.scope === 'read_only' && !READ_METHODS.has(request.method)) {
      const route = `${request.method} ${request.url.split('?')[0]}`;
      throw new AppError(ErrorCode.permission, `this API key is read-only: ${route} needs a full-access key`);
    }
    request.auth = ctx;
    open.add(hash, reply);
  };
}

/**
 * Requests that stay open (event streams) keep the key they were opened with
 * checked: every `ttlMs` while any is open, the keys of those open longer
 * than that are looked up again, and a response whose key has been revoked
 * is ended, an event stream with an `error` event saying so.
 */
class OpenRequests {
  private readonly open = new Map<FastifyReply, { hash: string; since: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly lookup: (hash: string) => Promise<AuthContext | null>,
    private readonly ttlMs: number,
  ) {}

  add(hash: string, reply: FastifyReply): void {
    this.open.set(reply, { hash, since: Date.now() });
    reply.raw.once('close', () => {
      this.open.delete(reply);
      if (this.open.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    if (!this.timer) {
      this.timer = setInterval(() => void this.sweep(), this.ttlMs);
      this.timer.unref();
    }
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.ttlMs;
    const hashes = new Set<string>();
    for (const { hash, since } of this.open.values()) if (since <= cutoff) hashes.add(hash);
    for (const hash of hashes) {
      const ctx = await this.lookup(hash).catch(() => undefined);
      if (ctx !== null) continue; // valid, or the store did not answer: judged again next sweep
      for (const [reply, entry] of this.open) if (entry.hash === hash) endRevoked(reply);
    }
  }
}

/** The route whose responses are event streams (its headers are written raw, so they cannot be read back). */
const EVENT_STREAM_ROUTE = '/v1/sessions/:id/events/stream';

function endRevoked(reply: FastifyReply): void {
  const res = reply.raw;
  if (res.headersSent && reply.request.routeOptions.url === EVENT_STREAM_ROUTE) {
    const error = new AppError(ErrorCode.authentication, 'this API key was revoked').toBody(reply.request.id);
    // The socket goes too, so the stream's own close handling runs at once.
    res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`, () => res.destroy());
  } else {
    res.destroy();
  }
}
