//! The mailbox poller (`[mailbox] url`): for an operator whose bounces land in an IMAP
//! mailbox rather than at the [`listener`](super::listener). Every `poll_seconds` it logs in,
//! reads each message not yet processed, hands it to [`Bounces::receive`] as the listener
//! would, and moves what was recorded to the processed folder (or flags it).
//!
//! The mailbox may hold other mail (a person's, a newsletter): that is never moved, flagged,
//! marked read or deleted. Bodies are fetched with `BODY.PEEK[]`, which leaves `\Seen` as it
//! was; a message is deleted only as the second half of a move, by its own UID (`UID MOVE`,
//! or `UID COPY` + `\Deleted` + `UID EXPUNGE` of that UID alone, RFC 4315). A server with
//! neither gets the flag instead: a plain `EXPUNGE` would remove every message someone else
//! marked `\Deleted`. What could not be recorded (the database is down) stays for the next
//! poll; reading a report twice records it once (its Message-ID is the event's dedupe key).
//!
//! async-imap (the Delta Chat project's, over tokio) speaks the protocol; TLS is our rustls
//! client, the relay's ([`crate::net::tls_client_config`]).

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use async_imap::types::{Fetch, Flag};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{BounceError, Bounces, Envelope, Handled};
use crate::context::Context;
use crate::domain::EventSource;
use crate::net::{percent_decode, redacted, split_host_port, tls_client_config};
use crate::store::EventOutcome;

/// The keyword set on a processed message when it cannot be moved (with `\Seen`).
pub const PROCESSED_KEYWORD: &str = "paperboy-processed";
/// Messages read in one poll at most; the rest wait for the next (a first poll of a large
/// mailbox of other mail must not take hours before it logs out).
const BATCH: usize = 500;

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
    password: String,
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

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error(
        "mailbox.url is not valid: {0} (write imaps://user:password@host[:port]/FOLDER, or imap://…?tls=starttls or ?tls=none; empty: no poller)"
    )]
    Url(String),
    #[error("mailbox.tls_ca_file: {0}")]
    TlsCa(String),
    #[error("cannot connect to the mailbox server {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with the mailbox server {addr}: {reason}")]
    Tls { addr: String, reason: String },
    #[error("the mailbox server {addr} refused the login of {user:?}: {reason}")]
    Login {
        addr: String,
        user: String,
        reason: String,
    },
    #[error("the mailbox server {addr}, {what}: {reason}")]
    Imap {
        addr: String,
        what: String,
        reason: String,
    },
    #[error("the mailbox server {addr} did not answer within {seconds} s ({what})")]
    Timeout {
        addr: String,
        what: String,
        seconds: u64,
    },
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

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Bounces and complaints recorded (and moved or flagged).
    pub recorded: usize,
    /// Reports recorded before (read again): moved or flagged, nothing new recorded.
    pub already_recorded: usize,
    /// Mail that is no report of ours (a person's, a report without our tag, a malformed
    /// one): left where it was, as it was.
    pub left_alone: usize,
    /// Larger than `inbound.max_message_bytes`: left, unread.
    pub too_big: usize,
    /// Recorded, but the server did not move or flag it: read again (and recorded once) at
    /// the next poll.
    pub not_moved: usize,
    /// Could not be recorded (the database): left for the next poll.
    pub left_for_retry: usize,
}

impl fmt::Display for PollReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recorded, {} already recorded, {} other mail left alone, {} too big left alone, {} not moved, {} left for the next poll",
            self.recorded,
            self.already_recorded,
            self.left_alone,
            self.too_big,
            self.not_moved,
            self.left_for_retry
        )
    }
}

/// What becomes of a processed message.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Disposal {
    /// `UID MOVE` to the folder (RFC 6851).
    Move(String),
    /// `UID COPY`, `\Deleted`, `UID EXPUNGE` of that UID (UIDPLUS, RFC 4315).
    CopyAndExpunge(String),
    /// `\Seen` and the keyword (`keyword`: the server keeps keywords).
    Flag { keyword: bool },
}

/// Reads the bounce mailbox.
pub struct Poller {
    bounces: Bounces,
    target: MailboxTarget,
    tls: Option<tokio_rustls::TlsConnector>,
    processed_folder: String,
    max_bytes: usize,
    timeout: Duration,
    /// Messages judged not ours (or too big), by UID under this UIDVALIDITY: not read again
    /// while this process runs (the mailbox may hold thousands of a person's mails).
    passed_over: (u32, HashSet<u32>),
}

