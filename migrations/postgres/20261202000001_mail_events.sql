-- What mail servers said about a message after it left: bounces (during the SMTP
-- transaction or later, as a DSN or a provider's event) and complaints. One row per event
-- and reader; the rule that turns them into suppressions lives in domain::BouncePolicy.
CREATE TABLE mail_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    -- The message it is about, when known (a VERP tag names it): its outbox and row.
    message_kind  TEXT    CHECK (message_kind IN ('digest', 'subscription_mail')),
    message_id    BIGINT,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'delayed', 'complaint')),
    status        TEXT,                         -- RFC 3463 code, e.g. 5.1.1
    diagnostic    TEXT,                         -- what the far server said, at most 1,000 characters
    source        TEXT    NOT NULL CHECK (source IN ('relay', 'listener', 'mailbox', 'ses', 'postmark', 'sendgrid', 'mailgun')),
    -- What it did: suppressed the reader, or only noted.
    effect        TEXT    NOT NULL CHECK (effect IN ('suppressed', 'noted')),
    -- The same report seen twice (a mailbox read again, a webhook replayed) is kept once.
    dedupe_key    TEXT    UNIQUE,
    at            BIGINT  NOT NULL
);
CREATE INDEX mail_events_subscriber ON mail_events (subscriber_id, kind, at);
CREATE INDEX mail_events_at ON mail_events (at);
