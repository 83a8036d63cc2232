-- A category's profile carries a floor, as a topic's does (matching::LearnedTopic::floor):
-- a topic reader's common field takes a day's paper into a category only when it is at
-- least that close. Profiles stored before have none (0) until the next ingest relearns them.
ALTER TABLE learned_categories ADD COLUMN floor REAL NOT NULL DEFAULT 0;
