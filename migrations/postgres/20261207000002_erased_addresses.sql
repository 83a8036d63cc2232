-- Do-not-contact records left by erasing a reader: the HMAC-SHA256 of the normalised
-- address under a key derived from the service's secret (domain::ErasureKey says why a
-- guess cannot be tested without that secret), and when. Nothing else about the reader is
-- kept. An operator's `subscribers add` (and any import) refuses an address found here; its
-- owner may sign up again through the form, and confirming removes the record.
CREATE TABLE erased_addresses (
    hash      TEXT    PRIMARY KEY,      -- 64 hex digits
    erased_at BIGINT  NOT NULL          -- unix seconds
);
