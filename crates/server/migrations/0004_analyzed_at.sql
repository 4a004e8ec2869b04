-- When the document's current analysis was stored: the version search and
-- chat key their cached indexes by. Kept on `documents` because reading it
-- from `analyses` made SQLite walk the analysis JSON's overflow pages (megabytes
-- per novel) on every row of a search across all of a user's books.
ALTER TABLE documents ADD COLUMN analyzed_at TEXT;
UPDATE documents SET analyzed_at = (SELECT a.created_at FROM analyses a WHERE a.document_id = documents.id);
