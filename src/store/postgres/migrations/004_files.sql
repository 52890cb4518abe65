-- Metadata of the Files API. The bytes are not here: they live in the data
-- dir's blob directory under the file's id. scope_id names the session that
-- produced a file (its outputs) and is deliberately not a foreign key, so a
-- session's outputs stay downloadable after the session is deleted.
CREATE TABLE files (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  filename     TEXT NOT NULL,
  mime_type    TEXT NOT NULL,
  size_bytes   BIGINT NOT NULL,
  scope_id     TEXT,
  created_at   TIMESTAMPTZ NOT NULL,
  expires_at   TIMESTAMPTZ
);
CREATE INDEX files_workspace_seq ON files (workspace_id, seq);
CREATE INDEX files_scope ON files (workspace_id, scope_id, seq) WHERE scope_id IS NOT NULL;
