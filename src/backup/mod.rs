//! Backup and restore of the whole database, while the service runs and delivers.
//!
//! `backup` takes one consistent snapshot: on SQLite `VACUUM INTO` a new file (one read
//! transaction; writers go on beside it), on PostgreSQL `pg_dump --format=custom` of a
//! snapshot this process exports and counts in. Every table's rows are counted in that
//! same snapshot, and the manifest (`archive.rs`) carries the counts, the last migration,
//! the data's SHA-256, and fingerprints of the signing key and the DKIM key (never a key).
//!
//! `restore` checks all of that before it writes anything: the archive whole and its
//! checksum right, a migration this binary knows, the same signing key, and a target with
//! no tables. SQLite: the file is checked (integrity, migration, counts) beside the target,
//! then renamed into place. PostgreSQL: `pg_restore` in one transaction, then counted.
//! The outbox comes back as it was: what was sent stays sent, what was pending is sent once
//! by the restored service (a mail in flight at the moment of the snapshot, handed to the
//! relay but not yet recorded, is the one that may go twice, as after a crash).

mod archive;
mod pg;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use archive::{DataFile, DkimFingerprint, FORMAT, Manifest};

use crate::config::Config;
use crate::store::{Store, StoreError, TableCounts, latest_known_migration};

/// Why a backup or a restore stopped; each says what to do. A restore that stops has
/// changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0} already exists: name a new file, or remove that one first")]
    Exists(PathBuf),
    #[error("there is no database at {0}: nothing to back up (is PAPERBOY_DATABASE_URL right?)")]
    NoDatabase(String),
    #[error(
        "the database at {0} has no paperboy migrations: it is not a paperboy database (is PAPERBOY_DATABASE_URL right?)"
    )]
    NotPaperboy(String),
    #[error("{0}")]
    Tool(String),
    #[error("{0} is not a paperboy backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("{0} is damaged: {1}; nothing was restored (use another backup)")]
    Damaged(PathBuf, String),
    #[error(
        "the backup was made by paperboy {version} at migration {backup}, and this paperboy knows migrations up to {binary} only: restore it with paperboy {version} or newer"
    )]
    Newer {
        version: String,
        backup: i64,
        binary: i64,
    },
    #[error(
        "the backup is of a {backup} database and PAPERBOY_DATABASE_URL names a {target} one: a backup restores into the same kind of database"
    )]
    Backend { backup: String, target: String },
    #[error(
        "the database at {target} is not empty ({tables} tables, {rows} rows): restore writes only into a database with no tables, so that nothing is mixed or lost; {advice}"
    )]
    NotEmpty {
        target: String,
        tables: usize,
        rows: i64,
        advice: &'static str,
    },
    #[error(
        "the backup was made with another signing key (fingerprint {backup}; this configuration's: {current}). Restored under another key, the links in mails already sent no longer open and erased addresses are no longer recognised. Set PAPERBOY_SECRET (or copy data_dir/secret) as on the installation the backup was made on, or pass --new-secret to restore all the same"
    )]
    Secret { backup: String, current: String },
    #[error(
        "the restored database does not hold what the manifest says ({0}); do not use it: remove it and restore again, or use another backup"
    )]
    Counts(String),
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Rows per table as restored (equal to the manifest's).
    pub counts: TableCounts,
    /// Things the operator should know (a DKIM key that differs from the backup's).
    pub notes: Vec<String>,
}

/// Which kind of database a URL names.
fn backend_of(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(StoreError::from)?;
    Ok(opts.get_filename().to_path_buf())
}

/// A fingerprint of the signing key: HMAC-SHA256 of a fixed text under it, 16 bytes in hex.
/// One-way, and no more than every link token in a mail already shows (an HMAC under the
/// key), so it tells nothing about the key.
fn key_fingerprint(key: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"paperboy key fingerprint v1");
    format!(
        "hmac-sha256:{}",
        archive::hex(&mac.finalize().into_bytes()[..16])
    )
}

