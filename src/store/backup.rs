//! What a backup and a restore ask of the database: its tables and their rows, the last
//! migration applied, a consistent copy (SQLite's `VACUUM INTO`) or a snapshot that
//! `pg_dump` takes over (PostgreSQL's `pg_export_snapshot`), and a look at a SQLite file
//! that changes nothing in it.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{Pool, Store, StoreError, on_pool};

/// Rows per table, by name.
pub type TableCounts = BTreeMap<String, i64>;

/// The newest migration this binary holds for `backend` ("sqlite" or "postgres").
pub(crate) fn latest_known_migration(backend: &str) -> i64 {
    let migrator = match backend {
        "sqlite" => sqlx::migrate!("migrations/sqlite"),
        _ => sqlx::migrate!("migrations/postgres"),
    };
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// A table name as an SQL identifier (names come from the database's own catalogue).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL snapshot held open (a read-only repeatable-read transaction) so that
/// `pg_dump --snapshot` sees the same rows as [`PgSnapshot::counts`]. Dropping it ends it.
pub(crate) struct PgSnapshot {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    id: String,
}

impl PgSnapshot {
    /// What `pg_dump --snapshot=` takes.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Rows per table as this snapshot sees them.
    pub(crate) async fn counts(&mut self) -> Result<TableCounts, StoreError> {
        let names: Vec<(String,)> = sqlx::query_as(PG_TABLES).fetch_all(&mut *self.tx).await?;
        let mut counts = TableCounts::new();
        for (name,) in names {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}",
                quoted(&name)
            )))
            .fetch_one(&mut *self.tx)
            .await?;
            counts.insert(name, n);
        }
        Ok(counts)
    }
}

/// The tables (plain and partitioned) of the schema the connection works in.
const PG_TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1";
const SQLITE_TABLES: &str = "SELECT name FROM sqlite_master \
     WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

impl Store {
    /// Open a SQLite file to read it and nothing else: not created when missing, its journal
    /// mode left as it is, so the file is not changed by looking (a backup's copy before its
    /// checksum, a restore's target).
    pub(crate) async fn open_sqlite_read_only(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool: Pool::Sqlite {
                read: pool.clone(),
                write: pool,
            },
        })
    }

    /// The database's tables, by name: paperboy's and any other.
    pub(crate) async fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let sql = match self.pool {
            Pool::Sqlite { .. } => SQLITE_TABLES,
            Pool::Postgres(_) => PG_TABLES,
        };
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await)?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    /// Rows per table. Each count is its own statement: on a database being written to,
    /// they are not one moment's (a backup counts its own copy or snapshot instead).
    pub(crate) async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        let mut counts = TableCounts::new();
        for name in self.table_names().await? {
            let (n,): (i64,) = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(
                format!("SELECT COUNT(*) FROM {}", quoted(&name))))
                .fetch_one(p).await)?;
            counts.insert(name, n);
        }
        Ok(counts)
    }

    /// The newest migration applied (successfully); None when the database has no
    /// migrations table (not a paperboy database, or an empty one).
    pub(crate) async fn last_migration(&self) -> Result<Option<i64>, StoreError> {
        if !self
            .table_names()
            .await?
            .iter()
            .any(|t| t == "_sqlx_migrations")
        {
            return Ok(None);
        }
        let (v,): (Option<i64>,) = on_pool!(self, p => sqlx::query_as(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success").fetch_one(p).await)?;
        Ok(v)
    }

    /// SQLite: a consistent copy of the whole database into `path` (a new file), made in
    /// one read transaction: writers go on meanwhile (WAL), and the copy is the database as
    /// it was when the copy began. Compacted, and in rollback-journal mode.
    pub(crate) async fn sqlite_copy_into(&self, path: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite { read, .. } = &self.pool else {
            return Err(StoreError::Corrupt {
                what: "backup".into(),
                why: "VACUUM INTO is SQLite's; this store is PostgreSQL".into(),
            });
        };
        sqlx::query("VACUUM INTO $1")
            .bind(path.display().to_string())
            .execute(read)
            .await?;
        Ok(())
    }

    /// SQLite: `PRAGMA integrity_check`'s answer, "ok" when the file is sound.
    pub(crate) async fn sqlite_integrity(&self) -> Result<String, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|(r,)| r)
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// The database engine's version: SQLite's library, or the PostgreSQL server's.
    pub(crate) async fn engine_version(&self) -> Result<String, StoreError> {
        let (v,): (String,) = match &self.pool {
            Pool::Sqlite { read, .. } => {
                sqlx::query_as("SELECT sqlite_version()")
                    .fetch_one(read)
                    .await?
            }
            Pool::Postgres(p) => sqlx::query_as("SHOW server_version").fetch_one(p).await?,
        };
        Ok(v)
    }

    /// PostgreSQL: the server's major version (15 for 15.4).
    pub(crate) async fn pg_server_major(&self) -> Result<Option<u32>, StoreError> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(None);
        };
        let (v,): (String,) = sqlx::query_as("SHOW server_version_num")
            .fetch_one(p)
            .await?;
        Ok(v.trim().parse::<u32>().ok().map(|n| n / 10_000))
    }

    /// PostgreSQL: begin a read-only repeatable-read transaction and export its snapshot,
    /// for `pg_dump --snapshot` to dump exactly what [`PgSnapshot::counts`] counts.
    pub(crate) async fn pg_snapshot(&self) -> Result<Option<PgSnapshot>, StoreError> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(None);
        };
        let mut tx = p.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let (id,): (String,) = sqlx::query_as("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Some(PgSnapshot { tx, id }))
    }
}
