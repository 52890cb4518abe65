-- Metadata of the Files API. The bytes are not here: they live in the data
-- dir's blob directory under the file's id. scope_id names the session that
-- produced a file (its outputs) and is deliberately not a foreign key, so a
-- session's outputs stay downloadable after the session is deleted.
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
CREATE INDEX files_workspace_seq ON files (workspace_id, seq);
CREATE INDEX files_scope ON files (workspace_id, scope_id, seq) WHERE scope_id IS NOT NULL;