fn dkim_fingerprint(config: &Config) -> Option<DkimFingerprint> {
    match crate::mail::dkim_public_key(&config.mail) {
        Ok(Some((domain, selector, public))) => Some(DkimFingerprint {
            domain,
            selector,
            public_key_sha256: archive::hex(&Sha256::digest(&public)),
        }),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the DKIM key cannot be read: the backup names none");
            None
        }
    }
}

/// A folder for work files beside `near` (same file system: a rename into place is
/// atomic), removed with everything in it when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn beside(near: &Path) -> Result<Self, BackupError> {
        let parent = near
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = parent.join(format!(
            ".paperboy-work-{}",
            crate::tokens::random_id(9).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&dir).map_err(|source| BackupError::Io {
            what: format!("cannot create the work folder {}", dir.display()),
            source,
        })?;
        Ok(Self(dir))
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> BackupError {
    move |source| BackupError::Io { what, source }
}

/// Back up the configured database into `file` (a new file): see the module's docs.
pub async fn backup(config: &Config, file: &Path) -> Result<Manifest, BackupError> {
    if file.exists() {
        return Err(BackupError::Exists(file.to_path_buf()));
    }
    let url = &config.database_url;
    let backend = backend_of(url);
    if backend == "sqlite" {
        let path = sqlite_path(url)?;
        if !path.exists() {
            return Err(BackupError::NoDatabase(path.display().to_string()));
        }
    }
    let work = WorkDir::beside(file)?;
    let store = Store::connect_without_migrating(url).await?;
    let taken = match backend {
        "sqlite" => sqlite_snapshot(&store, &work).await,
        _ => pg_snapshot(&store, url, &work).await,
    };
    store.close().await;
    let (data, last_migration, tables, made_with) = taken?;
    let last_migration = last_migration.ok_or_else(|| BackupError::NotPaperboy(redacted(url)))?;
    let (sha256, bytes) =
        archive::sha256_of(&data).map_err(io(format!("cannot read {}", data.display())))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        paperboy_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        backend: backend.into(),
        last_migration,
        tables,
        data: DataFile {
            name: data
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
            sha256,
        },
        made_with,
        secret_fingerprint: config.existing_signing_key().map(|k| key_fingerprint(&k)),
        dkim: dkim_fingerprint(config),
    };
    // Written beside, then renamed: `file` is either the whole backup or not there.
    let partial = work.join("backup.tar");
    archive::write(&partial, &manifest, &data)
        .map_err(io(format!("cannot write {}", partial.display())))?;
    std::fs::hard_link(&partial, file).map_err(io(format!("cannot create {}", file.display())))?;
    Ok(manifest)
}

type Snapshot = (PathBuf, Option<i64>, TableCounts, String);

/// SQLite: `VACUUM INTO` a new file, then count that file (it is the snapshot).
async fn sqlite_snapshot(store: &Store, work: &WorkDir) -> Result<Snapshot, BackupError> {
    let data = work.join("paperboy.db");
    store.sqlite_copy_into(&data).await?;
    let copy = Store::open_sqlite_read_only(&data).await?;
    let counted = async {
        Ok::<_, StoreError>((
            copy.last_migration().await?,
            copy.table_counts().await?,
            copy.engine_version().await?,
        ))
    }
    .await;
    copy.close().await;
    let (last, counts, version) = counted?;
    Ok((data, last, counts, format!("SQLite {version}")))
}

