PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TEXT NOT NULL
    );
INSERT INTO schema_migrations VALUES(1,'init','2026-12-07T15:22:37.895Z');
INSERT INTO schema_migrations VALUES(2,'transcripts','2026-12-07T15:22:37.895Z');
INSERT INTO schema_migrations VALUES(3,'idempotency','2026-12-07T15:22:37.896Z');
INSERT INTO schema_migrations VALUES(4,'files','2026-12-07T15:22:37.896Z');
INSERT INTO schema_migrations VALUES(5,'triggers','2026-12-07T15:22:37.896Z');
INSERT INTO schema_migrations VALUES(6,'usage','2026-12-07T15:22:37.897Z');
INSERT INTO schema_migrations VALUES(7,'webhooks','2026-12-07T15:22:37.897Z');
INSERT INTO schema_migrations VALUES(8,'api_key_scope','2026-12-07T15:22:37.898Z');
CREATE TABLE workspaces (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
INSERT INTO workspaces VALUES('wrkspc_sample','default','2025-01-01T00:00:00.000Z');
INSERT INTO workspaces VALUES('wrkspc_other','other','2025-01-01T00:00:01.000Z');
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  hash         TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  revoked_at   TEXT
, scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'read_only')));
INSERT INTO api_keys VALUES('key_full','wrkspc_sample','hash-full','sk-ah-full','2025-01-01T00:00:02.000Z',NULL,'full');
INSERT INTO api_keys VALUES('key_read','wrkspc_sample','hash-read','sk-ah-read','2025-01-01T00:00:03.000Z',NULL,'read_only');
INSERT INTO api_keys VALUES('key_gone','wrkspc_sample','hash-gone','sk-ah-gone','2025-01-01T00:00:04.000Z','2025-01-01T00:00:05.000Z','full');
CREATE TABLE agents (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  version      INTEGER NOT NULL,
  body         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  archived_at  TEXT,
  UNIQUE (workspace_id, id)
);
INSERT INTO agents VALUES(1,'agent_a','wrkspc_sample',2,'{"name":"tricky","system":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here","tools":[{"type":"agent_toolset_20250522","configs":[]},null,1.5,0,1e+21,true],"metadata":{"nested":{"key with spaces":"value"}}}','2025-01-01T00:00:10.000Z','2025-01-01T00:00:11.000Z',NULL);
INSERT INTO agents VALUES(2,'agent_b','wrkspc_sample',1,'{"name":"old"}','2025-01-01T00:00:12.000Z','2025-01-01T00:00:13.000Z','2025-01-01T00:00:13.000Z');
CREATE TABLE agent_versions (
  agent_id   TEXT NOT NULL REFERENCES agents (id),
  version    INTEGER NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (agent_id, version)
) WITHOUT ROWID;
INSERT INTO agent_versions VALUES('agent_a',1,'{"name":"helper","model":"claude-sonnet-4-5"}','2025-01-01T00:00:10.000Z');
INSERT INTO agent_versions VALUES('agent_a',2,'{"name":"tricky","system":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here","tools":[{"type":"agent_toolset_20250522","configs":[]},null,1.5,0,1e+21,true],"metadata":{"nested":{"key with spaces":"value"}}}','2025-01-01T00:00:11.000Z');
INSERT INTO agent_versions VALUES('agent_b',1,'{"name":"old"}','2025-01-01T00:00:12.000Z');
CREATE TABLE environments (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  body         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  archived_at  TEXT,
  UNIQUE (workspace_id, id)
);
INSERT INTO environments VALUES(1,'env_a','wrkspc_sample','{"name":"default","config":{"type":"cloud"}}','2025-01-01T00:00:20.000Z','2025-01-01T00:00:20.000Z',NULL);
INSERT INTO environments VALUES(2,'env_b','wrkspc_sample','{"name":"gone"}','2025-01-01T00:00:21.000Z','2025-01-01T00:00:22.000Z','2025-01-01T00:00:22.000Z');
CREATE TABLE sessions (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT NOT NULL UNIQUE,
  workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
  agent_id       TEXT NOT NULL,
  agent_version  INTEGER NOT NULL,
  environment_id TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('idle', 'running', 'rescheduling', 'terminated')),
  body           TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  archived_at    TEXT,
  FOREIGN KEY (workspace_id, agent_id) REFERENCES agents (workspace_id, id),
  FOREIGN KEY (agent_id, agent_version) REFERENCES agent_versions (agent_id, version),
  FOREIGN KEY (workspace_id, environment_id) REFERENCES environments (workspace_id, id)
);
INSERT INTO sessions VALUES(1,'sesn_a','wrkspc_sample','agent_a',2,'env_a','idle','{"title":"sample","metadata":{"k":"v"},"usage":{"input_tokens":0,"output_tokens":0},"runtime":{"sandbox_state":"running"}}','2025-01-01T00:00:30.000Z','2025-01-01T00:01:45.000Z',NULL);
INSERT INTO sessions VALUES(2,'sesn_b','wrkspc_sample','agent_a',2,'env_a','terminated','{"title":"sample","metadata":{"k":"v"},"usage":{"input_tokens":0,"output_tokens":0}}','2025-01-01T00:00:40.000Z','2025-01-01T00:00:41.000Z','2025-01-01T00:00:41.000Z');
CREATE TABLE events (
  id         TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  type       TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (session_id, seq)
);
INSERT INTO events VALUES('sevt_sample1','sesn_a',1,'session.status_idle','{"id":"sevt_sample1","type":"session.status_idle","processed_at":"2025-01-01T00:01:41.000Z"}','2025-01-01T00:01:41.000Z');
INSERT INTO events VALUES('sevt_sample2','sesn_a',2,'user.message','{"id":"sevt_sample2","type":"user.message","processed_at":"2025-01-01T00:01:42.000Z","content":[{"type":"text","text":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here"}]}','2025-01-01T00:01:42.000Z');
INSERT INTO events VALUES('sevt_sample3','sesn_a',3,'session.status_running','{"id":"sevt_sample3","type":"session.status_running","processed_at":"2025-01-01T00:01:43.000Z"}','2025-01-01T00:01:43.000Z');
INSERT INTO events VALUES('sevt_sample4','sesn_a',4,'agent.message','{"id":"sevt_sample4","type":"agent.message","processed_at":"2025-01-01T00:01:44.000Z","content":[{"type":"text","text":"done"}]}','2025-01-01T00:01:44.000Z');
INSERT INTO events VALUES('sevt_sample5','sesn_a',5,'session.status_idle','{"id":"sevt_sample5","type":"session.status_idle","processed_at":"2025-01-01T00:01:45.000Z"}','2025-01-01T00:01:45.000Z');
CREATE TABLE transcripts (
  project_key TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  subpath     TEXT NOT NULL,
  last_seq    INTEGER NOT NULL,
  mtime       INTEGER NOT NULL,
  PRIMARY KEY (project_key, session_id, subpath)
) WITHOUT ROWID;
INSERT INTO transcripts VALUES('-work-sample','cc-empty','',0,1796656957962);
INSERT INTO transcripts VALUES('-work-sample','cc-session-1','',3,1796656957962);
INSERT INTO transcripts VALUES('-work-sample','cc-session-1','subagents/agent-a',1,1796656957962);
CREATE TABLE transcript_entries (
  project_key TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  subpath     TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  uuid        TEXT,
  body        TEXT NOT NULL,
  PRIMARY KEY (project_key, session_id, subpath, seq),
  FOREIGN KEY (project_key, session_id, subpath)
    REFERENCES transcripts (project_key, session_id, subpath) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO transcript_entries VALUES('-work-sample','cc-session-1','',1,'u-1','{"type":"user","uuid":"u-1","message":{"content":"hi"}}');
INSERT INTO transcript_entries VALUES('-work-sample','cc-session-1','',2,NULL,'{"type":"summary","summary":"no uuid"}');
INSERT INTO transcript_entries VALUES('-work-sample','cc-session-1','',3,'u-2','{"type":"assistant","uuid":"u-2","message":{"content":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here"}}');
INSERT INTO transcript_entries VALUES('-work-sample','cc-session-1','subagents/agent-a',1,'u-3','{"type":"user","uuid":"u-3","message":{"content":"sub"}}');
CREATE TABLE idempotency_keys (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  response     TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  PRIMARY KEY (workspace_id, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys VALUES('wrkspc_sample','idem-1','req-hash','{"data":[{"id":"sevt_sample2"}]}','2025-01-01T00:01:42.000Z','2028-03-03T09:46:40.000Z');
CREATE TABLE files (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  filename     TEXT NOT NULL,
  mime_type    TEXT NOT NULL,
  size_bytes   INTEGER NOT NULL,
  scope_id     TEXT,
  created_at   TEXT NOT NULL,
  expires_at   TEXT
);
INSERT INTO files VALUES(1,'file_up','wrkspc_sample','notes.md','text/markdown',12,NULL,'2025-01-01T00:00:50.000Z',NULL);
INSERT INTO files VALUES(2,'file_out','wrkspc_sample','out/report.csv','text/csv',3000000000,'sesn_a','2025-01-01T00:00:51.000Z','2025-01-01T02:30:00.000Z');
CREATE TABLE triggers (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
  session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  kind            TEXT NOT NULL CHECK (kind IN ('cron', 'webhook')),
  body            TEXT NOT NULL,
  secret          TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  last_fired_at   TEXT,
  next_fire_at    TEXT,
  disabled_at     TEXT,
  disabled_reason TEXT
);
INSERT INTO triggers VALUES(1,'trg_cron','wrkspc_sample','sesn_a','cron','{"schedule":"*/5 * * * *","message":"tick"}',NULL,'2025-01-01T00:01:00.000Z','2025-01-01T00:01:00.000Z','2025-01-01T00:05:01.000Z','2025-01-01T00:10:00.000Z',NULL,NULL);
INSERT INTO triggers VALUES(2,'trg_hook','wrkspc_sample','sesn_a','webhook','{"message_template":"got {{body}}"}','whsec','2025-01-01T00:01:00.000Z','2025-01-01T00:01:00.000Z',NULL,NULL,NULL,NULL);
CREATE TABLE webhook_deliveries (
  trigger_id TEXT NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
  signature  TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (trigger_id, signature)
) WITHOUT ROWID;
INSERT INTO webhook_deliveries VALUES('trg_hook','sig-1','2028-03-03T09:46:40.000Z');
CREATE TABLE usage_records (
  seq                         INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id                TEXT NOT NULL REFERENCES workspaces (id),
  session_id                  TEXT NOT NULL,
  kind                        TEXT NOT NULL CHECK (kind IN ('tokens', 'sandbox')),
  name                        TEXT NOT NULL,
  input_tokens                INTEGER NOT NULL DEFAULT 0,
  output_tokens               INTEGER NOT NULL DEFAULT 0,
  cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_input_tokens     INTEGER NOT NULL DEFAULT 0,
  sandbox_seconds             REAL NOT NULL DEFAULT 0,
  usd                         REAL NOT NULL,
  at                          TEXT NOT NULL
);
INSERT INTO usage_records VALUES(1,'wrkspc_sample','sesn_a','tokens','claude-sonnet-4-5',1200,300,0,7,0.0,0.0080999999999999995614,'2025-01-01T00:01:10.000Z');
INSERT INTO usage_records VALUES(2,'wrkspc_sample','sesn_a','sandbox','bwrap',0,0,0,0,12.5,0.00040000000000000001916,'2025-01-01T00:01:11.000Z');
CREATE TABLE workspace_budgets (
  workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
  daily_usd    REAL,
  total_usd    REAL,
  updated_at   TEXT NOT NULL
);
INSERT INTO workspace_budgets VALUES('wrkspc_sample',5.0,NULL,'2025-01-01T00:01:12.000Z');
CREATE TABLE outbound_webhooks (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  url          TEXT NOT NULL,
  secret       TEXT NOT NULL,
  event_types  TEXT NOT NULL,
  created_at   TEXT NOT NULL
);
INSERT INTO outbound_webhooks VALUES(1,'whe_a','wrkspc_sample','https://example.com/hook','sek','["session.status_idle"]','2025-01-01T00:01:20.000Z');
CREATE TABLE outbound_deliveries (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  id               TEXT NOT NULL UNIQUE,
  endpoint_id      TEXT NOT NULL REFERENCES outbound_webhooks (id) ON DELETE CASCADE,
  event_type       TEXT NOT NULL,
  payload          TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TEXT,
  last_status_code INTEGER,
  last_error       TEXT,
  created_at       TEXT NOT NULL,
  delivered_at     TEXT
);
INSERT INTO outbound_deliveries VALUES(1,'whd_1','whe_a','session.status_idle','{"type":"event","data":{"id":"sevt_sample1"}}','delivered',1,NULL,204,NULL,'2025-01-01T00:01:21.000Z','2025-01-01T00:01:22.000Z');
INSERT INTO outbound_deliveries VALUES(2,'whd_2','whe_a','session.status_idle','{"type":"event","data":{"id":"sevt_sample5"}}','pending',0,'2025-01-01T00:01:45.000Z',NULL,NULL,'2025-01-01T00:01:45.000Z',NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('agents',2);
INSERT INTO sqlite_sequence VALUES('environments',2);
INSERT INTO sqlite_sequence VALUES('sessions',2);
INSERT INTO sqlite_sequence VALUES('files',2);
INSERT INTO sqlite_sequence VALUES('triggers',2);
INSERT INTO sqlite_sequence VALUES('usage_records',2);
INSERT INTO sqlite_sequence VALUES('outbound_webhooks',1);
INSERT INTO sqlite_sequence VALUES('outbound_deliveries',2);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);
CREATE INDEX agents_workspace_seq ON agents (workspace_id, seq);
CREATE INDEX environments_workspace_seq ON environments (workspace_id, seq);
CREATE INDEX sessions_workspace_seq ON sessions (workspace_id, seq);
CREATE INDEX sessions_status ON sessions (status);
CREATE INDEX sessions_environment ON sessions (workspace_id, environment_id);
CREATE INDEX sessions_agent ON sessions (agent_id, agent_version);
CREATE UNIQUE INDEX transcript_entries_uuid
  ON transcript_entries (project_key, session_id, subpath, uuid) WHERE uuid IS NOT NULL;
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX files_workspace_seq ON files (workspace_id, seq);
CREATE INDEX files_scope ON files (workspace_id, scope_id, seq) WHERE scope_id IS NOT NULL;
CREATE INDEX triggers_session_seq ON triggers (session_id, seq);
CREATE INDEX triggers_due ON triggers (next_fire_at) WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL;
CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);
CREATE INDEX usage_records_workspace_at ON usage_records (workspace_id, at);
CREATE INDEX usage_records_at ON usage_records (at);
CREATE INDEX outbound_webhooks_workspace ON outbound_webhooks (workspace_id, seq);
CREATE INDEX outbound_deliveries_endpoint ON outbound_deliveries (endpoint_id, seq);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (next_attempt_at) WHERE status = 'pending';
COMMIT;
