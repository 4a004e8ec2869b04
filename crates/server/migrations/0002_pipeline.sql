-- The analysis pipeline: jobs, events, extracted text, passages, quotes, the
-- stored analysis, and characters linked to what the analysis found.

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '{}',
    -- queued, running, succeeded, dead (failed for good), cancelled
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL DEFAULT 3,
    run_at           TEXT NOT NULL,
    lease_until      TEXT,
    worker           TEXT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    progress         TEXT NOT NULL DEFAULT '{}',
    last_error       TEXT,
    result           TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX jobs_claim ON jobs (status, run_at);
CREATE INDEX jobs_user ON jobs (user_id, created_at, id);

-- Events kept for replay (`?since=`); ids are UUID v7, ordered by time.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_user ON events (user_id, id);

CREATE TABLE document_texts (
    document_id TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    sections    TEXT NOT NULL DEFAULT '[]',
    char_count  BIGINT NOT NULL
);

CREATE TABLE analyses (
    document_id TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE passages (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idx         BIGINT NOT NULL,
    section_idx BIGINT,
    start_char  BIGINT NOT NULL,
    end_char    BIGINT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages (document_id, idx);

CREATE TABLE quotes (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    idx         BIGINT NOT NULL,
    speaker     TEXT,
    start_char  BIGINT NOT NULL,
    end_char    BIGINT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX quotes_doc_speaker ON quotes (document_id, speaker);

ALTER TABLE documents ADD COLUMN stats TEXT;
ALTER TABLE documents ADD COLUMN sections TEXT NOT NULL DEFAULT '[]';
ALTER TABLE documents ADD COLUMN job_id TEXT;

-- Characters found in a document: `source_key` identifies them across
-- re-analyses; `edited` marks ones the user changed (kept as they are).
ALTER TABLE characters ADD COLUMN source_key TEXT;
ALTER TABLE characters ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';
ALTER TABLE characters ADD COLUMN gender TEXT;
ALTER TABLE characters ADD COLUMN edited BIGINT NOT NULL DEFAULT 0;
ALTER TABLE characters ADD COLUMN stats TEXT NOT NULL DEFAULT '{}';
CREATE INDEX characters_source ON characters (document_id, source_key);
