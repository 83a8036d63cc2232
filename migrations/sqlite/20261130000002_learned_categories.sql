-- One profile per arXiv category with enough stored papers (matching::TopicLearner), learned
-- and replaced with learned_topics: "more like these" places a liked paper by its own
-- categories through them.
CREATE TABLE learned_categories (
    category   TEXT    PRIMARY KEY,      -- lower-cased, e.g. cs.lg
    papers     INTEGER NOT NULL,         -- how many papers it was learned from
    terms      TEXT    NOT NULL,         -- JSON [[word, weight], ...]: heaviest first, unit length
    learned_at INTEGER NOT NULL          -- unix seconds
);
