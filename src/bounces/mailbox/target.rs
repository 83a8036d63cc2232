//! The mailbox's URL: `imaps://` or `imap://…?tls=starttls|none`, with the user, the
//! password and the folder.

use std::fmt;

use super::MailboxError;
use crate::net::{percent_decode, redacted, split_host_port};

/// How the connection to the server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapTls {
    /// `imaps://`: TLS from the first byte (port 993).
    Implicit,
    /// `imap://…?tls=starttls`: STARTTLS, or nothing is sent.
    StartTls,
    /// `imap://…?tls=none`: in the clear (a server on this machine).
    None,
}

/// Where the mailbox is: `[mailbox] url`, read.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxTarget {
    pub host: String,
    pub port: u16,
    pub tls: ImapTls,
    pub user: String,
    pub(super) password: String,
    /// The folder read, `INBOX` unless the URL names another.
    pub folder: String,
}

impl fmt::Debug for MailboxTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for MailboxTarget {
    /// The URL without its password, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == ImapTls::Implicit {
            "imaps"
        } else {
            "imap"
        };
        let query = match self.tls {
            ImapTls::Implicit => "",
            ImapTls::StartTls => "?tls=starttls",
            ImapTls::None => "?tls=none",
        };
        write!(
            f,
            "{scheme}://{}@{}:{}/{}{query}",
            self.user, self.host, self.port, self.folder
        )
    }
}

impl MailboxTarget {
    /// Parse `imaps://user:password@host[:port][/FOLDER]` or
    /// `imap://user:password@host[:port][/FOLDER]?tls=starttls|none`.
    pub fn parse(url: &str) -> Result<Self, MailboxError> {
        let bad = |why: &str| MailboxError::Url(format!("{why} in {:?}", redacted(url)));
        let (implicit, rest) = match (url.strip_prefix("imaps://"), url.strip_prefix("imap://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(bad("expected imaps:// or imap://")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let tls = match (implicit, query) {
            (true, "") => ImapTls::Implicit,
            (true, _) => return Err(bad("imaps:// takes no query: it is TLS throughout")),
            (false, "tls=starttls") => ImapTls::StartTls,
            (false, "tls=none") => ImapTls::None,
            // Saying nothing must not mean sending the password in the clear.
            (false, "") => return Err(bad("imap:// needs ?tls=starttls (or ?tls=none)")),
            _ => return Err(bad("the only query is tls=starttls or tls=none")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("no user and password (user:password@host)"))?;
        let decode = |s: &str| {
            percent_decode(s)
                .ok_or_else(|| bad("bad percent-encoding in the user, password or folder"))
        };
        let (user, password) = userinfo
            .split_once(':')
            .ok_or_else(|| bad("no password (user:password@host)"))?;
        let (user, password) = (decode(user)?, decode(password)?);
        if user.is_empty() {
            return Err(bad("no user"));
        }
        let default_port = if implicit { 993 } else { 143 };
        let (host, port) = split_host_port(hostport, default_port).map_err(bad)?;
        let folder = match decode(path.trim_matches('/'))? {
            f if f.is_empty() => "INBOX".to_string(),
            f => f,
        };
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
            user,
            password,
            folder,
        })
    }

    pub(super) fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read() {
        let t = MailboxTarget::parse("imaps://bounces%40x.org:p%40ss@mail.x.org/Bounces").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.tls,
                t.user.as_str(),
                t.password.as_str(),
                t.folder.as_str()
            ),
            (
                "mail.x.org",
                993,
                ImapTls::Implicit,
                "bounces@x.org",
                "p@ss",
                "Bounces"
            )
        );
        assert_eq!(
            t.to_string(),
            "imaps://bounces@x.org@mail.x.org:993/Bounces"
        );
        let t = MailboxTarget::parse("imap://u:p@127.0.0.1:1143?tls=none").unwrap();
        assert_eq!(
            (t.port, t.tls, t.folder.as_str()),
            (1143, ImapTls::None, "INBOX")
        );
        let t = MailboxTarget::parse("imap://u:p@[::1]/INBOX?tls=starttls").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("::1", 143, ImapTls::StartTls)
        );
        for bad in [
            "pop3://u:p@h",
            "imap://u:p@h",
            "imap://u:p@h?tls=yes",
            "imaps://u:p@h?tls=starttls",
            "imaps://h",
            "imaps://u@h",
            "imaps://u:p@h:99999",
            "imaps://u:p@/INBOX",
        ] {
            let e = MailboxTarget::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("mailbox.url is not valid"), "{bad}: {e}");
            assert!(!e.contains(":p@"), "the password is not shown: {e}");
        }
    }
}
