-- Outbound webhooks: endpoints a workspace registers for session events, and
-- one delivery per event and endpoint with its attempts and outcome.
CREATE TABLE outbound_webhooks (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  url          TEXT NOT NULL,
  secret       TEXT NOT NULL,
  event_types  JSONB NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbound_webhooks_workspace ON outbound_webhooks (workspace_id, seq);

CREATE TABLE outbound_deliveries (
  seq              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id               TEXT PRIMARY KEY,
  endpoint_id      TEXT NOT NULL REFERENCES outbound_webhooks (id) ON DELETE CASCADE,
  event_type       TEXT NOT NULL,
  payload          JSONB NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TIMESTAMPTZ,
  last_status_code INTEGER,
  last_error       TEXT,
  created_at       TIMESTAMPTZ NOT NULL,
  delivered_at     TIMESTAMPTZ
);
CREATE INDEX outbound_deliveries_endpoint ON outbound_deliveries (endpoint_id, seq);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (next_attempt_at) WHERE status = 'pending';
