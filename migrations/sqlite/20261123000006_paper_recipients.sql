-- Who was sent a paper: one row a paper, version and writing group, its readers packed as
-- 4-byte big-endian subscriber ids in ascending order, instead of one sent_papers row a
-- (paper, reader). A day for a million readers is about eleven million such pairs, and a
-- row each (in two B-trees) cost as much to write as the digests themselves. Composing
-- reads the rows of the few papers sent before that overlap its batch of readers
-- (first_reader..last_reader). Erasure leaves a reader's id behind in these rows: an id
-- names no one once the subscriber row is gone, and ids are never reused.
CREATE TABLE paper_recipients (
    paper_id     TEXT    NOT NULL,
    version      INTEGER,
    day          TEXT    NOT NULL,           -- the digest date it went out for
    first_reader INTEGER NOT NULL,
    last_reader  INTEGER NOT NULL,
    readers      BLOB    NOT NULL
);
CREATE INDEX paper_recipients_paper ON paper_recipients (paper_id, first_reader);

INSERT INTO paper_recipients (paper_id, version, day, first_reader, last_reader, readers)
    SELECT paper_id, version, day, MIN(subscriber_id), MAX(subscriber_id),
           unhex(group_concat(printf('%08X', subscriber_id), '' ORDER BY subscriber_id))
    FROM sent_papers
    GROUP BY paper_id, version, day;
DROP TABLE sent_papers;
