-- Every change an operator makes, from the CLI, the admin API or the console: who (the kind
-- of actor and its name), when, from where, what, to what, and a short before and after.
-- An erased reader is named by id only: the log must not keep what erasing removed.
-- Kept for [retention] audit_days.
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT  NOT NULL,            -- unix seconds
    actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('cli', 'api', 'console')),
    actor      TEXT    NOT NULL,            -- the system user, "admin token", the operator
    origin     TEXT,                        -- the client's address, or the host
    action     TEXT    NOT NULL,
    subject    TEXT,                        -- an address, a file, "subscriber 42"
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
