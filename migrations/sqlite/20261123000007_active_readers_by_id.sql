-- Composing walks active readers in id order, a batch at a time (status = 'active' AND
-- id > $after ORDER BY id). With only (status, created_at) to go by, SQLite's planner took
-- that index, read every active reader and sorted them, for every batch: a day for a
-- million readers read a billion index entries. This index serves the walk as it is.
CREATE INDEX subscribers_status_id ON subscribers (status, id);
