-- Each category's profile set also against the other papers nearest it (matching::
-- LearnedTopics::zones, "query-zone" Rocchio), learned and replaced with learned_categories:
-- "more like these" places a liked paper by its own categories through these. A category
-- without a row here (profiles stored before this table) uses its learned_categories row.
CREATE TABLE learned_zones (
    category   TEXT    PRIMARY KEY,      -- lower-cased, e.g. cs.lg
    papers     BIGINT  NOT NULL,         -- how many papers of the category it was learned from
    floor      DOUBLE PRECISION NOT NULL,
    terms      TEXT    NOT NULL,         -- JSON [[word, weight], ...]: heaviest first, unit length
    learned_at BIGINT  NOT NULL          -- unix seconds
);
