-- Operators of the console (/admin): a name and an argon2id hash of their password, set by
-- `paperboy operator set-password`. The admin token signs in too, as "admin token".
CREATE TABLE operators (
    name          TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,         -- PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Console sessions, shared by every instance: the SHA-256 of the cookie's random token (a
-- leaked table opens no session), who, and until when.
CREATE TABLE operator_sessions (
    token_hash TEXT    PRIMARY KEY,
    operator   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);
