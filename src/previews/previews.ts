import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError, ErrorCode, conflict, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { runtimeOf } from '../sessions/session-body.js';
import type { JsonObject, SessionRecord, Store } from '../store/store.js';
import type { NetnsBridges } from './netns-bridge.js';

export const createPreviewBody = z
  .object({
    port: z.number().int().min(1).max(65535),
    /** Lifetime of the URL, seconds; default an hour, at most a week. */
    ttl_s: z.number().int().min(60).max(7 * 86400).optional(),
  })
  .strict();

export interface Preview {
  id: string;
  workspaceId: string;
  sessionId: string;
  port: number;
  /** The capability in the URL (160 random bits, lowercase hex: host names are case-insensitive). */
  token: string;
  createdAt: string;
  expiresAt: string;
}

/** The part of the session engine previews use. */
export interface PreviewEngine {
  wake(session: SessionRecord): Promise<void>;
  sandboxProcess(sessionId: string): { provider: string; pid: number } | undefined;
}

const MAX_PER_SESSION = 20;
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Port previews (an agenthost extension): an unguessable URL per (session,
 * port) that agenthost proxies, HTTP and WebSocket, to that port inside that
 * session's sandbox and nowhere else. Previews live in this server's memory:
 * a restart revokes them.
 */
export class PreviewService {
  private readonly byDigest = new Map<string, Preview>();
  private readonly now: () => Date;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      store: Store;
      engine: PreviewEngine;
      bridges: NetnsBridges;
      log: Logger;
      /** The preview URL of a token, on the preview listener's origin(s), e.g. `https://<token>.preview.example.com/`. */
      urlOf: (token: string) => string;
      now?: () => Date;
    },
  ) {
    this.now = o.now ?? (() => new Date());
  }

  async create(workspaceId: string, sessionId: string, input: unknown): Promise<Preview> {
    const body = createPreviewBody.parse(input);
    const session = await this.session(workspaceId, sessionId);
    if (session.archivedAt || session.status === 'terminated') throw conflict(`session ${sessionId} has ended; it has no sandbox to preview`);
    const provider = runtimeOf(session.body).provider;
    if (provider === 'process') throw invalid('previews need a sandbox with a network of its own; the process provider has none');
    if (this.previewsOf(workspaceId, sessionId).length >= MAX_PER_SESSION) throw invalid(`a session may have at most ${MAX_PER_SESSION} previews; revoke one first`);
    const now = this.now();
    const preview: Preview = {
      id: newId('prv'),
      workspaceId,
      sessionId,
      port: body.port,
      token: randomBytes(20).toString('hex'),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + (body.ttl_s ?? 3600) * 1000).toISOString(),
    };
    this.byDigest.set(digest(preview.token), preview);
    return preview;
  }

  /** A session's live previews; 404 for a session the workspace does not have. */
  async list(workspaceId: string, sessionId: string): Promise<Preview[]> {
    await this.session(workspaceId, sessionId);
    return this.previewsOf(workspaceId, sessionId);
  }

  private previewsOf(workspaceId: string, sessionId: string): Preview[] {
    this.prune();
    return [...this.byDigest.values()].filter((p) => p.workspaceId === workspaceId && p.sessionId === sessionId);
  }

  async revoke(workspaceId: string, sessionId: string, id: string): Promise<void> {
    const preview = this.previewsOf(workspaceId, sessionId).find((p) => p.id === id);
    if (!preview) throw notFound('preview', id);
    this.byDigest.delete(digest(preview.token));
    if (!this.previewsOf(workspaceId, sessionId).some((p) => p.port === preview.port)) this.o.bridges.close(sessionId, preview.port);
  }

  /** The live preview a token names, or undefined (unknown, revoked or expired). */
  resolve(token: string): Preview | undefined {
    const key = digest(token);
    const preview = this.byDigest.get(key);
    if (!preview) return undefined;
    if (Date.parse(preview.expiresAt) <= this.now().getTime()) {
      this.byDigest.delete(key);
      return undefined;
    }
    return preview;
  }

  /**
   * A Unix socket reaching the preview's port inside its session's sandbox.
   * A hibernated (or stopped) session is woken first.
   */
  async upstream(preview: Preview): Promise<string> {
    let proc = this.o.engine.sandboxProcess(preview.sessionId);
    if (!proc) {
      const session = await this.session(preview.workspaceId, preview.sessionId);
      if (session.archivedAt || session.status === 'terminated') throw new AppError(ErrorCode.notFound, 'the session has ended');
      await this.o.engine.wake(session);
      const deadline = Date.now() + 15_000;
      while (!(proc = this.o.engine.sandboxProcess(preview.sessionId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!proc) throw new Error('the session’s sandbox did not start');
    }
    if (proc.provider === 'process') throw new Error('the process provider has no network of its own to preview');
    return this.o.bridges.socketFor(preview.sessionId, proc.pid, preview.port);
  }

  /** Drops expired previews and bridges of sessions no longer running, every `intervalMs`. */
  start(intervalMs = 30_000): void {
    this.sweeper = setInterval(() => {
      this.prune();
      for (const sessionId of this.o.bridges.sessions()) {
        if (!this.o.engine.sandboxProcess(sessionId)) this.o.bridges.close(sessionId);
      }
    }, intervalMs);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.o.bridges.closeAll();
  }

  /** The API's view of a preview; `url: null` without `withUrl` (for read-only keys: the URL is a capability that writes). */
  render(p: Preview, o: { withUrl: boolean }): JsonObject {
    const url = o.withUrl ? this.o.urlOf(p.token) : null;
    return { type: 'port_preview', id: p.id, session_id: p.sessionId, port: p.port, url, created_at: p.createdAt, expires_at: p.expiresAt };
  }

  private prune(): void {
    const now = this.now().getTime();
    for (const [key, p] of this.byDigest) if (Date.parse(p.expiresAt) <= now) this.byDigest.delete(key);
  }

  private async session(workspaceId: string, sessionId: string): Promise<SessionRecord> {
    const session = await this.o.store.getSession(workspaceId, sessionId);
    if (!session) throw notFound('session', sessionId);
    return session;
  }
}
