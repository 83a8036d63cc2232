//! The built-in SMTP listener for bounces and complaints (`[inbound] bind`). smtp-proto
//! (Stalwart's, like mail-parser and mail-auth) parses the commands; mailin, tried first,
//! refuses the null reverse path `MAIL FROM:<>` that every bounce carries. This module keeps
//! the session's few states and does the I/O with the limits a public port needs: a connection cap, a line length, a message
//! size, a wait per line and a length per session. It takes mail only for the bounce
//! address and its signed tags, and answers the end of a message only once the report
//! is recorded: a 4xx when it could not be (the sending MTA keeps it and tries again), so
//! nothing accepted is lost. STARTTLS (RFC 3207) is offered when a certificate is set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::Request;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::{BounceError, Bounces, Envelope, Handled};
use crate::config::InboundConfig;
use crate::context::Context;
use crate::domain::EventSource;
use crate::mail::verp::VerpError;

/// The longest command line taken (RFC 5321 §4.5.3.1.4 says 512 with the CRLF; extensions
/// add parameters).
const MAX_COMMAND_LINE: usize = 2048;
/// The longest line of a message body read at once (RFC 5321 says 1000; some bounce
/// generators quote longer ones). A longer line makes the message too big.
const MAX_DATA_LINE: usize = 64 * 1024;

/// The STARTTLS acceptor from `inbound.tls_cert_file` and `inbound.tls_key_file` (PEM);
/// `None` when neither is set.
pub fn tls_acceptor(cfg: &InboundConfig) -> Result<Option<TlsAcceptor>, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let (cert, key) = (&cfg.tls_cert_file, &cfg.tls_key_file);
    match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {}
        _ => {
            return Err(
                "set both inbound.tls_cert_file and inbound.tls_key_file, or neither".into(),
            );
        }
    }
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|c| c.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("inbound.tls_cert_file {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("inbound.tls_key_file {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("inbound TLS certificate and key: {e}"))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Serve SMTP on `listener` until the task is dropped; STARTTLS with `tls`.
pub async fn serve(ctx: Context, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let cfg = ctx.config.inbound.clone();
    let slots = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let bounces = Bounces::new(ctx.clone());
    let name = ctx
        .mailer
        .verp()
        .map(|v| v.mailbox())
        .and_then(|m| m.split('@').nth(1).map(str::to_string))
        .unwrap_or_else(|| "paperboy".into());
    loop {
        let (stream, peer) = match listener.accept().await {
            // Replies are small writes, one per command: send each at once (no Nagle).
            Ok(c) => {
                let _ = c.0.set_nodelay(true);
                c
            }
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "inbound SMTP: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = cfg.max_connections, "inbound SMTP: too many connections, refused");
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = stream
                    .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                    .await;
            });
            continue;
        };
        let (bounces, cfg, name, tls) = (bounces.clone(), cfg.clone(), name.clone(), tls.clone());
        tokio::spawn(async move {
            let session = Session {
                bounces,
                cfg: &cfg,
                tls,
                name: &name,
                peer,
            };
            let deadline = Duration::from_secs(cfg.session_timeout_seconds.max(1));
            match tokio::time::timeout(deadline, session.run(stream)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "inbound SMTP: session ended"),
                Err(_) => tracing::info!(%peer, "inbound SMTP: session too long, closed"),
            }
            drop(slot);
        });
    }
}

/// Parse errors in a row after which a client is let go: it is not speaking SMTP.
const MAX_ERRORS: u32 = 20;
/// Recipients of one message: a bounce has one.
const MAX_RECIPIENTS: usize = 100;

/// Where a session is.
enum Stage {
    /// Connected, not introduced (EHLO / HELO).
    Connected,
    /// Introduced; no message begun.
    Ready,
    /// MAIL given; recipients being named.
    Envelope(Envelope),
    /// Reading the message of this envelope; `too_big` once it passed the limit.
    Data {
        envelope: Envelope,
        data: Vec<u8>,
        too_big: bool,
    },
}

struct Session<'a> {
    bounces: Bounces,
    cfg: &'a InboundConfig,
    /// STARTTLS is offered when a certificate is configured.
    tls: Option<TlsAcceptor>,
    name: &'a str,
    peer: SocketAddr,
}

/// How a conversation ended.
enum Ended {
    Closed,
    /// The client asked for TLS (and sent nothing after asking): upgrade, then talk again.
    StartTls,
}

