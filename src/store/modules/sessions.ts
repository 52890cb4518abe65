/** Sessions and each session's append-only event log. */
import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { StoreContext } from '../dialect.js';
import type { DB } from '../kysely-store.js';
import { batches, isoOrNull, isoTimestamp, LISTED_COLUMNS, listedPage, listedValues, object, page, toListed, type ListedTable } from '../query.js';
import { prepared, preparedInsert } from '../prepared.js';
import {
  StoreIdempotencyConflictError,
  StoreNotFoundError,
  type EventRecord,
  type NewEvent,
  type SessionPatch,
  type SessionRecord,
  type SessionStatus,
  type Store,
} from '../store.js';
import { saveIdempotency } from './idempotency.js';

export interface SessionTables {
  sessions: ListedTable & {
    agent_id: string;
    agent_version: number;
    environment_id: string;
    status: SessionStatus;
  };
  events: {
    id: string;
    session_id: string;
    /** 1, 2, 3, ... per session, with no gaps. */
    seq: number;
    type: string;
    /** JSON text: the event as the API shows it. */
    body: string;
    created_at: string;
  };
}

type SessionTable = SessionTables['sessions'];
type EventRow = SessionTables['events'];

const toSession = (r: Selectable<SessionTable>): SessionRecord => ({
  ...toListed(r),
  agentId: r.agent_id,
  agentVersion: r.agent_version,
  environmentId: r.environment_id,
  status: r.status,
});

const toEvent = (r: Selectable<SessionTables['events']>): EventRecord => ({
  id: r.id,
  sessionId: r.session_id,
  seq: r.seq,
  type: r.type,
  body: object(r.body),
  createdAt: r.created_at,
});

export function sessions({ db, dialect }: StoreContext): Pick<
  Store,
  | 'createSession'
  | 'getSession'
  | 'listSessions'
  | 'listSessionsByStatus'
  | 'existingSessionIds'
  | 'updateSession'
  | 'deleteSession'
  | 'appendEvents'
  | 'listEvents'
  | 'getEvent'
