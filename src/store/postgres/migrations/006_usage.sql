-- What each workspace consumed, priced when it was observed: one row per
-- model request (tokens) and per stretch of sandbox time. session_id is
-- deliberately not a foreign key: spending outlives a deleted session.
CREATE TABLE usage_records (
  seq                         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id                TEXT NOT NULL REFERENCES workspaces (id),
  session_id                  TEXT NOT NULL,
  kind                        TEXT NOT NULL CHECK (kind IN ('tokens', 'sandbox')),
  name                        TEXT NOT NULL,
  input_tokens                BIGINT NOT NULL DEFAULT 0,
  output_tokens               BIGINT NOT NULL DEFAULT 0,
  cache_creation_input_tokens BIGINT NOT NULL DEFAULT 0,
  cache_read_input_tokens     BIGINT NOT NULL DEFAULT 0,
  sandbox_seconds             DOUBLE PRECISION NOT NULL DEFAULT 0,
  usd                         DOUBLE PRECISION NOT NULL,
  at                          TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_records_workspace_at ON usage_records (workspace_id, at);
CREATE INDEX usage_records_at ON usage_records (at);

-- Spending limits of a workspace, in USD; null means no limit.
CREATE TABLE workspace_budgets (
  workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
  daily_usd    DOUBLE PRECISION,
  total_usd    DOUBLE PRECISION,
  updated_at   TIMESTAMPTZ NOT NULL
);