/// PostgreSQL: export a snapshot, count in it, and have pg_dump dump that same snapshot.
async fn pg_snapshot(store: &Store, url: &str, work: &WorkDir) -> Result<Snapshot, BackupError> {
    let last = store.last_migration().await?;
    if last.is_none() {
        return Err(BackupError::NotPaperboy(redacted(url)));
    }
    let server = store.engine_version().await?;
    let server_major = store.pg_server_major().await?.unwrap_or(0);
    let tool = pg::check_pg_dump(server_major)?;
    let mut snapshot = store
        .pg_snapshot()
        .await?
        .expect("a PostgreSQL store exports snapshots");
    let counts = snapshot.counts().await?;
    let data = work.join("paperboy.pgdump");
    let (url, id, to) = (url.to_string(), snapshot.id().to_string(), data.clone());
    // The snapshot stays open (held by `snapshot`) until pg_dump is done with it.
    tokio::task::spawn_blocking(move || pg::dump(&url, &id, &to))
        .await
        .map_err(|e| BackupError::Tool(format!("pg_dump's task failed: {e}")))??;
    drop(snapshot);
    Ok((
        data,
        last,
        counts,
        format!("{tool}; server PostgreSQL {server}"),
    ))
}

/// A database URL without its password, to be shown.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Restore `file` into the configured database, which must have no tables: see the
/// module's docs. `new_secret`: go ahead although the signing key is not the backup's.
pub async fn restore(
    config: &Config,
    file: &Path,
    new_secret: bool,
) -> Result<Restored, BackupError> {
    let opened = archive::open(file)?;
    let manifest = opened.manifest.clone();
    let url = &config.database_url;
    let target = backend_of(url);
    if manifest.backend != target {
        return Err(BackupError::Backend {
            backup: manifest.backend.clone(),
            target: target.into(),
        });
    }
    let known = latest_known_migration(target);
    if manifest.last_migration > known {
        return Err(BackupError::Newer {
            version: manifest.paperboy_version.clone(),
            backup: manifest.last_migration,
            binary: known,
        });
    }
    let current = config.existing_signing_key().map(|k| key_fingerprint(&k));
    if let Some(backup) = &manifest.secret_fingerprint
        && current.as_ref() != Some(backup)
        && !new_secret
    {
        return Err(BackupError::Secret {
            backup: backup.clone(),
            current: current.unwrap_or_else(|| "none yet".into()),
        });
    }
    let mut notes = Vec::new();
    let dkim_now = dkim_fingerprint(config);
    if dkim_now != manifest.dkim {
        notes.push(format!(
            "mail was signed with DKIM {} when the backup was made, and this configuration signs with {}: check the DNS record of the selector in use",
            describe_dkim(manifest.dkim.as_ref()),
            describe_dkim(dkim_now.as_ref())
        ));
    }
    let counts = match target {
        "sqlite" => restore_sqlite(url, file, opened).await?,
        _ => restore_pg(url, opened).await?,
    };
    Ok(Restored {
        manifest,
        counts,
        notes,
    })
}

fn describe_dkim(d: Option<&DkimFingerprint>) -> String {
    match d {
        Some(d) => format!(
            "{}._domainkey.{} (public key sha256 {})",
            d.selector, d.domain, d.public_key_sha256
        ),
        None => "none".into(),
    }
}

/// Tables and rows of a database that must be empty; an error when it is not.
async fn refuse_unless_empty(
    store: &Store,
    target: &str,
    advice: &'static str,
) -> Result<(), BackupError> {
    let counts = store.table_counts().await?;
    if counts.is_empty() {
        return Ok(());
    }
    Err(BackupError::NotEmpty {
        target: target.to_string(),
        tables: counts.len(),
        rows: counts.values().sum(),
        advice,
    })
}

fn compare(manifest: &Manifest, counts: &TableCounts) -> Result<(), BackupError> {
    if &manifest.tables == counts {
        return Ok(());
    }
    let mut diffs = Vec::new();
    for (t, want) in &manifest.tables {
        match counts.get(t) {
            Some(got) if got == want => {}
            Some(got) => diffs.push(format!("{t}: {got} rows, the manifest says {want}")),
            None => diffs.push(format!("{t} is missing")),
        }
    }
    for t in counts.keys().filter(|t| !manifest.tables.contains_key(*t)) {
        diffs.push(format!("{t} is not in the manifest"));
    }
    Err(BackupError::Counts(diffs.join("; ")))
}

