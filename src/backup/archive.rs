//! The backup file: a tar archive of two members, `manifest.json` first (what the backup
//! holds, checked before anything is restored), then the data (a SQLite database file, or
//! a `pg_dump` custom-format archive), whose SHA-256 the manifest carries.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::BackupError;

/// What the first member of every backup says it is. A later layout gets a new one.
pub const FORMAT: &str = "paperboy-backup 1";
pub(crate) const MANIFEST: &str = "manifest.json";
/// A manifest is a few kilobytes; anything much larger is not one.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What a backup holds, written beside the data and read back before restoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The paperboy that made it.
    pub paperboy_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// "sqlite" or "postgres": it restores into the same kind of database.
    pub backend: String,
    /// The newest migration applied to the database backed up: a binary that does not
    /// know it refuses to restore it.
    pub last_migration: i64,
    /// Rows per table in the data, counted in the same snapshot the data was taken from.
    pub tables: BTreeMap<String, i64>,
    pub data: DataFile,
    /// The SQLite library, or `pg_dump --version` and the server's version.
    pub made_with: String,
    /// A fingerprint of the signing key the service ran with (never the key): HMAC-SHA256
    /// of a fixed text under the key. Restoring under another key breaks the links in mails
    /// already sent and the do-not-contact records of erased addresses.
    pub secret_fingerprint: Option<String>,
    /// The DKIM key's public half, fingerprinted; absent when mail was not signed.
    pub dkim: Option<DkimFingerprint>,
}

/// The data member: its name in the archive, size and SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Which DKIM key signed the mail: SHA-256 of the public key as its DNS record publishes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimFingerprint {
    pub domain: String,
    pub selector: String,
    pub public_key_sha256: String,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 and size of a file.
pub(crate) fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut w = Hashing::new(std::io::sink());
    std::io::copy(&mut f, &mut w)?;
    Ok(w.finish())
}

