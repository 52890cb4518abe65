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
 * Resolves `x-api-key` (or a bearer token) to a workspace. Lookups are cached
 * briefly: a key is hashed per request, but the store is asked at most once
 * per key per `ttlMs`, and revocation takes effect within that window.
 *
 * A read-only key's writes are refused here, as the request arrives: before
 * its body is read and before any handler runs, so a refused request changes
 * nothing.
 */
export function createAuthenticator(store: Store, ttlMs = 5_000) {
  const cache = new Map<string, { ctx: AuthContext | null; at: number }>();
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const key = presentedKey(request);
    if (!key) {
      throw new AppError(ErrorCode.authentication, 'missing API key: send it in the x-api-key header');
    }
    const hash = hashApiKey(key);
    const now = Date.now();
    let hit = cache.get(hash);
    if (!hit || now - hit.at > ttlMs) {
      const record = await store.findApiKeyByHash(hash);
      hit = { ctx: record ? { workspaceId: record.workspaceId, keyId: record.id, scope: record.scope } : null, at: now };
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, hit);
    }
    if (!hit.ctx) throw new AppError(ErrorCode.authentication, 'invalid x-api-key');
    if (hit.ctx.scope === 'read_only' && !READ_METHODS.has(request.method)) {
      const route = `${request.method} ${request.url.split('?')[0]}`;
      throw new AppError(ErrorCode.permission, `this API key is read-only: ${route} needs a full-access key`);
    }
    request.auth = hit.ctx;
  };
}
