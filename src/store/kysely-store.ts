import type { Kysely } from 'kysely';
import type { StoreContext, StoreDialect } from './dialect.js';
import { migrate } from './migrate.js';
import { agents, type AgentTables } from './modules/agents.js';
import { environments, type EnvironmentTables } from './modules/environments.js';
import { files, type FileTables } from './modules/files.js';
import { idempotency, type IdempotencyTables } from './modules/idempotency.js';
import { sessions, type SessionTables } from './modules/sessions.js';
import { transcripts, type TranscriptTables } from './modules/transcripts.js';
import { triggers, type TriggerTables } from './modules/triggers.js';
import { usage, type UsageTables } from './modules/usage.js';
import { webhooks, type WebhookTables } from './modules/webhooks.js';
import { workspaces, type WorkspaceTables } from './modules/workspaces.js';
import type { Store } from './store.js';

/**
 * The database as Kysely sees it: the tables of every store module. A new
 * module adds its tables here and its members to `modules` below.
 */
export interface DB
  extends WorkspaceTables,
    AgentTables,
    EnvironmentTables,
    SessionTables,
    IdempotencyTables,
    TranscriptTables,
    FileTables,
    TriggerTables,
    UsageTables,
    WebhookTables {}

/** Every Store member but the lifecycle ones, from the modules; the return type makes leaving one out a compile error. */
function modules(ctx: StoreContext): Omit<Store, 'migrate' | 'ping' | 'close'> {
  return {
    ...workspaces(ctx),
    ...agents(ctx),
    ...environments(ctx),
    ...sessions(ctx),
    ...idempotency(ctx),
    ...transcripts(ctx),
    ...files(ctx),
    ...triggers(ctx),
    ...usage(ctx),
    ...webhooks(ctx),
  };
}

// The members `modules` assigns in the constructor.
export interface KyselyStore extends Omit<Store, 'migrate' | 'ping' | 'close'> {}

/**
 * The Store over Kysely: each module's queries are written once and run on
 * SQLite and PostgreSQL alike. Subclasses (`SqliteStore`, `PostgresStore`)
 * bring the connection and the dialect's quirks.
 */
export abstract class KyselyStore implements Store {
  private closed = false;

  protected constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: StoreDialect,
  ) {
    Object.assign(this, modules({ db, dialect }));
  }

  async migrate(): Promise<void> {
    await migrate(this.db, this.dialect);
  }

  async ping(): Promise<void> {
    await this.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }
}