impl Session<'_> {
    async fn run(self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        write
            .write_all(format!("220 {} ESMTP paperboy bounces\r\n", self.name).as_bytes())
            .await?;
        if let Ended::Closed = self.converse(&mut read, &mut write, false).await? {
            return Ok(());
        }
        let acceptor = self
            .tls
            .clone()
            .expect("STARTTLS is offered only with a certificate");
        let stream = read
            .into_inner()
            .reunite(write)
            .expect("the halves of one stream");
        let tls = acceptor.accept(stream).await?;
        let (read, mut write) = tokio::io::split(tls);
        // RFC 3207 §4.2: after the handshake the session starts over (EHLO again).
        self.converse(&mut BufReader::new(read), &mut write, true)
            .await
            .map(|_| ())
    }

    async fn converse<R, W>(
        &self,
        read: &mut BufReader<R>,
        write: &mut W,
        tls: bool,
    ) -> std::io::Result<Ended>
    where
        R: tokio::io::AsyncRead + Unpin,
        W: tokio::io::AsyncWrite + Unpin,
    {
        let idle = Duration::from_secs(self.cfg.idle_timeout_seconds.max(1));
        let mut line = Vec::with_capacity(1024);
        let mut stage = Stage::Connected;
        let mut errors = 0;
        // Within a body line longer than MAX_DATA_LINE: its pieces are not lines.
        let mut in_long_line = false;
        loop {
            line.clear();
            let in_data = matches!(stage, Stage::Data { .. });
            let limit = if in_data {
                MAX_DATA_LINE
            } else {
                MAX_COMMAND_LINE
            };
            let mut bounded = (&mut *read).take(limit as u64);
            let n = match tokio::time::timeout(idle, bounded.read_until(b'\n', &mut line)).await {
                Ok(read) => read?,
                Err(_) => {
                    let _ = write
                        .write_all(b"421 4.4.2 Idle too long, closing\r\n")
                        .await;
                    return Ok(Ended::Closed);
                }
            };
            if n == 0 {
                return Ok(Ended::Closed); // The client left.
            }
            let ended = line.ends_with(b"\n");
            if let Stage::Data {
                envelope,
                data,
                too_big,
            } = &mut stage
            {
                if in_long_line || !ended {
                    // A body line longer than any bounce has: the message is too big. Its
                    // pieces are skipped up to its end, so that none is taken for the `.`.
                    *too_big = true;
                    in_long_line = !ended;
                    continue;
                }
                let body_line = line
                    .strip_suffix(b"\r\n")
                    .or_else(|| line.strip_suffix(b"\n"));
                if body_line == Some(b".") {
                    let (envelope, data, too_big) =
                        (std::mem::take(envelope), std::mem::take(data), *too_big);
                    stage = Stage::Ready;
                    let answer = self.answer(&envelope, &data, too_big).await;
                    write.write_all(answer.as_bytes()).await?;
                    write.flush().await?;
                    continue;
                }
                // Dot-stuffing (RFC 5321 §4.5.2): a leading dot was doubled.
                let content = line.strip_prefix(b".").unwrap_or(&line);
                if *too_big || data.len() + content.len() > self.cfg.max_message_bytes {
                    // Read on to the end (the client is owed an answer there), keep nothing.
                    *too_big = true;
                    *data = Vec::new();
                } else {
                    data.extend_from_slice(content);
                }
                continue;
            }
            if !ended {
                write
                    .write_all(b"500 5.5.2 Line too long, closing\r\n")
                    .await?;
                return Ok(Ended::Closed);
            }
            let (reply, then) = self.command(&line, &mut stage, tls);
            errors = if reply.starts_with('5') {
                errors + 1
            } else {
                0
            };
            if let Some(Ended::StartTls) = then
                && !read.buffer().is_empty()
            {
                // Commands sent after STARTTLS, before the handshake, would be taken as if
                // they came over TLS (the STARTTLS injection of CVE-2011-0411).
                write
                    .write_all(
                        b"501 5.5.4 Nothing may follow STARTTLS before the handshake, closing\r\n",
                    )
                    .await?;
                return Ok(Ended::Closed);
            }
            write.write_all(reply.as_bytes()).await?;
            write.flush().await?;
            if let Some(ended) = then {
                return Ok(ended);
            }
            if errors >= MAX_ERRORS {
                write
                    .write_all(b"421 4.7.0 Too many errors, closing\r\n")
                    .await?;
                return Ok(Ended::Closed);
            }
        }
    }

    /// Answer one command line (smtp-proto parses it), and whether the conversation ends
    /// after the reply. `tls`: it is already encrypted.
    fn command(&self, line: &[u8], stage: &mut Stage, tls: bool) -> (String, Option<Ended>) {
        let reply = |s: &str| (format!("{s}\r\n"), None);
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => return reply(&parse_error(&e)),
        };
        match request {
            Request::Ehlo { .. } | Request::Lhlo { .. } => {
                *stage = Stage::Ready;
                let starttls = if self.tls.is_some() && !tls {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                (
                    format!(
                        "250-{}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n{starttls}250 SIZE {}\r\n",
                        self.name, self.cfg.max_message_bytes
                    ),
                    None,
                )
            }
            Request::Helo { .. } => {
                *stage = Stage::Ready;
                reply(&format!("250 {}", self.name))
            }
            Request::Mail { from } => match stage {
                Stage::Connected => reply("503 5.5.1 Say EHLO first"),
                Stage::Envelope(_) | Stage::Data { .. } => {
                    reply("503 5.5.1 A message is already begun; RSET first")
                }
                Stage::Ready if from.size > self.cfg.max_message_bytes => reply(&format!(
                    "552 5.3.4 Message too big: at most {} bytes",
                    self.cfg.max_message_bytes
                )),
                Stage::Ready => {
                    *stage = Stage::Envelope(Envelope {
                        null_sender: from.address.is_empty(),
                        recipients: Vec::new(),
                    });
                    reply("250 2.1.0 OK")
                }
            },
            Request::Rcpt { to } => {
                let Stage::Envelope(envelope) = stage else {
                    return reply("503 5.5.1 MAIL first");
                };
                if envelope.recipients.len() >= MAX_RECIPIENTS {
                    return reply("452 4.5.3 Too many recipients");
                }
                match self.bounces.accepts(&to.address) {
                    Ok(()) => {
                        envelope.recipients.push(to.address.into_owned());
                        reply("250 2.1.5 OK")
                    }
                    Err(VerpError::NotOurs) => {
                        reply("550 5.7.1 This server takes bounces for its own mail only")
                    }
                    Err(e) => reply(&format!("550 5.1.1 Unknown bounce address: {e}")),
                }
            }
            Request::Data => match std::mem::replace(stage, Stage::Ready) {
                Stage::Envelope(envelope) if !envelope.recipients.is_empty() => {
                    *stage = Stage::Data {
                        envelope,
                        data: Vec::new(),
                        too_big: false,
                    };
                    reply("354 End data with <CR><LF>.<CR><LF>")
                }
                other => {
                    *stage = other;
                    reply("503 5.5.1 No valid recipients")
                }
            },
            Request::Rset => {
                if !matches!(stage, Stage::Connected) {
                    *stage = Stage::Ready;
                }
                reply("250 2.0.0 OK")
            }
            Request::Noop { .. } => reply("250 2.0.0 OK"),
            Request::Quit => ("221 2.0.0 Bye\r\n".into(), Some(Ended::Closed)),
            Request::Vrfy { .. } => reply("252 2.1.5 Cannot verify, send a bounce to try"),
            Request::StartTls if tls => reply("503 5.5.1 TLS is already on"),
            Request::StartTls if self.tls.is_none() => reply("454 4.7.0 TLS not available"),
            Request::StartTls => (
                "220 2.0.0 Ready to start TLS\r\n".into(),
                Some(Ended::StartTls),
            ),
            other => reply(&format!("502 5.5.1 {} not implemented", other.name())),
        }
    }

    /// Record a received message and say how it went, as one SMTP reply line.
    async fn answer(&self, envelope: &Envelope, data: &[u8], too_big: bool) -> String {
        let peer = self.peer;
        if too_big {
            tracing::warn!(%peer, max = self.cfg.max_message_bytes, "inbound SMTP: message too big, refused");
            return format!(
                "552 5.3.4 Message too big: at most {} bytes\r\n",
                self.cfg.max_message_bytes
            );
        }
        match self
            .bounces
            .receive(data, envelope, EventSource::Listener)
            .await
        {
            Ok(Handled::Recorded { .. }) => "250 2.0.0 Recorded\r\n".into(),
            Ok(Handled::Ignored(_)) => "250 2.0.0 Accepted, nothing to act on\r\n".into(),
            Err(BounceError::Store(e)) => {
                tracing::error!(%peer, error = %e, "inbound SMTP: could not record a report; the sender will retry");
                "451 4.3.0 Could not record it now, try again later\r\n".into()
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, recipients = ?envelope.recipients, "inbound SMTP: report refused");
                format!("554 5.6.0 {}\r\n", one_line(&e.to_string()))
            }
        }
    }
}

/// The reply to a command line smtp-proto could not parse.
fn parse_error(e: &smtp_proto::Error) -> String {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => "500 5.5.1 Unknown command".into(),
        E::InvalidSenderAddress => "553 5.1.7 Sender address not valid".into(),
        E::InvalidRecipientAddress => "553 5.1.3 Recipient address not valid".into(),
        E::SyntaxError { syntax } => format!("501 5.5.4 Syntax: {syntax}"),
        E::InvalidParameter { param } => format!("501 5.5.4 Parameter not valid: {param}"),
        E::UnsupportedParameter { param } => {
            format!("555 5.5.4 Parameter not supported: {}", one_line(param))
        }
        _ => "500 5.5.2 Command not understood".into(),
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(400)
        .collect()
}