/// A writer that hashes and counts what goes through it. SHA-256 by aws-lc (already in the
/// tree for TLS): its assembly hashes a gigabyte in a few seconds even in a debug build,
/// where RustCrypto's `sha2` unoptimised took ten times as long.
struct Hashing<W> {
    inner: W,
    hash: digest::Context,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hash: digest::Context::new(&digest::SHA256),
            bytes: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (hex(self.hash.finish().as_ref()), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A new file readable by its owner only: a backup holds every reader's address.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(crate::clock::timestamp().max(0) as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Write the archive to `out` (a new file): the manifest, then the data file.
pub(crate) fn write(out: &Path, manifest: &Manifest, data: &Path) -> std::io::Result<()> {
    let file = create_private(out)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let mut h = header(json.len() as u64);
    tar.append_data(&mut h, MANIFEST, json.as_slice())?;
    let mut h = header(manifest.data.bytes);
    tar.append_data(&mut h, &manifest.data.name, std::fs::File::open(data)?)?;
    let file = tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// A backup opened for reading: its manifest read and checked for shape, the data not yet.
pub(crate) struct Opened {
    pub manifest: Manifest,
    archive: tar::Archive<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
}

fn not_a_backup(path: &Path, why: impl std::fmt::Display) -> BackupError {
    BackupError::NotABackup(path.to_path_buf(), why.to_string())
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> BackupError {
    BackupError::Damaged(path.to_path_buf(), why.to_string())
}

/// Open `path` and read its manifest.
pub(crate) fn open(path: &Path) -> Result<Opened, BackupError> {
    let file = std::fs::File::open(path).map_err(|source| BackupError::Io {
        what: format!("cannot open {}", path.display()),
        source,
    })?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let manifest = {
        let mut entries = archive
            .entries()
            .map_err(|e| not_a_backup(path, format!("not a tar archive ({e})")))?;
        let mut first = match entries.next() {
            Some(Ok(e)) => e,
            Some(Err(e)) => return Err(not_a_backup(path, format!("not a tar archive ({e})"))),
            None => return Err(not_a_backup(path, "the file is empty")),
        };
        let name = first
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if name != MANIFEST {
            return Err(not_a_backup(
                path,
                format!("its first member is {name:?}, not {MANIFEST}"),
            ));
        }
        if first.header().size().unwrap_or(u64::MAX) > MAX_MANIFEST_BYTES {
            return Err(not_a_backup(path, "its manifest is too large to be one"));
        }
        let mut text = Vec::new();
        first
            .by_ref()
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut text)
            .map_err(|e| damaged(path, format!("the manifest cannot be read ({e})")))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| damaged(path, format!("the manifest is not JSON ({e})")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(not_a_backup(
                    path,
                    format!(
                        "its format is {other:?}; this paperboy reads {FORMAT:?} (a newer paperboy made it?)"
                    ),
                ));
            }
            None => return Err(not_a_backup(path, "its manifest names no format")),
        }
        serde_json::from_value::<Manifest>(value)
            .map_err(|e| damaged(path, format!("the manifest is incomplete ({e})")))?
    };
    if manifest.data.name.contains('/') || manifest.data.name.is_empty() {
        return Err(damaged(path, "the manifest names no plain data file"));
    }
    // The archive's reader has moved past the manifest; read the rest from a fresh one.
    let file = std::fs::File::open(path).map_err(|source| BackupError::Io {
        what: format!("cannot open {}", path.display()),
        source,
    })?;
    Ok(Opened {
        manifest,
        archive: tar::Archive::new(std::io::BufReader::new(file)),
        path: path.to_path_buf(),
    })
}

impl Opened {
    /// Copy the data member to `to` (a new file), checking its size and SHA-256 against
    /// the manifest; a backup cut short or changed is refused here, before anything is
    /// restored from it. `to` is removed again on any failure.
    pub(crate) fn extract_data(mut self, to: &Path) -> Result<Manifest, BackupError> {
        let result = self.extract_into(to);
        if result.is_err() {
            let _ = std::fs::remove_file(to);
        }
        result.map(|()| self.manifest)
    }

    fn extract_into(&mut self, to: &Path) -> Result<(), BackupError> {
        let path = self.path.clone();
        let want = self.manifest.data.clone();
        let mut found = false;
        let entries = self
            .archive
            .entries()
            .map_err(|e| damaged(&path, format!("the archive cannot be read ({e})")))?;
        for (i, entry) in entries.enumerate() {
            let mut entry =
                entry.map_err(|e| damaged(&path, format!("the archive is cut short ({e})")))?;
            let name = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match (i, name.as_str()) {
                (0, MANIFEST) => continue,
                (1, n) if n == want.name => {}
                (_, n) => {
                    return Err(damaged(
                        &path,
                        format!("it holds {n:?}, which a backup does not"),
                    ));
                }
            }
            let out = create_private(to).map_err(|source| BackupError::Io {
                what: format!("cannot create {}", to.display()),
                source,
            })?;
            let mut w = Hashing::new(std::io::BufWriter::new(out));
            std::io::copy(&mut entry, &mut w)
                .map_err(|e| damaged(&path, format!("its data cannot be read to the end ({e})")))?;
            w.flush().map_err(|source| BackupError::Io {
                what: format!("cannot write {}", to.display()),
                source,
            })?;
            let (sha256, bytes) = w.finish();
            if bytes != want.bytes {
                return Err(damaged(
                    &path,
                    format!(
                        "its data has {bytes} bytes, the manifest says {} (cut short?)",
                        want.bytes
                    ),
                ));
            }
            if sha256 != want.sha256 {
                return Err(damaged(
                    &path,
                    "its data's SHA-256 is not the one in the manifest (changed or corrupted)",
                ));
            }
            found = true;
        }
        if !found {
            return Err(damaged(
                &path,
                format!("it has no {} (cut short?)", want.name),
            ));
        }
        Ok(())
    }
}
