-- Passages and quotes are char ranges of `document_texts.text`, sliced by
-- whoever reads them; their own `text` columns have been written empty since
-- and are dropped. SQLite drops a column in place since 3.35 (the bundled one
-- is newer) unless it is in an index, a constraint, a view or a trigger,
-- which neither is.
ALTER TABLE passages DROP COLUMN text;
ALTER TABLE quotes DROP COLUMN text;
