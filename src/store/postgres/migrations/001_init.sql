-- Bodies are json, not jsonb: they are stored and returned whole and never
-- queried inside, json keeps the writer's key order, and jsonb rejects the
-- \u0000 escape, which tool output can contain.
-- seq columns are identities: strictly increasing, never reused.

CREATE TABLE workspaces (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  hash         TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL,
  revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE agents (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  version      INTEGER NOT NULL,
  body         JSON NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL,
  updated_at   TIMESTAMPTZ NOT NULL,
  archived_at  TIMESTAMPTZ,
  UNIQUE (workspace_id, id)
);
CREATE INDEX agents_workspace_seq ON agents (workspace_id, seq);

CREATE TABLE agent_versions (
  agent_id   TEXT NOT NULL REFERENCES agents (id),
  version    INTEGER NOT NULL,
  body       JSON NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (agent_id, version)
);

CREATE TABLE environments (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  body         JSON NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL,
  updated_at   TIMESTAMPTZ NOT NULL,
  archived_at  TIMESTAMPTZ,
  UNIQUE (workspace_id, id)
);
CREATE INDEX environments_workspace_seq ON environments (workspace_id, seq);

-- The composite foreign keys keep a session from pointing at another
-- workspace's agent or environment, whatever the service layer checks.
CREATE TABLE sessions (
  seq            BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id             TEXT PRIMARY KEY,
  workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
  agent_id       TEXT NOT NULL,
  agent_version  INTEGER NOT NULL,
  environment_id TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('idle', 'running', 'rescheduling', 'terminated')),
  body           JSON NOT NULL,
  created_at     TIMESTAMPTZ NOT NULL,
  updated_at     TIMESTAMPTZ NOT NULL,
  archived_at    TIMESTAMPTZ,
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
  seq        BIGINT NOT NULL,
  type       TEXT NOT NULL,
  body       JSON NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  UNIQUE (session_id, seq)
);
