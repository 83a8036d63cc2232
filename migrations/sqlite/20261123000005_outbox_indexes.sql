-- Papers sent, keyed by paper first. Composing a day asks "which of these readers were sent
-- today's papers before?" only for the few papers some reader was sent at all, so that
-- question costs a seek per paper, not a scan of every reader's history. The second index
-- serves erasure (ON DELETE CASCADE). WITHOUT ROWID: one B-tree, not a table and its key.
CREATE TABLE sent_papers_by_paper (
    paper_id      TEXT    NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    version       INTEGER,
    day           TEXT    NOT NULL,
    PRIMARY KEY (paper_id, subscriber_id)
) WITHOUT ROWID;
INSERT INTO sent_papers_by_paper (paper_id, subscriber_id, version, day)
    SELECT paper_id, subscriber_id, version, day FROM sent_papers;
DROP TABLE sent_papers;
ALTER TABLE sent_papers_by_paper RENAME TO sent_papers;
CREATE INDEX sent_papers_subscriber ON sent_papers (subscriber_id);

-- Nothing looks digests up by day alone; (subscriber_id, day) is UNIQUE already. One
-- B-tree fewer to write for every digest composed and every outcome recorded.
DROP INDEX digests_day;
