//! Uploads kept between the console's dry run and its real run, so that the real run
//! imports exactly the file that was shown: one file each under `<data_dir>/imports`, named
//! by a random id, holding the options (a line of JSON) and then the file's bytes. Kept for
//! [`MAX_AGE`] and at most [`MAX_KEPT`] of them (the upload's own size is bounded by the
//! console's body limit); taken once, then deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ImportOptions;
use crate::clock;
use crate::domain::ImportMode;

/// An hour: time to read a dry run's report; an older upload is imported again from the file.
pub const MAX_AGE: i64 = 3600;
/// Uploads kept at once; staging one more drops the oldest.
pub const MAX_KEPT: usize = 16;

/// Why a kept upload cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum StagedError {
    #[error(
        "this upload is no longer kept (imported already, or older than an hour): upload the file again"
    )]
    Gone,
    #[error("this upload was made by another operator: upload the file yourself")]
    NotYours,
    #[error("the upload cannot be kept under {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

#[derive(Serialize, Deserialize)]
struct Header {
    owner: String,
    at: i64,
    mode: String,
    source: String,
    default_topics: Vec<String>,
}

pub(super) struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub(super) fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("imports"),
        }
    }

    fn io(&self, source: std::io::Error) -> StagedError {
        StagedError::Io {
            dir: self.dir.display().to_string(),
            source,
        }
    }

    /// Keep `data` with `options` for `owner`; its id.
    pub(super) async fn put(
        &self,
        owner: &str,
        data: &[u8],
        options: &ImportOptions,
    ) -> Result<String, StagedError> {
        let header = Header {
            owner: owner.to_string(),
            at: clock::timestamp(),
            mode: options.mode.as_str().to_string(),
            source: options.source.clone(),
            default_topics: options.default_topics.clone(),
        };
        // JSON escapes line breaks: the header is the first line.
        let mut bytes = serde_json::to_vec(&header).expect("a header serializes");
        bytes.push(b'\n');
        bytes.extend_from_slice(data);
        let id = crate::tokens::new_public_id();
        let (dir, path) = (self.dir.clone(), self.path(&id));
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            sweep(&dir, MAX_KEPT - 1)?;
            // Written aside, then renamed: a half-written upload is never taken.
            let part = path.with_extension("part");
            let mut f = std::fs::File::create(&part)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&part, &path)
        })
        .await
        .expect("the staging task does not panic")
        .map_err(|e| self.io(e))?;
        Ok(id)
    }

    /// Take the upload `id` for `owner`: its bytes and options (a dry run no longer). It is
    /// deleted, so that a second click imports nothing twice.
    pub(super) async fn take(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<(Vec<u8>, ImportOptions), StagedError> {
        // The id becomes a file name: nothing but what new_public_id makes.
        if id.len() != 22
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(StagedError::Gone);
        }
        let (dir, path) = (self.dir.clone(), self.path(id));
        let owner = owner.to_string();
        let taken = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            // Claimed by a rename: of two clicks, one finds nothing.
            let taken = path.with_extension("taken");
            match std::fs::rename(&path, &taken) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Err(StagedError::Gone));
                }
                Err(e) => return Err(e),
            }
            let bytes = std::fs::read(&taken)?;
            let result = match split(&bytes) {
                Some((h, _)) if h.owner != owner => {
                    // Not theirs: put back for its owner.
                    std::fs::rename(&taken, &path)?;
                    return Ok(Err(StagedError::NotYours));
                }
                Some((h, data)) if clock::timestamp() - h.at <= MAX_AGE => h
                    .mode
                    .parse::<ImportMode>()
                    .map(|mode| {
                        let options = ImportOptions {
                            mode,
                            dry_run: false,
                            source: h.source,
                            default_topics: h.default_topics,
                        };
                        (data.to_vec(), options)
                    })
                    .map_err(|_| StagedError::Gone),
                _ => Err(StagedError::Gone),
            };
            std::fs::remove_file(&taken)?;
            let _ = sweep(&dir, MAX_KEPT);
            Ok(result)
        })
        .await
        .expect("the staging task does not panic");
        taken.map_err(|e| self.io(e))?
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.csv"))
    }
}

/// The header line and the file after it.
fn split(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let end = memchr::memchr(b'\n', bytes)?;
    let header = serde_json::from_slice(&bytes[..end]).ok()?;
    Some((header, &bytes[end + 1..]))
}

/// Delete uploads older than [`MAX_AGE`] (and leftovers of interrupted ones), then the oldest
/// until at most `keep` are left.
fn sweep(dir: &Path, keep: usize) -> std::io::Result<()> {
    let now = std::time::SystemTime::now();
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let age = now.duration_since(modified).unwrap_or_default().as_secs() as i64;
        let path = entry.path();
        let live = path.extension().is_some_and(|e| e == "csv");
        if age > MAX_AGE || (!live && age > 60) {
            let _ = std::fs::remove_file(&path);
        } else if live {
            kept.push((modified, path));
        }
    }
    kept.sort();
    let excess = kept.len().saturating_sub(keep);
    for (_, path) in kept.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ImportOptions {
        ImportOptions {
            mode: ImportMode::OptIn,
            dry_run: true,
            source: "list.csv".into(),
            default_topics: vec!["llm".into()],
        }
    }

    #[tokio::test]
    async fn an_upload_is_taken_once_by_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path());
        let data = b"email\nada@example.com\n\xff\n";
        let id = staging.put("ada", data, &options()).await.unwrap();
        assert!(matches!(
            staging.take("bob", &id).await,
            Err(StagedError::NotYours)
        ));
        let (back, o) = staging.take("ada", &id).await.unwrap();
        assert_eq!(back, data);
        assert!(!o.dry_run && o.mode == ImportMode::OptIn && o.default_topics == ["llm"]);
        assert!(matches!(
            staging.take("ada", &id).await,
            Err(StagedError::Gone)
        ));
        for bad in ["../../etc/passwd", "", "aaaaaaaaaaaaaaaaaaaaa/"] {
            assert!(matches!(
                staging.take("ada", bad).await,
                Err(StagedError::Gone)
            ));
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join("imports"))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn at_most_so_many_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path());
        let mut ids = Vec::new();
        for _ in 0..MAX_KEPT + 2 {
            ids.push(staging.put("ada", b"email\n", &options()).await.unwrap());
            // Distinct modification times, so that "oldest" is well defined.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let left = std::fs::read_dir(dir.path().join("imports"))
            .unwrap()
            .count();
        assert_eq!(left, MAX_KEPT);
        assert!(staging.take("ada", &ids[MAX_KEPT + 1]).await.is_ok());
    }
}
