-- Character chat: conversations and their messages, per-character model
-- settings, and card fields dramatis has no column of its own for.

CREATE TABLE conversations (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    character_id TEXT NOT NULL REFERENCES characters(id) ON DELETE CASCADE,
    title        TEXT NOT NULL DEFAULT '',
    -- Spoiler limit: the character knows the story up to this section index
    -- (of the document's sections); NULL = the whole book.
    max_section  BIGINT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX conversations_character ON conversations (character_id, updated_at, id);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq               BIGINT NOT NULL,
    role              TEXT NOT NULL,
    content           TEXT NOT NULL,
    -- llm or extractive (assistant messages only)
    mode              TEXT,
    citations         TEXT NOT NULL DEFAULT '[]',
    model             TEXT,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    created_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);

-- {"model": "...", "temperature": 0.7, "max_tokens": 400}; absent keys use the server's defaults.
ALTER TABLE characters ADD COLUMN llm TEXT NOT NULL DEFAULT '{}';
-- Character-card fields without a column (alternate greetings, lorebook,
-- creator notes, extensions, ...), kept so export -> import -> export is lossless.
ALTER TABLE characters ADD COLUMN card TEXT NOT NULL DEFAULT '{}';
