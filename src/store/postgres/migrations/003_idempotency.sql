-- What a request sent with an Idempotency-Key got, per workspace, until it
-- expires; retries within that time get the same response replayed.
-- response is json, not jsonb, like every body here.
CREATE TABLE idempotency_keys (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  response     JSON NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL,
  expires_at   TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
