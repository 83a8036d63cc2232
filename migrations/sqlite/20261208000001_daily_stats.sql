-- The dashboard's figures (src/stats.rs), counted by the daily job so that no console page
-- counts over the big tables: one row per UTC day and metric. A day is counted again only
-- while it is recent (the refresh goes back to the day before its last run), so the rows
-- outlive the raw rows retention removes.
CREATE TABLE daily_stats (
    day    TEXT    NOT NULL,            -- YYYY-MM-DD, UTC
    metric TEXT    NOT NULL,            -- domain::Metric
    value  INTEGER NOT NULL,
    PRIMARY KEY (day, metric)
);
-- When the figures were last counted (one row).
CREATE TABLE daily_stats_refreshed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
-- Each run of the daily job on an instance that composed: when, how long, what it did.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    day         TEXT    NOT NULL,
    composed    INTEGER NOT NULL,
    sent        INTEGER NOT NULL,
    deferred    INTEGER NOT NULL,
    bounced     INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    mails_sent  INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX job_runs_started ON job_runs (started_at);
-- The refresh counts delivery attempts by day: without this it read every attempt kept.
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);
-- And ratings by day.
CREATE INDEX ratings_at ON ratings (at);
