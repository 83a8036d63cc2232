-- A digest's reasons apart from the rest of its content: each entry's reasons, in order, as
-- one JSON array. Retention drops a day's reasons after [retention] digest_content_days by
-- deleting these rows, whole pages at a time that SQLite can return to the file system;
-- shrinking each digest's content in place (as before) freed no page at all (measured at
-- 100,000 readers a day). Digests written before this table keep their reasons inline.
CREATE TABLE digest_reasons (
    digest_id INTEGER PRIMARY KEY REFERENCES digests (id) ON DELETE CASCADE,
    reasons   TEXT    NOT NULL
);
