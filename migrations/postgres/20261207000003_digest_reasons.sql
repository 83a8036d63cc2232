-- A digest's reasons apart from the rest of its content: each entry's reasons, in order, as
-- one JSON array. Retention drops a day's reasons after [retention] digest_content_days by
-- deleting these rows (the same on both databases; on SQLite it frees whole pages, where
-- shrinking each digest's content in place freed none). Digests written before this table
-- keep their reasons inline.
CREATE TABLE digest_reasons (
    digest_id BIGINT PRIMARY KEY REFERENCES digests (id) ON DELETE CASCADE,
    reasons   TEXT   NOT NULL
);
