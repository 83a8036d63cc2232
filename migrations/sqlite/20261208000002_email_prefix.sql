-- The console finds readers by the start of their address, one range of the address's
-- unique index in byte order: SQLite's column is BINARY (byte order) already, and
-- PostgreSQL's is made so by this migration there. Nothing to change here; the file keeps
-- the two databases' migrations in step.
SELECT 1;
