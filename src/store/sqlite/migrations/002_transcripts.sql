-- Claude Code transcripts mirrored through the Agent SDK's SessionStore.
-- One row per transcript: the main one (subpath '') or a subagent's. It
-- exists once anything was appended, so "never written" and "empty" differ.
-- last_seq hands out entry seqs; mtime is epoch milliseconds of the last
-- append, strictly increasing per transcript.
CREATE TABLE transcripts (
  project_key TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  subpath     TEXT NOT NULL,
  last_seq    INTEGER NOT NULL,
  mtime       INTEGER NOT NULL,
  PRIMARY KEY (project_key, session_id, subpath)
) WITHOUT ROWID;

-- One row per JSONL line, body as JSON text. A uuid, when the entry has one,
-- appears once per transcript, so replayed appends add nothing.
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
CREATE UNIQUE INDEX transcript_entries_uuid
  ON transcript_entries (project_key, session_id, subpath, uuid) WHERE uuid IS NOT NULL;
