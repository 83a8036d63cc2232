-- Retention (src/maintenance.rs): how far each walk has gone, so a daily run starts where the
-- last one stopped instead of reading every kept row again; and the day of the last run.
CREATE TABLE retention_marks (
    kind    TEXT   PRIMARY KEY,
    last_id BIGINT NOT NULL
);
-- Retention removes the record of who was sent a paper by its day: without this index each
-- daily run would read the whole table (a row per paper and 4,096 readers, every day kept).
CREATE INDEX paper_recipients_day ON paper_recipients (day);
