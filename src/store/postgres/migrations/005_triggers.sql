-- Triggers (an agenthost extension): each sends a user.message to its session
-- on a cron schedule or when its webhook is called, and goes with the session.
-- next_fire_at is when a cron trigger is next due (NULL for webhooks and
-- disabled triggers); the scheduler reads the soonest through triggers_due.
CREATE TABLE triggers (
  seq             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id              TEXT PRIMARY KEY,
  workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
  session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  kind            TEXT NOT NULL CHECK (kind IN ('cron', 'webhook')),
  body            JSON NOT NULL,
  secret          TEXT,
  created_at      TIMESTAMPTZ NOT NULL,
  updated_at      TIMESTAMPTZ NOT NULL,
  last_fired_at   TIMESTAMPTZ,
  next_fire_at    TIMESTAMPTZ,
  disabled_at     TIMESTAMPTZ,
  disabled_reason TEXT
);
CREATE INDEX triggers_session_seq ON triggers (session_id, seq);
CREATE INDEX triggers_due ON triggers (next_fire_at) WHERE next_fire_at IS NOT NULL AND disabled_at IS NULL;

-- Signatures of accepted webhook deliveries, kept until their timestamp
-- leaves the accepted window (expires_at), so a replay is refused even after
-- a restart, and by every server sharing the database.
CREATE TABLE webhook_deliveries (
  trigger_id TEXT NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
  signature  TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (trigger_id, signature)
);
CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);
