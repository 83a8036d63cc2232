//! A private Dovecot IMAP server: its own configuration, mail folder, state and log under a
//! temporary folder, one passwd-file user, plain login on loopback, run in the foreground
//! (`dovecot -F`) and stopped when the test ends. The system's /etc/dovecot is not read.
//!
//! Needs Debian's `dovecot-imapd` (installed by `.ci/run`) and root (Dovecot hands the mail
//! folder to the `mail` user). Without them the tests that use it pass vacuously, unless
//! PAPERBOY_REQUIRE_DOVECOT is set (as CI sets it).
//!
//! The test's own IMAP client ([`Dovecot::append`], [`Dovecot::messages`]) is async-imap, the
//! crate the poller uses: it puts mail in and looks at what is left, flags included.

use std::path::Path;
use std::process::Command;

use super::daemon::{Daemon, run};
use std::time::Duration;

use async_imap::types::Flag;
use futures_util::TryStreamExt;

const DOVECOT: &str = "/usr/sbin/dovecot";
pub const IMAP_USER: &str = "bounces";
pub const IMAP_PASSWORD: &str = "imap-pass@word";

pub struct Dovecot {
    pub port: u16,
    // Fields drop in order: the daemon stops before its folder goes.
    _master: Daemon,
    dir: tempfile::TempDir,
}

/// One message in a folder, as a client sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct Stored {
    pub uid: u32,
    /// Its flags, sorted (`\Seen`, keywords), `\Recent` left out.
    pub flags: Vec<String>,
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Stored {
    /// Its UID, flags and first line: a failed comparison stays readable.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.raw);
        let first = text.lines().next().unwrap_or("");
        write!(
            f,
            "#{} {:?} {:?}… ({} bytes)",
            self.uid,
            self.flags,
            first,
            self.raw.len()
        )
    }
}

impl Dovecot {
    /// Start Dovecot on `port` (which must be free), in the clear; `None` when Dovecot or
    /// root is missing and not required.
    pub fn start(port: u16) -> Option<Self> {
        Self::start_with(port, None)
    }

    /// Dovecot with TLS: STARTTLS on `port`, and TLS from the first byte on `tls.0`, with the
    /// certificate and key files `tls.1` and `tls.2`.
    pub fn start_tls(port: u16, tls: (u16, &Path, &Path)) -> Option<Self> {
        Self::start_with(port, Some(tls))
    }

    fn start_with(port: u16, tls: Option<(u16, &Path, &Path)>) -> Option<Self> {
        let required = std::env::var_os("PAPERBOY_REQUIRE_DOVECOT").is_some();
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !Path::new(DOVECOT).exists() || !is_root {
            assert!(
                !required,
                "PAPERBOY_REQUIRE_DOVECOT is set but {DOVECOT} is missing or this is not root \
                 (apt-get install dovecot-imapd; run as root)"
            );
            eprintln!("skipped: Dovecot ({DOVECOT}) or root missing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Dovecot's processes run as `mail`, `dovecot` and `dovenull`, and must reach it.
        run("chmod", &["755", &root.display().to_string()]);
        let mail = root.join("mail");
        std::fs::create_dir(&mail).unwrap();
        run("chown", &["mail:mail", &mail.display().to_string()]);
        let passwd = root.join("passwd");
        std::fs::write(&passwd, format!("{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")).unwrap();
        let r = root.display();
        let (ssl, imaps_port) = match tls {
            Some((imaps_port, cert, key)) => (
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}",
                    cert.display(),
                    key.display()
                ),
                imaps_port,
            ),
            None => ("ssl = no".to_string(), 0),
        };
        let conf = format!(
            r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
# Loopback only: a password in the clear is fine here.
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%u
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"#,
            passwd = passwd.display()
        );
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let master = Command::new(DOVECOT)
            .args(["-F", "-c", &conf_path.display().to_string()])
            .spawn()
            .expect("Dovecot starts");
        let dovecot = Self {
            port,
            dir,
            _master: Daemon(master),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(dovecot);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Dovecot did not listen on {port}: {}", dovecot.log());
    }

    /// The poller's `mailbox.url` for `folder`.
    pub fn url(&self, folder: &str) -> String {
        mailbox_url(self.port, folder)
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().expect("a greeting");
        client
            .login(IMAP_USER, IMAP_PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Put `raw` into `folder` with `flags` (e.g. `(\Seen)`), as a delivery would.
    pub async fn append(&self, folder: &str, flags: Option<&str>, raw: &[u8]) {
        let mut s = self.session().await;
        s.append(folder, flags, None, raw).await.unwrap();
        s.logout().await.unwrap();
    }

    /// The messages in `folder`, by UID, read without marking them read; empty when the
    /// folder does not exist.
    pub async fn messages(&self, folder: &str) -> Vec<Stored> {
        let mut s = self.session().await;
        // EXAMINE: read-only, so that looking changes nothing (not even \Recent).
        let Ok(mailbox) = s.examine(folder).await else {
            return Vec::new();
        };
        if mailbox.exists == 0 {
            s.logout().await.unwrap();
            return Vec::new();
        }
        let fetches: Vec<_> = s
            .fetch("1:*", "(UID FLAGS BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut out: Vec<Stored> = fetches
            .iter()
            .map(|f| {
                let mut flags: Vec<String> = f
                    .flags()
                    .filter(|f| *f != Flag::Recent)
                    .map(|f| match f {
                        Flag::Seen => "\\Seen".to_string(),
                        Flag::Answered => "\\Answered".into(),
                        Flag::Flagged => "\\Flagged".into(),
                        Flag::Deleted => "\\Deleted".into(),
                        Flag::Draft => "\\Draft".into(),
                        Flag::Custom(k) => k.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                flags.sort();
                Stored {
                    uid: f.uid.unwrap(),
                    flags,
                    raw: f.body().unwrap_or_default().to_vec(),
                }
            })
            .collect();
        out.sort_by_key(|m| m.uid);
        s.logout().await.unwrap();
        out
    }
}

/// `mailbox.url` for the test user on a loopback `port`, in the clear.
pub fn mailbox_url(port: u16, folder: &str) -> String {
    format!(
        "imap://{IMAP_USER}:{}@127.0.0.1:{port}/{folder}?tls=none",
        IMAP_PASSWORD.replace('@', "%40")
    )
}
