-- A reader's ratings of papers from their digests: "more like this" or "fewer like this".
-- One row per (reader, paper): a later rating replaces an earlier one. The store keeps a
-- bounded number per reader (the latest), so a reader who rates everything stays cheap.
-- paper_id is not a foreign key: a rating outlives the paper's row (papers can be pruned),
-- and a hidden paper must stay hidden if it is ingested again.
CREATE TABLE ratings (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    paper_id      TEXT    NOT NULL,
    rating        TEXT    NOT NULL CHECK (rating IN ('more', 'fewer')),
    at            INTEGER NOT NULL,         -- unix seconds of the latest rating
    PRIMARY KEY (subscriber_id, paper_id)
);
-- The latest first, for the bound and for listing.
CREATE INDEX ratings_latest ON ratings (subscriber_id, at);
