//! All SQL lives here. One interface over SQLite (the embedded default) and PostgreSQL:
//! the same statements run on both (`$n` placeholders, `ON CONFLICT`, `RETURNING`), sent
//! through each database's own driver.

mod audit;
mod backup;
mod digests;
mod erased;
mod health;
mod mail_events;
mod operators;
mod outbox;
mod papers;
mod ratings;
mod recipients;
mod retention;
mod stats;
mod subscribers;
mod subscription_mails;
mod topics;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgPool, SqlitePool};

pub use audit::{AuditFilter, StoredAudit};
pub use backup::TableCounts;
pub(crate) use backup::latest_known_migration;
pub use digests::{ClaimedDigest, ComposeLock, NewDigest, StoredDigest};
pub use health::{DueMail, MigrationState};
pub use mail_events::{EventFilter, EventOutcome, NewMailEvent, StoredMailEvent};
pub use outbox::{Claim, Claimed, OutboxTable, Outcome};
pub use papers::{ComposingCache, ComposingStamp, IngestRun, StoredPaper, UpsertCounts};
pub use ratings::RateOutcome;
pub(crate) use retention::{Aged, Removed};
pub(crate) use stats::DAY;
pub use stats::JobRun;
pub use subscribers::{AskOutcome, ListFilter, MailLimits, SubscribeOutcome};
pub(crate) use subscribers::{ImportedChange, ImportedReader};
pub use subscription_mails::{ClaimedMail, StoredMail};
pub use topics::{LabelledText, LearnedSummary};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database URL {0:?} is neither sqlite://… nor postgres://…")]
    UnknownScheme(String),
    /// A stored row that does not read back as what was written: every row must.
    #[error(
        "stored {what} is corrupt: {why} (written by a bug or changed by hand: mend or delete that row)"
    )]
    Corrupt { what: String, why: String },
    /// Other requests changed a row between each of our reads and writes: try again.
    #[error("{0} changed under every attempt to update it: too many requests at once, try again")]
    Contended(String),
    #[error(
        "subscriber id {0} does not fit the 4 bytes a reader takes in paper_recipients; ids this large need a wider format there"
    )]
    IdTooLarge(i64),
    #[error("the system's random source failed: {0}; check /dev/urandom")]
    Random(String),
    #[error("cannot create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
}

#[derive(Clone, Debug)]
enum Pool {
    /// SQLite takes one writer at a time: writes queue for the single write connection
    /// (in order, no busy-wait sleeps) while reads share the others.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

/// Run the same statement-building expression against whichever pool this store holds.
/// `$p` is bound to the concrete pool, so each arm is type-checked for its database.
/// `on_pool!` is for reads; `on_writer!` for anything that writes.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite { read: $p, .. } => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
macro_rules! on_writer {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite { write: $p, .. } => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use {on_pool, on_writer};

/// Run `work`, a transaction begun on behalf of a web request, on its own task, so that the
/// request being dropped (a client that hangs up) cannot cut it off. On PostgreSQL, sqlx
/// 0.9.0 hands the next borrower a connection still inside the transaction of a `begin()`
/// cancelled mid-round-trip (transact-rs/sqlx#4393, fixed upstream after 0.9.0): their
/// statements then ran in it, uncommitted and holding row locks, and a benchmark's last
/// subscription mails sat invisible for ten minutes, then went out twice.
pub(crate) async fn uncancelled<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Bound parameters in chunks of this many for `IN (...)` lists: within every driver's limit.
pub(crate) const IN_CHUNK: usize = 500;

/// `$first, $first+1, ...`: `n` placeholders for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Bring the planner's statistics up to date before composing walks every reader. On
    /// PostgreSQL, without them (a fresh import, before autovacuum's first ANALYZE) the
    /// batch walk was planned as a bitmap scan of every reader after the batch and a sort,
    /// for every batch: 31 ms a batch at 300,000 readers against 2.7 ms with statistics,
    /// and quadratic in the readers. ANALYZE samples a fixed number of rows (0.37 s for the
    /// three tables at 300,000 readers). SQLite's walk has an index that fits it exactly.
    pub(crate) async fn refresh_statistics(&self) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("ANALYZE subscribers, digests, paper_recipients")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Connect (creating a SQLite file and its folder if missing) and apply migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) async fn connect_without_migrating(url: &str) -> Result<Self, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            // A new file frees pages incrementally (retention returns them after it removes
            // rows); the setting takes effect only in a file created with it, and is a no-op
            // on one created before (`paperboy maintenance run` says so).
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .auto_vacuum(SqliteAutoVacuum::Incremental)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(parent) = opts
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Folder(parent.display().to_string(), e))?;
            }
            // The writer keeps 64 MiB of pages: composing a day writes thousands of digests a
            // transaction, and their pages stay in memory until it commits.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone().pragma("cache_size", "-65536"))
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Pool::Sqlite { read, write }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?,
            )
        } else {
            return Err(StoreError::UnknownScheme(url.chars().take(40).collect()));
        };
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
            Pool::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip, for `/healthz`.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}
