//! PostgreSQL's own tools, `pg_dump` and `pg_restore`: found on PATH, their version checked
//! against the server's or the dump's, run with the password in the environment rather
//! than on the command line (where `ps` would show it).

use std::path::Path;
use std::process::Command;

use super::BackupError;

/// The major version in a tool's `--version` line: 15 in "pg_dump (PostgreSQL) 15.20
/// (Debian 15.20-0+deb12u1)", 9 in "pg_dump (PostgreSQL) 9.6.24".
pub(crate) fn major_of(version_line: &str) -> Option<u32> {
    version_line
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|v| v.split(['.', '-', 'b', 'r']).next())
        .and_then(|m| m.parse().ok())
}

/// `tool --version`'s line and its major version; a clear error when it is not installed.
pub(crate) fn version(tool: &str) -> Result<(String, u32), BackupError> {
    let out = Command::new(tool).arg("--version").output().map_err(|e| {
        BackupError::Tool(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{tool} is not installed (or not on PATH): a PostgreSQL backup is made and restored \
                 with PostgreSQL's own {tool}; install the client tools of the server's version or \
                 newer (Debian: apt install postgresql-client)"
            )
        } else {
            format!("cannot run {tool}: {e}")
        })
    })?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major = major_of(&line).ok_or_else(|| {
        BackupError::Tool(format!(
            "{tool} --version answered {line:?}, which names no version"
        ))
    })?;
    Ok((line, major))
}

/// `pg_dump`'s version line, refused when its major version is older than the server's
/// (pg_dump cannot dump a newer server).
pub(crate) fn check_pg_dump(server_major: u32) -> Result<String, BackupError> {
    let (line, major) = version("pg_dump")?;
    if major < server_major {
        return Err(BackupError::Tool(format!(
            "pg_dump is version {major} ({line}) and the server {server_major}: pg_dump cannot \
             dump a newer server; install the client tools of version {server_major} or newer \
             (Debian: apt install postgresql-client-{server_major}) and put them first on PATH"
        )));
    }
    Ok(line)
}

/// `pg_restore`, refused when its major version is older than the `pg_dump` that made the
/// dump (its archive format may be newer than it reads).
pub(crate) fn check_pg_restore(made_with: &str) -> Result<(), BackupError> {
    let (line, major) = version("pg_restore")?;
    if let Some(dumped) = major_of(made_with)
        && major < dumped
    {
        return Err(BackupError::Tool(format!(
            "pg_restore is version {major} ({line}) and the backup was made by {made_with}: an \
             older pg_restore may not read its archive; install the client tools of version \
             {dumped} or newer (Debian: apt install postgresql-client-{dumped})"
        )));
    }
    Ok(())
}

/// A `postgres://` URL for the tools, its password taken out and handed over as PGPASSWORD.
fn connection(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| BackupError::Tool(format!("the database URL does not parse: {e}")))?;
    let password = parsed.password().map(percent_decode);
    if password.is_some() {
        let _ = parsed.set_password(None);
    }
    Ok((parsed.to_string(), password))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn run(mut cmd: Command, url: &str, what: &str) -> Result<(), BackupError> {
    let (url, password) = connection(url)?;
    cmd.arg(format!("--dbname={url}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .map_err(|e| BackupError::Tool(format!("cannot run {what}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(BackupError::Tool(format!(
            "{what} failed ({}): {}",
            out.status,
            stderr.trim()
        )));
    }
    Ok(())
}

/// Dump the database at `url`, as the exported `snapshot` sees it, to `to` (custom format).
pub(crate) fn dump(url: &str, snapshot: &str, to: &Path) -> Result<(), BackupError> {
    let mut cmd = Command::new("pg_dump");
    cmd.arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--file={}", to.display()));
    run(cmd, url, "pg_dump")
}

/// Restore `from` into the (empty) database at `url` in one transaction: a dump that fails
/// half way leaves nothing behind. Objects are owned by the user the URL connects as, and
/// the source's grants are left out (its roles need not exist here).
pub(crate) fn restore(url: &str, from: &Path) -> Result<(), BackupError> {
    let mut cmd = Command::new("pg_restore");
    cmd.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ])
    .arg(from);
    run(cmd, url, "pg_restore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_the_tools_print_them() {
        assert_eq!(
            major_of("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("pg_dump (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(major_of("pg_restore (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(major_of("pg_dump (PostgreSQL) 16rc1"), Some(16));
        assert_eq!(major_of("nothing here"), None);
    }

    #[test]
    fn the_password_leaves_the_url() {
        let (url, password) =
            connection("postgres://ada:s%40cret+x@db.example:5433/paperboy?sslmode=require")
                .unwrap();
        assert_eq!(
            url,
            "postgres://ada@db.example:5433/paperboy?sslmode=require"
        );
        assert_eq!(password.as_deref(), Some("s@cret+x"));
        let (url, password) = connection("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(url, "postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(password, None);
    }
}
