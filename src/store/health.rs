//! What the health checks ask of the database (`src/health`): the migrations applied
//! against the binary's own, how much of the outbox is due and since when, and the last
//! ingest that succeeded. Each is an index seek or a small table, cheap enough for a
//! readiness probe every few seconds.

use sqlx::migrate::Migrator;

use super::outbox::OutboxTable;
use super::{Pool, Store, StoreError, on_pool};

/// The migrations built into this binary (the same ones `Store::migrate` applies).
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database's migrations against the binary's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// Migrations built into this binary.
    pub embedded: usize,
    /// Migrations recorded as applied in the database.
    pub applied: usize,
    /// The binary's migrations not applied yet (by version).
    pub pending: Vec<i64>,
    /// Applied migrations this binary does not have: a newer paperboy migrated the database.
    pub unknown: Vec<i64>,
    /// Applied migrations whose file has changed since (their checksums differ).
    pub changed: Vec<i64>,
    /// Migrations recorded as started but not finished.
    pub failed: Vec<i64>,
}

impl MigrationState {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.changed.is_empty()
            && self.failed.is_empty()
    }
}

/// The due part of one outbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueMail {
    /// Rows due now (pending and their time come, or claimed by a worker whose lease ran
    /// out), counted up to the cap given.
    pub due: i64,
    /// Since when (Unix seconds) the longest-waiting of them has been due.
    pub oldest_due_since: Option<i64>,
}

impl Store {
    /// The migrations applied to this database against the binary's.
    pub async fn migration_state(&self) -> Result<MigrationState, StoreError> {
        let (migrator, exists_sql) = match self.pool {
            Pool::Sqlite { .. } => (
                &SQLITE_MIGRATIONS,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            ),
            Pool::Postgres(_) => (
                &POSTGRES_MIGRATIONS,
                "SELECT COUNT(*) FROM pg_tables WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()",
            ),
        };
        let tables: i64 = on_pool!(self, p => sqlx::query_scalar(exists_sql).fetch_one(p).await)?;
        let applied: Vec<(i64, Vec<u8>, bool)> = if tables > 0 {
            on_pool!(self, p => sqlx::query_as(
                "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(p).await)?
        } else {
            Vec::new()
        };
        let embedded: Vec<_> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .collect();
        let mut state = MigrationState {
            embedded: embedded.len(),
            applied: applied.len(),
            ..Default::default()
        };
        for m in &embedded {
            match applied.iter().find(|(v, _, _)| *v == m.version) {
                None => state.pending.push(m.version),
                Some((_, checksum, success)) => {
                    if !success {
                        state.failed.push(m.version);
                    } else if checksum.as_slice() != &*m.checksum {
                        state.changed.push(m.version);
                    }
                }
            }
        }
        state.unknown = applied
            .iter()
            .map(|(v, _, _)| *v)
            .filter(|v| !embedded.iter().any(|m| m.version == *v))
            .collect();
        Ok(state)
    }

    /// The due rows of `table` at `now` (counted up to `cap`), and since when the oldest has
    /// been due.
    pub async fn due_mail(
        &self,
        table: OutboxTable,
        now: i64,
        cap: i64,
    ) -> Result<DueMail, StoreError> {
        let t = table.table();
        // The same condition a claim takes rows by (store/outbox.rs), so "due" here is what
        // a worker would take now.
        let count = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {t} WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'sending' AND lease_until < $1) LIMIT $2) AS due"
        );
        // Two seeks on the (status, next_attempt_at) index, not a scan of what is due.
        let oldest = format!(
            "SELECT MIN(since) FROM (\
             SELECT MIN(next_attempt_at) AS since FROM {t} WHERE status = 'pending' AND next_attempt_at <= $1 \
             UNION ALL \
             SELECT MIN(lease_until) AS since FROM {t} WHERE status = 'sending' AND lease_until < $1) AS due"
        );
        let due: i64 = on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()))
            .bind(now).bind(cap).fetch_one(p).await)?;
        let oldest_due_since: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            sqlx::AssertSqlSafe(oldest.clone())).bind(now).fetch_one(p).await)?;
        Ok(DueMail {
            due,
            oldest_due_since,
        })
    }

    /// When (Unix seconds) the last ingest run that succeeded finished.
    pub async fn last_successful_ingest(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(finished_at) FROM ingest_runs WHERE finished_at IS NOT NULL AND error IS NULL")
            .fetch_one(p).await)?)
    }

    /// The SQLite file a `sqlite:` URL names (`None` for another database, or an in-memory
    /// one), so that a check can say it is missing rather than create it.
    pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
        use std::str::FromStr;
        if !url.starts_with("sqlite:") {
            return None;
        }
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
        let path = opts.get_filename();
        (!path.as_os_str().is_empty() && path != std::path::Path::new(":memory:"))
            .then(|| path.to_path_buf())
    }
}
