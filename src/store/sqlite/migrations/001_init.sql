-- Timestamps are TEXT in one canonical ISO form (UTC, milliseconds, Z), so
-- text comparison orders them. Bodies are JSON TEXT, never queried inside.
-- seq columns use AUTOINCREMENT so a deleted row's seq is never handed out
-- again: cursors built from seq must stay valid.

CREATE TABLE workspaces (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  hash         TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  revoked_at   TEXT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

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
CREATE INDEX agents_workspace_seq ON agents (workspace_id, seq);

CREATE TABLE agent_versions (
  agent_id   TEXT NOT NULL REFERENCES agents (id),
  version    INTEGER NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (agent_id, version)
) WITHOUT ROWID;

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
CREATE INDEX environments_workspace_seq ON environments (workspace_id, seq);

-- The composite foreign keys keep a session from pointing at another
-- workspace's agent or environment, whatever the service layer checks.
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
CREATE INDEX sessions_workspace_seq ON sessions (workspace_id, seq);
CREATE INDEX sessions_status ON sessions (status);
CREATE INDEX sessions_environment ON sessions (workspace_id, environment_id);
CREATE INDEX sessions_agent ON sessions (agent_id, agent_version);

CREATE TABLE events (
  id         TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  type       TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (session_id, seq)
);
