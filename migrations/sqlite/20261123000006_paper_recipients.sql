-- Who was sent a paper: one row a paper, version, write and block of 4,096 subscriber ids
-- (block = id >> 12), its readers packed as 4-byte big-endian ids in ascending order,
-- instead of one sent_papers row a (paper, reader). A day for a million readers is about
-- eleven million such pairs, and a row each (in two B-trees) cost as much to write as the
-- digests themselves. Composing reads the rows of the few papers sent before in its batch's
-- blocks by an index range: one row per day and write that reached the block, not every
-- earlier row of the paper. Erasure leaves a
-- reader's id behind in these rows: an id names no one once the subscriber row is gone, and
-- ids are never reused.
CREATE TABLE paper_recipients (
    paper_id     TEXT    NOT NULL,
    version      INTEGER,
    day          TEXT    NOT NULL,           -- the digest date it went out for
    block        INTEGER NOT NULL,           -- subscriber id >> 12
    readers      BLOB    NOT NULL
);
CREATE INDEX paper_recipients_paper ON paper_recipients (paper_id, block);

INSERT INTO paper_recipients (paper_id, version, day, block, readers)
    SELECT paper_id, version, day, subscriber_id >> 12,
           unhex(group_concat(printf('%08X', subscriber_id), '' ORDER BY subscriber_id))
    FROM sent_papers
    GROUP BY paper_id, version, day, subscriber_id >> 12;
DROP TABLE sent_papers;
