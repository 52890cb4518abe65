-- Claude Code transcripts mirrored through the Agent SDK's SessionStore.
-- One row per transcript: the main one (subpath '') or a subagent's. It
-- exists once anything was appended, so "never written" and "empty" differ.
-- Appends lock this row, so last_seq (which hands out entry seqs) and the
-- entries' order follow commit order. mtime is epoch milliseconds of the
-- last append by the database clock, strictly increasing per transcript.
CREATE TABLE transcripts (
  project_key TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  subpath     TEXT NOT NULL,
  last_seq    BIGINT NOT NULL,
  mtime       BIGINT NOT NULL,
  PRIMARY KEY (project_key, session_id, subpath)
);

-- One row per JSONL line. json, not jsonb: tool output can hold \u0000,
-- which jsonb rejects. A uuid, when the entry has one, appears once per
-- transcript, so replayed appends add nothing.
CREATE TABLE transcript_entries (
  project_key TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  subpath     TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  uuid        TEXT,
  body        JSON NOT NULL,
  PRIMARY KEY (project_key, session_id, subpath, seq),
  FOREIGN KEY (project_key, session_id, subpath)
    REFERENCES transcripts (project_key, session_id, subpath) ON DELETE CASCADE
);
CREATE UNIQUE INDEX transcript_entries_uuid
  ON transcript_entries (project_key, session_id, subpath, uuid) WHERE uuid IS NOT NULL;
