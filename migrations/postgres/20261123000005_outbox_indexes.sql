-- Papers sent, keyed by paper first. Composing a day asks "which of these readers were sent
-- today's papers before?" only for the few papers some reader was sent at all, so that
-- question costs a seek per paper, not a scan of every reader's history. The second index
-- serves erasure (ON DELETE CASCADE).
ALTER TABLE sent_papers DROP CONSTRAINT sent_papers_pkey;
ALTER TABLE sent_papers ADD PRIMARY KEY (paper_id, subscriber_id);
CREATE INDEX sent_papers_subscriber ON sent_papers (subscriber_id);

-- Nothing looks digests up by day alone; (subscriber_id, day) is UNIQUE already. One
-- B-tree fewer to write for every digest composed and every outcome recorded.
DROP INDEX digests_day;
