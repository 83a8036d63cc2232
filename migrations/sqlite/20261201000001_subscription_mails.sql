-- The outbox of subscription mails: confirmation, "already subscribed" and welcome. A row is
-- written in the same transaction as the change that causes it (a sign-up, a confirmation)
-- and sent by the delivery worker ahead of digests, under the same leases and retries. It
-- holds what to send, not the rendered mail: links are made when it goes out.
CREATE TABLE subscription_mails (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('confirmation', 'already_subscribed', 'welcome')),
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    client_ip       TEXT,                       -- who asked, for the per-client hourly limit
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'bounced', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claim_token     INTEGER,                    -- the claim holding the lease; only it records the outcome
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX subscription_mails_due ON subscription_mails (status, next_attempt_at);
CREATE INDEX subscription_mails_subscriber ON subscription_mails (subscriber_id, created_at);
CREATE INDEX subscription_mails_client ON subscription_mails (client_ip, created_at);

CREATE TABLE subscription_mail_attempts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    mail_id  INTEGER NOT NULL REFERENCES subscription_mails (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    outcome  TEXT    NOT NULL,                  -- sent, retry, bounced, failed, skipped
    detail   TEXT
);
CREATE INDEX subscription_mail_attempts_mail ON subscription_mail_attempts (mail_id);

-- The hourly limits now count the outbox; the mails sent before are kept there as sent
-- (which of the two kinds each was is not known: they count as confirmations).
INSERT INTO subscription_mails (kind, subscriber_id, client_ip, status, attempts, next_attempt_at, created_at, sent_at)
    SELECT 'confirmation', subscriber_id, client_ip, 'sent', 1, sent_at, sent_at, sent_at FROM confirmation_mails;
DROP TABLE confirmation_mails;

-- Digests carry their claim too: an outcome is recorded only by the claim that holds the lease.
ALTER TABLE digests ADD COLUMN claim_token INTEGER;
