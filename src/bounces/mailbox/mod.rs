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
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Bounces, Envelope};
use crate::context::Context;
use crate::net::tls_client_config;

mod folder;
mod session;
mod target;

pub use target::{ImapTls, MailboxTarget};

/// The keyword set on a processed message when it cannot be moved (with `\Seen`).
pub(crate) const PROCESSED_KEYWORD: &str = "paperboy-processed";
/// Messages read in one poll at most; the rest wait for the next (a first poll of a large
/// mailbox of other mail must not take hours before it logs out).
const BATCH: usize = 500;

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

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PollReport {
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

/// Reads the bounce mailbox.
pub(crate) struct Poller {
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
pub(crate) fn envelope_of(raw: &[u8]) -> Envelope {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
