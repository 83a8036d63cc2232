-- Subscribers and the confirmation mails sent to them.
-- Times are unix seconds (integers) so that SQLite and PostgreSQL store them alike.
CREATE TABLE subscribers (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id          TEXT    NOT NULL UNIQUE,
    email              TEXT    NOT NULL UNIQUE,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'suppressed')),
    interests          TEXT    NOT NULL,          -- JSON: topics, keywords, authors
    frequency          TEXT    NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    weekday            BIGINT  CHECK (weekday BETWEEN 0 AND 6),  -- 0 = Monday, weekly only
    delivery_hour      BIGINT  NOT NULL CHECK (delivery_hour BETWEEN 0 AND 23),
    timezone           TEXT    NOT NULL,
    papers_per_digest  BIGINT  NOT NULL CHECK (papers_per_digest BETWEEN 1 AND 50),
    send_when_empty    BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    consent_at         BIGINT  NOT NULL,
    consent_ip         TEXT,
    confirmed_at       BIGINT,
    unsubscribed_at    BIGINT,
    suppressed_at      BIGINT,
    suppression_reason TEXT
);
CREATE INDEX subscribers_status ON subscribers (status, created_at);

CREATE TABLE confirmation_mails (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    client_ip     TEXT,
    sent_at       BIGINT  NOT NULL
);
CREATE INDEX confirmation_mails_subscriber ON confirmation_mails (subscriber_id, sent_at);
CREATE INDEX confirmation_mails_client ON confirmation_mails (client_ip, sent_at);
