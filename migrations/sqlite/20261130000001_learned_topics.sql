-- Catalogue topics' profiles learned from the stored papers that carry their arXiv
-- categories (matching::TopicLearner), rebuilt after each ingest. One row per topic with
-- enough papers; a topic without a row matches by its keywords alone.
CREATE TABLE learned_topics (
    topic_id   TEXT    PRIMARY KEY,
    papers     INTEGER NOT NULL,         -- how many papers it was learned from
    floor      REAL    NOT NULL,         -- the closeness nine in ten of them reach
    terms      TEXT    NOT NULL,         -- JSON [[word, weight], ...]: heaviest first, unit length
    learned_at INTEGER NOT NULL          -- unix seconds
);