async fn restore_sqlite(
    url: &str,
    file: &Path,
    opened: archive::Opened,
) -> Result<TableCounts, BackupError> {
    let target = sqlite_path(url)?;
    let shown = target.display().to_string();
    const ADVICE: &str = "stop the service, and remove the file (with its -wal and -shm) or name another one in PAPERBOY_DATABASE_URL";
    if target.exists() {
        let existing = Store::open_sqlite_read_only(&target).await?;
        let checked = refuse_unless_empty(&existing, &shown, ADVICE).await;
        existing.close().await;
        checked?;
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io(format!("cannot create the folder {}", parent.display())))?;
    }
    let work = WorkDir::beside(&target)?;
    let data = work.join("restoring.db");
    let manifest = opened.extract_data(&data)?;
    // The file itself is checked before it goes into place.
    let copy = Store::open_sqlite_read_only(&data).await?;
    let checked = async {
        Ok::<_, StoreError>((
            copy.sqlite_integrity().await?,
            copy.last_migration().await?,
            copy.table_counts().await?,
        ))
    }
    .await;
    copy.close().await;
    let damaged = |why: String| BackupError::Damaged(file.to_path_buf(), why);
    let (integrity, last, counts) =
        checked.map_err(|e| damaged(format!("its database cannot be read ({e})")))?;
    if integrity != "ok" {
        return Err(damaged(format!(
            "SQLite's integrity check of its database says: {integrity}"
        )));
    }
    if last != Some(manifest.last_migration) {
        return Err(damaged(format!(
            "its database's last migration is {last:?}, the manifest says {}",
            manifest.last_migration
        )));
    }
    compare(&manifest, &counts).map_err(|e| match e {
        BackupError::Counts(why) => damaged(format!(
            "its database is not what the manifest says ({why})"
        )),
        e => e,
    })?;
    // An empty target's journal files go with it, so they cannot be replayed onto the copy.
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", target.display()));
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(format!("cannot replace {}", p.display()))(e));
            }
            _ => {}
        }
    }
    std::fs::rename(&data, &target).map_err(io(format!("cannot move the database to {shown}")))?;
    Ok(counts)
}

async fn restore_pg(url: &str, opened: archive::Opened) -> Result<TableCounts, BackupError> {
    const ADVICE: &str = "create a new database (createdb NAME, or CREATE DATABASE) and name it in PAPERBOY_DATABASE_URL";
    let store = Store::connect_without_migrating(url).await?;
    let result = async {
        refuse_unless_empty(&store, &redacted(url), ADVICE).await?;
        pg::check_pg_restore(&opened.manifest.made_with)?;
        let work = WorkDir::beside(&std::env::temp_dir().join("x"))?;
        let data = work.join("restoring.pgdump");
        let manifest = opened.extract_data(&data)?;
        let (u, d) = (url.to_string(), data.clone());
        tokio::task::spawn_blocking(move || pg::restore(&u, &d))
            .await
            .map_err(|e| BackupError::Tool(format!("pg_restore's task failed: {e}")))??;
        let counts = store.table_counts().await?;
        compare(&manifest, &counts)?;
        Ok::<_, BackupError>(counts)
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_names_the_key_and_shows_nothing_of_it() {
        let a = key_fingerprint(b"test-secret-test-secret-test-secret-0123");
        assert_eq!(
            a,
            key_fingerprint(b"test-secret-test-secret-test-secret-0123")
        );
        assert_ne!(
            a,
            key_fingerprint(b"test-secret-test-secret-test-secret-0124")
        );
        assert!(a.starts_with("hmac-sha256:") && a.len() == "hmac-sha256:".len() + 32);
        assert!(!a.contains("test-secret"));
    }

    #[test]
    fn a_password_is_not_shown() {
        assert_eq!(
            redacted("postgres://ada:hunter2@db/paperboy"),
            "postgres://ada:***@db/paperboy"
        );
        assert_eq!(redacted("postgres://ada@db/p"), "postgres://ada@db/p");
    }
}