> {
  // The queries every turn runs, built once (see `prepared`).
  const sessionById = prepared((workspaceId: string, id: string) =>
    db.selectFrom('sessions').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id),
  );
  // On PostgreSQL the row lock serialises appenders to the session, so the
  // last seq read after taking it, in a statement of its own, is final until
  // the transaction ends.
  const lockSession = prepared((id: string) =>
    db.selectFrom('sessions').selectAll().where('id', '=', id).$if(dialect.rowLocks, (q) => q.forUpdate()),
  );
  const maxSeq = prepared((sessionId: string) =>
    db.selectFrom('events').select((eb) => eb.fn.coalesce(eb.fn.max('seq'), eb.lit(0)).as('last')).where('session_id', '=', sessionId),
  );
  const eventById = prepared((sessionId: string, id: string) =>
    db.selectFrom('events').selectAll().where('session_id', '=', sessionId).where('id', '=', id),
  );
  const sessionColumns = [...LISTED_COLUMNS, 'agent_id', 'agent_version', 'environment_id', 'status'] as const;
  const insertSession = preparedInsert(sessionColumns, (rows: Insertable<SessionTable>[]) => db.insertInto('sessions').values(rows).returningAll());
  const insertEventRows = preparedInsert(['id', 'session_id', 'seq', 'type', 'body', 'created_at'], (rows: EventRow[]) =>
    db.insertInto('events').values(rows).returningAll(),
  );

  // Most patches set the status, the body or both: a field a patch leaves
  // out binds null, which coalesce turns into the column's own value.
  const patchSession = prepared((workspaceId: string, id: string, status: SessionStatus | null, body: string | null, updatedAt: string) =>
    db
      .updateTable('sessions')
      .set({ status: sql<SessionStatus>`coalesce(${status}, status)`, body: sql<string>`coalesce(${body}, body)`, updated_at: updatedAt })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll(),
  );

  /** Applies a patch to the session; undefined when it is gone. */
  async function update(trx: Kysely<DB>, workspaceId: string, id: string, patch: SessionPatch) {
    const body = patch.body === undefined ? undefined : JSON.stringify(patch.body);
    const updatedAt = isoTimestamp(patch.updatedAt);
    if (patch.archivedAt === undefined) return (await patchSession(trx, workspaceId, id, patch.status ?? null, body ?? null, updatedAt))[0];
    // A patch may set archived_at to null, so for it null cannot mean "keep":
    // this update is built for the fields given (Kysely leaves out undefined ones).
    const set: Updateable<SessionTable> = { status: patch.status, body, archived_at: isoOrNull(patch.archivedAt), updated_at: updatedAt };
    return trx.updateTable('sessions').set(set).where('workspace_id', '=', workspaceId).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /**
   * Inserts events as seqs `lastSeq + 1, lastSeq + 2, ...`, a multi-row
   * statement per batch. The caller holds the transaction (and for appends,
   * the session: its row lock, or SQLite's write lock).
   */
  async function insertEvents(trx: Kysely<DB>, sessionId: string, lastSeq: number, events: NewEvent[]): Promise<EventRecord[]> {
    const rows = events.map((e, i) => ({
      id: e.id,
      session_id: sessionId,
      seq: lastSeq + i + 1,
      type: e.type,
      body: JSON.stringify(e.body),
      created_at: isoTimestamp(e.createdAt),
    }));
    const stored: EventRecord[] = [];
    for (const batch of batches(rows)) stored.push(...(await insertEventRows(trx, batch)).map(toEvent));
    // RETURNING promises no order.
    return stored.sort((a, b) => a.seq - b.seq);
  }

  return {
    async createSession(session, initialEvents) {
      return db.transaction().execute(async (trx) => {
        const values = {
          ...listedValues(session),
          agent_id: session.agentId,
          agent_version: session.agentVersion,
          environment_id: session.environmentId,
          status: session.status,
        };
        const [row] = await insertSession(trx, [values]);
        return { session: toSession(row!), events: await insertEvents(trx, session.id, 0, initialEvents) };
      });
    },

    async getSession(workspaceId, id) {
      const [row] = await sessionById(db, workspaceId, id);
      return row ? toSession(row) : null;
    },

    async listSessions(workspaceId, query) {
      const qb = db
        .selectFrom('sessions')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .$if(query.agentId !== undefined, (q) => q.where('agent_id', '=', query.agentId!))
        .$if(query.agentVersion !== undefined, (q) => q.where('agent_version', '=', query.agentVersion!))
        .$if(!!query.statuses?.length, (q) => q.where('status', 'in', query.statuses!));
      return listedPage(qb, query, toSession);
    },

    async listSessionsByStatus(statuses) {
      if (statuses.length === 0) return [];
      return (await db.selectFrom('sessions').selectAll().where('status', 'in', statuses).orderBy('seq').execute()).map(toSession);
    },

    async existingSessionIds(ids) {
      const found = new Set<string>();
      for (const batch of batches(ids)) {
        for (const row of await db.selectFrom('sessions').select('id').where('id', 'in', batch).execute()) found.add(row.id);
      }
      return found;
    },

    async updateSession(workspaceId, id, patch) {
      const row = await update(db, workspaceId, id, patch);
      return row ? toSession(row) : null;
    },

    async deleteSession(workspaceId, id) {
      const { numDeletedRows } = await db.deleteFrom('sessions').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return numDeletedRows > 0n;
    },
    async appendEvents(sessionId, events, patch, options = {}) {
      return db.transaction().execute(async (trx) => {
        let [row] = await lockSession(trx, sessionId);
        if (!row) throw new StoreNotFoundError(`session ${sessionId} not found`);
        if (options.idempotency) {
          if (options.idempotency.workspaceId !== row.workspace_id) {
            throw new StoreNotFoundError(`session ${sessionId} not found in workspace ${options.idempotency.workspaceId}`);
          }
          // The key row stays locked until commit, so of two appends racing
          // with one key (to any session) the second waits and then sees it.
          const held = await saveIdempotency(trx, options.idempotency);
          if (held) throw new StoreIdempotencyConflictError(held);
        }
        const [{ last } = { last: 0 }] = await maxSeq(trx, sessionId);
        const stored = await insertEvents(trx, sessionId, last, events);
        if (patch) row = (await update(trx, row.workspace_id, sessionId, patch))!;
        return { events: stored, session: toSession(row) };
      });
    },

    async listEvents(sessionId, query) {
      const qb = db
        .selectFrom('events')
        .selectAll()
        .where('session_id', '=', sessionId)
        .$if(!!query.types?.length, (q) => q.where('type', 'in', query.types!));
      return page(qb, query, toEvent);
    },

    async getEvent(sessionId, id) {
      const [row] = await eventById(db, sessionId, id);
      return row ? toEvent(row) : null;
    },
  };
}
