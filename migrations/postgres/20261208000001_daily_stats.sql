-- The dashboard's figures (src/stats.rs), counted by the daily job so that no console page
-- counts over the big tables: one row per UTC day and metric. A day is counted again only
-- while it is recent (the refresh goes back to the day before its last run), so the rows
-- outlive the raw rows retention removes.
CREATE TABLE daily_stats (
    day    TEXT    NOT NULL,            -- YYYY-MM-DD, UTC
    metric TEXT    NOT NULL,            -- domain::Metric
    value  BIGINT  NOT NULL,
    PRIMARY KEY (day, metric)
);
-- When the figures were last counted (one row).
CREATE TABLE daily_stats_refreshed (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);
-- Each run of the daily job on an instance that composed: when, how long, what it did.
CREATE TABLE job_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL,
    day         TEXT    NOT NULL,
    composed    BIGINT NOT NULL,
    sent        BIGINT NOT NULL,
    deferred    BIGINT NOT NULL,
    bounced     BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    mails_sent  BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX job_runs_started ON job_runs (started_at);
-- The refresh counts delivery attempts by day: without this it read every attempt kept.
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);
-- And ratings by day.
CREATE INDEX ratings_at ON ratings (at);
