-- The outbox: one digest per (subscriber, day), unique, holding what to send (papers and
-- reasons as JSON), not the rendered mail; rendering happens at delivery.
CREATE TABLE digests (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id   BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    day             TEXT    NOT NULL,           -- YYYY-MM-DD, the digest's date
    content         TEXT    NOT NULL,           -- JSON: kind and entries (paper, version, reasons)
    message_id      TEXT    NOT NULL,           -- stable across retries
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'bounced', 'failed', 'skipped')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,           -- unix seconds; pending rows wait until then
    lease_until     BIGINT,                    -- a 'sending' row whose lease ran out is claimed again
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    UNIQUE (subscriber_id, day)
);
CREATE INDEX digests_due ON digests (status, next_attempt_at);
CREATE INDEX digests_day ON digests (day, status);

-- Every delivery attempt and its outcome.
CREATE TABLE delivery_attempts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest_id  BIGINT  NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    outcome    TEXT    NOT NULL,                -- sent, retry, bounced, failed, skipped
    detail     TEXT
);
CREATE INDEX delivery_attempts_digest ON delivery_attempts (digest_id);

-- Papers already put in a reader's digest, so a later day does not send them again.
CREATE TABLE sent_papers (
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    paper_id      TEXT    NOT NULL,
    version       BIGINT,
    day           TEXT    NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
);