impl Poller {
    /// The poller `[mailbox]` describes; `None` when its URL is empty.
    pub fn from_config(ctx: &Context) -> Result<Option<Self>, MailboxError> {
        let cfg = &ctx.config.mailbox;
        if cfg.url.trim().is_empty() {
            return Ok(None);
        }
        let target = MailboxTarget::parse(cfg.url.trim())?;
        let tls = match target.tls {
            ImapTls::None => None,
            _ => Some(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
                tls_client_config(&cfg.tls_ca_file).map_err(MailboxError::TlsCa)?,
            ))),
        };
        if tls.is_some() && ServerName::try_from(target.host.clone()).is_err() {
            return Err(MailboxError::Url(format!(
                "{:?} is not a TLS server name",
                target.host
            )));
        }
        Ok(Some(Self {
            bounces: Bounces::new(ctx.clone()),
            target,
            tls,
            processed_folder: cfg.processed_folder.trim().to_string(),
            max_bytes: ctx.config.inbound.max_message_bytes,
            timeout: Duration::from_secs(cfg.timeout_seconds.max(1)),
            passed_over: (0, HashSet::new()),
        }))
    }

    pub fn target(&self) -> &MailboxTarget {
        &self.target
    }

    /// Poll every `every` until the task is dropped; a failed poll is logged and tried again
    /// at the next.
    pub async fn run(mut self, every: Duration) {
        tracing::info!(mailbox = %self.target, every_seconds = every.as_secs(), "reading bounces from a mailbox");
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.poll().await {
                Ok(r) if r == PollReport::default() => {}
                Ok(r) if r.recorded + r.already_recorded + r.left_for_retry + r.not_moved == 0 => {
                    tracing::debug!(mailbox = %self.target, "mailbox poll: {r}")
                }
                Ok(r) => tracing::info!(mailbox = %self.target, "mailbox poll: {r}"),
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in_seconds = every.as_secs(),
                    "mailbox poll failed; trying again at the next"
                ),
            }
        }
    }

    /// Read the mailbox once.
    pub async fn poll(&mut self) -> Result<PollReport, MailboxError> {
        let addr = self.target.addr();
        let tcp = self
            .within("connecting", async {
                TcpStream::connect((self.target.host.as_str(), self.target.port))
                    .await
                    .map_err(|source| MailboxError::Connect {
                        addr: addr.clone(),
                        source,
                    })
            })
            .await?;
        let _ = tcp.set_nodelay(true);
        match self.target.tls {
            ImapTls::None => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.poll_on(client).await
            }
            ImapTls::Implicit => {
                let tls = self.tls_over(tcp).await?;
                let mut client = Client::new(tls);
                self.greeting(&mut client).await?;
                self.poll_on(client).await
            }
            ImapTls::StartTls => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.within("STARTTLS", async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| self.imap_error("STARTTLS", e))
                })
                .await?;
                // No second greeting after STARTTLS (RFC 3501 §6.2.1).
                let tls = self.tls_over(client.into_inner()).await?;
                self.poll_on(Client::new(tls)).await
            }
        }
    }

    async fn tls_over(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, MailboxError> {
        let connector = self.tls.as_ref().expect("a TLS connector for a TLS URL");
        let name = ServerName::try_from(self.target.host.clone())
            .expect("checked when the poller was made");
        self.within("TLS handshake", async {
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| MailboxError::Tls {
                    addr: self.target.addr(),
                    reason: e.to_string(),
                })
        })
        .await
    }

    async fn greeting<T: Stream>(&self, client: &mut Client<T>) -> Result<(), MailboxError> {
        self.within("greeting", async {
            match client.read_response().await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => {
                    Err(self.imap_error("greeting", async_imap::error::Error::ConnectionLost))
                }
                Err(e) => Err(self.imap_error("greeting", e.into())),
            }
        })
        .await
    }

    /// Log in and read the folder, on a connection greeted (and secured) already.
    async fn poll_on<T: Stream>(&mut self, client: Client<T>) -> Result<PollReport, MailboxError> {
        let (user, password) = (self.target.user.clone(), self.target.password.clone());
        let mut session = self
            .within("LOGIN", async {
                client
                    .login(&user, &password)
                    .await
                    .map_err(|(e, _)| MailboxError::Login {
                        addr: self.target.addr(),
                        user: user.clone(),
                        reason: e.to_string(),
                    })
            })
            .await?;
        let report = self.read_folder(&mut session).await;
        // A clean goodbye when we can; the poll's outcome does not depend on it.
        let _ = tokio::time::timeout(self.timeout, session.logout()).await;
        report
    }

    /// Read the folder's messages not yet processed (a [`BATCH`] at most): record each
    /// report and move or flag it; leave other mail as it was.
    async fn read_folder<T: Stream>(
        &mut self,
        session: &mut Session<T>,
    ) -> Result<PollReport, MailboxError> {
        let disposal = self.select_folder(session).await?;
        let uids = self.unprocessed(session, &disposal).await?;
        let mut report = PollReport::default();
        if uids.is_empty() {
            return Ok(report);
        }
        for (uid, size) in self.sizes(session, &uids).await? {
            if size as usize > self.max_bytes {
                tracing::warn!(
                    uid,
                    size,
                    max = self.max_bytes,
                    "mailbox: a message larger than inbound.max_message_bytes, left unread where it is"
                );
                self.passed_over.1.insert(uid);
                report.too_big += 1;
                continue;
            }
            let fetched = self.fetch_message(session, uid).await?;
            // The server may add FETCH responses of its own (another message's flags).
            let Some(raw) = fetched
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
            else {
                continue; // Expunged meanwhile.
            };
            if self
                .record(session, uid, raw, &disposal, &mut report)
                .await?
                .is_break()
            {
                break;
            }
        }
        Ok(report)
    }

    /// Select the folder, and say how processed mail leaves it (by the server's
    /// capabilities and the folder's permanent flags). Under a new UIDVALIDITY the messages
    /// passed over are forgotten.
    async fn select_folder<T: Stream>(
        &mut self,
        session: &mut Session<T>,
    ) -> Result<Disposal, MailboxError> {
        let caps = self
            .within("CAPABILITY", async {
                session
                    .capabilities()
                    .await
                    .map_err(|e| self.imap_error("CAPABILITY", e))
            })
            .await?;
        let disposal = self
            .disposal(session, caps.has_str("MOVE"), caps.has_str("UIDPLUS"))
            .await?;
        let folder = self.target.folder.clone();
        let mailbox = self
            .within("SELECT", async {
                session
                    .select(&folder)
                    .await
                    .map_err(|e| self.imap_error(&format!("SELECT {folder}"), e))
            })
            .await?;
        let keyword = mailbox.permanent_flags.iter().any(|f| {
            matches!(f, Flag::MayCreate)
                || matches!(f, Flag::Custom(k) if k.eq_ignore_ascii_case(PROCESSED_KEYWORD))
        });
        let disposal = match disposal {
            Disposal::Flag { .. } => Disposal::Flag { keyword },
            d => d,
        };
        let validity = mailbox.uid_validity.unwrap_or(0);
        if self.passed_over.0 != validity {
            // New UIDs for the same folder (RFC 3501 §2.3.1.1): judge everything anew.
            self.passed_over = (validity, HashSet::new());
        }
        Ok(disposal)
    }

    /// The UIDs of the messages not yet processed nor passed over, in order, a [`BATCH`] at
    /// most.
    async fn unprocessed<T: Stream>(
        &mut self,
        session: &mut Session<T>,
        disposal: &Disposal,
    ) -> Result<Vec<u32>, MailboxError> {
        // Every message not yet processed: what is processed is moved out, or carries the
        // keyword (or, where keywords are not kept, \Seen). Not "UNSEEN" alone: a person
        // reading the mailbox must not hide a bounce from us.
        let query = match disposal {
            Disposal::Flag { keyword: false } => "UNDELETED UNSEEN".to_string(),
            _ => format!("UNDELETED UNKEYWORD {PROCESSED_KEYWORD}"),
        };
        let found = self
            .within("SEARCH", async {
                session
                    .uid_search(&query)
                    .await
                    .map_err(|e| self.imap_error("UID SEARCH", e))
            })
            .await?;
        // Forget the messages that left the folder.
        self.passed_over.1.retain(|u| found.contains(u));
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|u| !self.passed_over.1.contains(u))
            .collect();
        uids.sort_unstable();
        uids.truncate(BATCH);
        Ok(uids)
    }

    /// (UID, size) of each of `uids` (sorted) the server still has, by UID.
    async fn sizes<T: Stream>(
        &self,
        session: &mut Session<T>,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>, MailboxError> {
        let sizes: Vec<Fetch> = self
            .within("FETCH sizes", async {
                session
                    .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
                    .await
                    .map_err(|e| self.imap_error("UID FETCH", e))?
                    .try_collect()
                    .await
                    .map_err(|e| self.imap_error("UID FETCH", e))
            })
            .await?;
        let mut sized: Vec<(u32, u32)> = sizes
            .iter()
            .filter_map(|f| Some((f.uid?, f.size?)))
            .filter(|(uid, _)| uids.binary_search(uid).is_ok())
            .collect();
        sized.sort_unstable();
        sized.dedup_by_key(|(uid, _)| *uid);
        Ok(sized)
    }

    /// One message, fetched whole without setting `\Seen`.
    async fn fetch_message<T: Stream>(
        &self,
        session: &mut Session<T>,
        uid: u32,
    ) -> Result<Vec<Fetch>, MailboxError> {
        self.within("FETCH a message", async {
            session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await
                .map_err(|e| self.imap_error("UID FETCH", e))?
                .try_collect()
                .await
                .map_err(|e| self.imap_error("UID FETCH", e))
        })
        .await
    }

    /// Hand one message to [`Bounces::receive`], count what became of it in `report`, and
    /// move or flag it once recorded. `Break` when the database failed: the rest wait too.
    async fn record<T: Stream>(
        &mut self,
        session: &mut Session<T>,
        uid: u32,
        raw: &[u8],
        disposal: &Disposal,
        report: &mut PollReport,
    ) -> Result<ControlFlow<()>, MailboxError> {
        let envelope = envelope_of(raw);
        match self
            .bounces
            .receive(raw, &envelope, EventSource::Mailbox)
            .await
        {
            Ok(Handled::Recorded { outcome, .. }) => {
                if outcome == EventOutcome::Duplicate {
                    report.already_recorded += 1;
                } else {
                    report.recorded += 1;
                }
                if let Err(e) = self.dispose(session, uid, disposal).await {
                    if matches!(e, MailboxError::Imap { .. }) {
                        // Refused (NO/BAD): it is read again next time, recorded once.
                        tracing::warn!(uid, error = %e, "mailbox: a recorded report could not be moved or flagged");
                        report.not_moved += 1;
                    } else {
                        return Err(e);
                    }
                }
            }
            Ok(Handled::Ignored(reason)) => {
                tracing::info!(uid, %reason, "mailbox: not a bounce or complaint, left where it is");
                self.passed_over.1.insert(uid);
                report.left_alone += 1;
            }
            Err(e @ (BounceError::NoTag | BounceError::Report(_))) => {
                tracing::warn!(uid, error = %e, "mailbox: a report not for us, left where it is");
                self.passed_over.1.insert(uid);
                report.left_alone += 1;
            }
            Err(BounceError::Store(e)) => {
                // The database is likely down: the rest wait too.
                tracing::error!(uid, error = %e, "mailbox: could not record a report; it stays for the next poll");
                report.left_for_retry += 1;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// How processed mail leaves the folder: by the capabilities and the processed folder,
    /// which is made here if missing.
    async fn disposal<T: Stream>(
        &self,
        session: &mut Session<T>,
        has_move: bool,
        has_uidplus: bool,
    ) -> Result<Disposal, MailboxError> {
        let folder = self.processed_folder.clone();
        if folder.is_empty() {
            return Ok(Disposal::Flag { keyword: true });
        }
        if !has_move && !has_uidplus {
            tracing::warn!(
                mailbox = %self.target,
                "the mailbox server has neither MOVE nor UIDPLUS: processed mail is flagged, not moved (a plain EXPUNGE could remove others' mail)"
            );
            return Ok(Disposal::Flag { keyword: true });
        }
        let exists = self
            .within("LIST", async {
                session
                    .list(Some(""), Some(&folder))
                    .await
                    .map_err(|e| self.imap_error("LIST", e))?
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| self.imap_error("LIST", e))
            })
            .await?
            .iter()
            .any(|n| n.name() == folder);
        if !exists {
            let created = self
                .within("CREATE", async {
                    session
                        .create(&folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("CREATE {folder}"), e))
                })
                .await;
            match created {
                Ok(()) => tracing::info!(folder, "mailbox: created the folder for processed mail"),
                Err(e @ MailboxError::Imap { .. }) => {
                    tracing::warn!(error = %e, "mailbox: cannot make the folder for processed mail; processed mail is flagged instead");
                    return Ok(Disposal::Flag { keyword: true });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(if has_move {
            Disposal::Move(folder)
        } else {
            Disposal::CopyAndExpunge(folder)
        })
    }

    /// Move or flag one processed message, by its UID only.
    async fn dispose<T: Stream>(
        &self,
        session: &mut Session<T>,
        uid: u32,
        disposal: &Disposal,
    ) -> Result<(), MailboxError> {
        let set = uid.to_string();
        let store = |flags: &str| format!("+FLAGS.SILENT ({flags})");
        match disposal {
            Disposal::Move(folder) => {
                self.within("MOVE", async {
                    session
                        .uid_mv(&set, folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("UID MOVE to {folder}"), e))
                })
                .await
            }
            Disposal::CopyAndExpunge(folder) => {
                self.within("COPY", async {
                    session
                        .uid_copy(&set, folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("UID COPY to {folder}"), e))
                })
                .await?;
                self.flag(session, &set, &store("\\Deleted")).await?;
                self.within("EXPUNGE", async {
                    session
                        .uid_expunge(&set)
                        .await
                        .map_err(|e| self.imap_error("UID EXPUNGE", e))?
                        .try_collect::<Vec<_>>()
                        .await
                        .map_err(|e| self.imap_error("UID EXPUNGE", e))
                })
                .await
                .map(drop)
            }
            Disposal::Flag { keyword: true } => {
                self.flag(
                    session,
                    &set,
                    &store(&format!("\\Seen {PROCESSED_KEYWORD}")),
                )
                .await
            }
            Disposal::Flag { keyword: false } => self.flag(session, &set, &store("\\Seen")).await,
        }
    }

    async fn flag<T: Stream>(
        &self,
        session: &mut Session<T>,
        set: &str,
        query: &str,
    ) -> Result<(), MailboxError> {
        self.within("STORE", async {
            session
                .uid_store(set, query)
                .await
                .map_err(|e| self.imap_error("UID STORE", e))?
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| self.imap_error("UID STORE", e))
        })
        .await
        .map(drop)
    }

    /// `fut`, or a timeout error naming `what` once `mailbox.timeout_seconds` pass.
    async fn within<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, MailboxError>>,
    ) -> Result<T, MailboxError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(MailboxError::Timeout {
                addr: self.target.addr(),
                what: what.to_string(),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    fn imap_error(&self, what: &str, e: async_imap::error::Error) -> MailboxError {
        use async_imap::error::Error as E;
        let addr = self.target.addr();
        match e {
            // The connection is gone: the poll ends.
            E::Io(source) => MailboxError::Connect { addr, source },
            E::ConnectionLost => MailboxError::Connect {
                addr,
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    format!("the server closed the connection during {what}"),
                ),
            },
            other => MailboxError::Imap {
                addr,
                what: what.to_string(),
                reason: other.to_string(),
            },
        }
    }
}

/// A connection async-imap can speak over: TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + fmt::Debug + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + fmt::Debug + Send> Stream for T {}

/// The envelope a delivered mail still tells: its `Return-Path` (`<>` for a bounce, as the
/// delivering server wrote it), and the addresses it was delivered to (`Delivered-To`,
/// `X-Original-To`: the VERP tag, when the server kept it).
pub fn envelope_of(raw: &[u8]) -> Envelope {
    let mut envelope = Envelope::default();
    let Some(message) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return envelope;
    };
    for h in message.headers() {
        let name = h.name.as_str();
        let value = raw
            .get(h.offset_start as usize..h.offset_end as usize)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default();
        if name.eq_ignore_ascii_case("Return-Path") {
            envelope.null_sender |= value.trim_matches(['<', '>', ' ']).is_empty();
        } else if name.eq_ignore_ascii_case("Delivered-To")
            || name.eq_ignore_ascii_case("X-Original-To")
        {
            let address = value.trim_matches(['<', '>', ' ']).to_string();
            if !address.is_empty() && !envelope.recipients.contains(&address) {
                envelope.recipients.push(address);
            }
        }
    }
    envelope
}

/// An IMAP sequence set for sorted UIDs, runs written `a:b`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
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

    #[test]
    fn the_envelope_is_read_off_the_delivered_headers() {
        let raw = b"Return-Path: <>\r\nDelivered-To: bounces+s1-2-abc@l.example\r\nX-Original-To: <bounces+s1-2-abc@l.example>\r\nSubject: x\r\n\r\nDelivered-To: not@a.header\r\n";
        let e = envelope_of(raw);
        assert!(e.null_sender);
        assert_eq!(e.recipients, vec!["bounces+s1-2-abc@l.example"]);
        let person = envelope_of(b"Return-Path: <ada@example.net>\r\nSubject: hi\r\n\r\nhello\r\n");
        assert!(!person.null_sender && person.recipients.is_empty());
        assert!(!envelope_of(b"no headers at all").null_sender);
    }

    #[test]
    fn uid_sets_are_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
    }
}
