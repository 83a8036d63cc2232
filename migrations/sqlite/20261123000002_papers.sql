-- Papers, one row per arXiv id (version stripped), merged from every source; the days each
-- source featured them; and a record of every ingest run.
CREATE TABLE papers (
    id              TEXT    PRIMARY KEY,      -- arXiv id without version
    version         INTEGER,
    title           TEXT    NOT NULL,
    abstract        TEXT    NOT NULL,
    authors         TEXT    NOT NULL,         -- JSON array
    categories      TEXT    NOT NULL,         -- JSON array, primary first
    published       TEXT,                     -- YYYY-MM-DD
    upvotes         INTEGER,
    comments        INTEGER,
    popularity_seen_at INTEGER,               -- when upvotes / comments were read
    github_repo     TEXT,
    github_stars    INTEGER,
    project_page    TEXT,
    keywords        TEXT    NOT NULL,         -- JSON array, the source's keywords
    summary         TEXT,
    sources         TEXT    NOT NULL,         -- JSON array of the sources that gave it
    first_seen_at   INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE paper_features (
    paper_id      TEXT    NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    source        TEXT    NOT NULL,
    day           TEXT    NOT NULL,           -- YYYY-MM-DD
    announce_type TEXT,
    PRIMARY KEY (paper_id, source, day)
);
CREATE INDEX paper_features_day ON paper_features (day, source);

CREATE TABLE ingest_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT    NOT NULL,
    day             TEXT,                     -- YYYY-MM-DD, or NULL for a file import
    origin          TEXT    NOT NULL,         -- the URL or file read
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    new_papers      INTEGER NOT NULL DEFAULT 0,
    updated_papers  INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);
CREATE INDEX ingest_runs_source_day ON ingest_runs (source, day, started_at);

-- Validators of the last good response per URL, for conditional requests.
CREATE TABLE http_cache (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    fetched_at    INTEGER NOT NULL
);
