-- Where a reader's consent came from when it was not this service's own form or API: an
-- import names its file (or the source a row of it gave). NULL: the form or the API, from
-- consent_ip.
ALTER TABLE subscribers ADD COLUMN consent_source TEXT;
