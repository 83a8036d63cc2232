//! A pool of SMTP connections with TCP_NODELAY set, and the mail transaction written
//! straight to the socket.
//!
//! lettre 0.11.23 leaves Nagle's algorithm on: it writes a message body, then `\r\n.\r\n` as a
//! second small write, which waits for the server's delayed ACK, 40 ms on Linux, on every
//! message (fixed upstream in lettre PR #1159, not yet released). So for `smtp://` relays we
//! open the sockets ourselves and hand them to lettre's own SMTP client
//! (`AsyncSmtpConnection`), which does EHLO, STARTTLS, AUTH and reads every reply.
//!
//! On a plain connection we keep a second handle on the socket and write each transaction
//! ourselves: with PIPELINING (RFC 2920) `MAIL`, `RCPT` and `DATA` go in one write, and the
//! body is dot-stuffed with memchr and sent with its end in one write. lettre has no
//! pipelining and stuffs the body byte by byte (the largest function in a delivery profile);
//! two round trips a message instead of four also spare the relay. lettre's own transaction
//! stays for TLS connections and for non-ASCII envelopes or bodies (SMTPUTF8, 8BITMIME).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};

use super::MailError;

/// A pooled connection is not reused after this long idle: servers close idle sessions.
const MAX_IDLE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    Never,
    IfOffered,
    Required,
}

#[derive(Debug)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub starttls: StartTls,
    pub credentials: Option<(String, String)>,
    pub hello: Option<String>,
}

impl SmtpTarget {
    /// Parse `smtp://[user:pass@]host[:port][/hello-name][?tls=required|opportunistic]`.
    pub fn parse(url: &str) -> Result<Self, MailError> {
        let bad = |why: &str| MailError::SmtpUrl(format!("{why} in {url:?}"));
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| bad("expected smtp://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let port_of = |p: &str| p.parse::<u16>().map_err(|_| bad("a port must be a number"));
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (h, rest) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("an unclosed ["))?;
            match rest.strip_prefix(':') {
                Some(p) => (h, port_of(p)?),
                None if rest.is_empty() => (h, 25),
                None => return Err(bad("text after ]")),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (hostport, 25),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let starttls = match query {
            "" => StartTls::Never,
            "tls=opportunistic" => StartTls::IfOffered,
            "tls=required" => StartTls::Required,
            _ => return Err(bad("the only query is tls=required or tls=opportunistic")),
        };
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad("bad percent-encoding in the user or password"))
        };
        let credentials = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            Some((user, pass)) => Some((decode(user)?, decode(pass)?)),
            None => None,
        };
        let hello = Some(path.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        Ok(Self {
            host: host.to_string(),
            port,
            starttls,
            credentials,
            hello,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub struct SmtpPool {
    target: SmtpTarget,
    /// For STARTTLS, when the target may use it.
    tls: Option<TlsParameters>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<(Connection, Instant)>>,
    slots: Semaphore,
}

/// The TCP socket, shared by lettre's client (which reads every reply through its buffer)
/// and our own writes of a transaction. Both only ever take turns on one connection.
#[derive(Clone, Debug)]
struct SharedTcp(Arc<TcpStream>);

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; poll_read_ready has cleared it and registers anew.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    // The socket closes when the last handle is dropped.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncTokioStream for SharedTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

/// One session with the relay.
struct Connection {
    smtp: AsyncSmtpConnection,
    /// Our handle on the socket while the session is not encrypted.
    plain: Option<SharedTcp>,
    /// The relay announced PIPELINING.
    pipelining: bool,
    /// A write or read of ours failed, or a message was left half-sent: not to be reused.
    broken: bool,
}

impl Connection {
    fn is_broken(&self) -> bool {
        self.broken || self.smtp.has_broken()
    }

    /// Send one message: our own transaction where we can, else lettre's.
    async fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<(), MailError> {
        let ours = self
            .plain
            .clone()
            .filter(|_| ascii_envelope(envelope) && bytes.is_ascii());
        let Some(mut tcp) = ours else {
            return self
                .smtp
                .send(envelope, bytes)
                .await
                .map(drop)
                .map_err(classify);
        };
        let mut commands = vec![Mail::new(envelope.from().cloned(), vec![]).to_string()];
        commands.extend(
            envelope
                .to()
                .iter()
                .map(|to| Rcpt::new(to.clone(), vec![]).to_string()),
        );
        commands.push(Data.to_string());
        let mut refused = None;
        let mut data_accepted = false;
        if self.pipelining {
            self.write(&mut tcp, commands.concat().as_bytes()).await?;
            // Every command is answered, in order, whatever the earlier answers were.
            for _ in 0..commands.len() {
                data_accepted = self.reply(&mut refused).await?;
            }
        } else {
            for command in &commands {
                self.write(&mut tcp, command.as_bytes()).await?;
                data_accepted = self.reply(&mut refused).await?;
                if refused.is_some() {
                    break;
                }
            }
        }
        match refused {
            // A relay that takes DATA after refusing its transaction would take a body
            // without its sender or recipients: hang up instead, so it discards the message.
            Some(e) if data_accepted => {
                self.broken = true;
                Err(e)
            }
            Some(e) => Err(e),
            None => {
                self.write(&mut tcp, &data_block(bytes)).await?;
                let mut refused = None;
                self.reply(&mut refused).await?;
                refused.map_or(Ok(()), Err)
            }
        }
    }

    async fn write(&mut self, tcp: &mut SharedTcp, bytes: &[u8]) -> Result<(), MailError> {
        tcp.write_all(bytes).await.map_err(|e| {
            self.broken = true;
            MailError::Transient(format!("writing to the SMTP server: {e}"))
        })
    }

    /// Read one reply: `Ok(true)` for a positive one; a refusal is kept in `refused` (the
    /// first one counts) and gives `Ok(false)`. A 421 (the server is closing the session),
    /// an unreadable reply or a network error leaves the session broken and is the error
    /// (a refusal read before it is the more telling one).
    async fn reply(&mut self, refused: &mut Option<MailError>) -> Result<bool, MailError> {
        let e = match self.smtp.read_response().await {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let closing = e.status().map(|c| c == SERVICE_CLOSING);
        if closing == Some(false) {
            refused.get_or_insert(classify(e));
            return Ok(false);
        }
        self.broken = true;
        Err(refused.take().unwrap_or_else(|| classify(e)))
    }
}

/// 421: the server is closing the session (RFC 5321 3.8).
const SERVICE_CLOSING: Code = Code {
    severity: Severity::TransientNegativeCompletion,
    category: Category::Connections,
    detail: Detail::One,
};

/// A message body as it goes after `DATA`: every line that starts with a dot gets a second
/// one (RFC 5321 4.5.2; a line starts at the beginning and after each CRLF, as lettre
/// counts), then the terminating `CRLF . CRLF`.
fn data_block(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    if body.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut from = 0;
    for at in memchr::memmem::find_iter(body, b"\r\n.") {
        out.extend_from_slice(&body[from..at + 2]);
        out.push(b'.');
        from = at + 2;
    }
    out.extend_from_slice(&body[from..]);
    out.extend_from_slice(b"\r\n.\r\n");
    out
}

/// No address needs SMTPUTF8.
fn ascii_envelope(envelope: &Envelope) -> bool {
    let ascii = |a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii();
    envelope.from().is_none_or(ascii) && envelope.to().iter().all(ascii)
}

/// Whether an EHLO reply announces PIPELINING.
fn announces_pipelining(ehlo: &lettre::transport::smtp::response::Response) -> bool {
    // The first line is the server's name.
    ehlo.message().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
    })
}

fn classify(e: lettre::transport::smtp::Error) -> MailError {
    if e.is_permanent() {
        MailError::Permanent(e.to_string())
    } else {
        MailError::Transient(e.to_string())
    }
}

impl SmtpPool {
    pub fn new(
        target: SmtpTarget,
        max_connections: usize,
        timeout: Duration,
        tls: Option<TlsParameters>,
    ) -> Self {
        let hello = target
            .hello
            .clone()
            .map(ClientId::Domain)
            .unwrap_or_default();
        Self {
            target,
            tls,
            hello,
            timeout,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max_connections.max(1)),
        }
    }

    async fn connect(&self) -> Result<Connection, MailError> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| {
                MailError::Transient(format!("connecting to {}:{}: {e}", t.host, t.port))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| MailError::Transient(e.to_string()))?;
        let tcp = SharedTcp(Arc::new(tcp));
        let mut smtp =
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp.clone()), &self.hello)
                .await
                .map_err(classify)?;
        let tls = self.tls.as_ref().filter(|_| {
            t.starttls == StartTls::Required
                || (t.starttls == StartTls::IfOffered && smtp.can_starttls())
        });
        let mut conn = if let Some(tls) = tls {
            smtp.starttls(tls.clone(), &self.hello)
                .await
                .map_err(classify)?;
            Connection {
                smtp,
                plain: None,
                pipelining: false,
                broken: false,
            }
        } else {
            // lettre keeps no note of PIPELINING: ask again (once a session, before AUTH)
            // and read the reply ourselves.
            let ehlo = smtp
                .command(Ehlo::new(self.hello.clone()))
                .await
                .map_err(classify)?;
            Connection {
                smtp,
                pipelining: announces_pipelining(&ehlo),
                plain: Some(tcp),
                broken: false,
            }
        };
        if let Some((user, pass)) = &t.credentials {
            let creds = Credentials::new(user.clone(), pass.clone());
            conn.smtp
                .auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// Send one message. A pooled connection that turns out dead is replaced once; a
    /// fresh connection's failure is the answer.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), MailError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let reused = {
            let mut idle = self.idle.lock().await;
            let mut found = None;
            while let Some((conn, since)) = idle.pop() {
                if since.elapsed() < MAX_IDLE && !conn.is_broken() {
                    found = Some(conn);
                    break;
                }
            }
            found
        };
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => self.timed(self.connect()).await?,
        };
        let mut result = self.timed(conn.send(envelope, bytes)).await;
        if was_reused && matches!(result, Err(MailError::Transient(_))) && conn.is_broken() {
            conn = self.timed(self.connect()).await?;
            result = self.timed(conn.send(envelope, bytes)).await;
        }
        match &result {
            Ok(()) => self.idle.lock().await.push((conn, Instant::now())),
            // A refused recipient leaves the session usable; anything else may not.
            Err(MailError::Permanent(_)) if !conn.is_broken() => {
                let rset = async { conn.smtp.command(Rset).await.map_err(classify) };
                if self.timed(rset).await.is_ok() {
                    self.idle.lock().await.push((conn, Instant::now()));
                }
            }
            // Our own failures leave nothing to say to the server: dropping closes it.
            Err(_) if conn.broken => {}
            // QUIT, unless the server has stopped answering (a timeout): then just close.
            Err(_) => {
                let quit = async {
                    conn.smtp.abort().await;
                    Ok(())
                };
                let _ = self.timed(quit).await;
            }
        }
        result
    }

    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, MailError>>,
    ) -> Result<T, MailError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .unwrap_or_else(|_| {
                Err(MailError::Transient(format!(
                    "the SMTP server did not answer within {:?}",
                    self.timeout
                )))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.starttls, t.credentials),
            ("127.0.0.1", 2525, StartTls::Never, None)
        );
        let t =
            SmtpTarget::parse("smtp://me%40x.org:p%3Ass@mail.example.com:587/mx.me?tls=required")
                .unwrap();
        assert_eq!(t.host, "mail.example.com");
        assert_eq!(t.credentials, Some(("me@x.org".into(), "p:ss".into())));
        assert_eq!(
            (t.starttls, t.hello.as_deref()),
            (StartTls::Required, Some("mx.me"))
        );
        assert_eq!(SmtpTarget::parse("smtp://relay").unwrap().port, 25);
        assert_eq!(SmtpTarget::parse("smtp://[::1]:26").unwrap().host, "::1");
        assert_eq!(SmtpTarget::parse("smtp://[::1]").unwrap().port, 25);
        for bad in [
            "smtp://",
            "smtp://h:port",
            "smtp://h?tls=maybe",
            "http://h",
            "smtp://u:%zz@h",
        ] {
            assert!(SmtpTarget::parse(bad).is_err(), "{bad}");
        }
    }

    /// Dot-stuffing as lettre's codec does it, byte by byte: the reference.
    fn stuffed_byte_by_byte(body: &[u8]) -> Vec<u8> {
        let (mut out, mut line_start, mut after_cr) = (Vec::new(), true, false);
        for &b in body {
            if b == b'.' && line_start {
                out.push(b'.');
            }
            out.push(b);
            line_start = after_cr && b == b'\n';
            after_cr = b == b'\r';
        }
        out.extend_from_slice(b"\r\n.\r\n");
        out
    }

    #[test]
    fn data_blocks_stuff_dots_at_line_starts_only() {
        assert_eq!(data_block(b""), b"\r\n.\r\n");
        assert_eq!(
            data_block(b".a\r\n.\r\nb.c\r\n..d"),
            b"..a\r\n..\r\nb.c\r\n...d\r\n.\r\n"
        );
        // A lone CR or LF does not start a line, as lettre counts.
        assert_eq!(data_block(b"a\n.b\r.c"), b"a\n.b\r.c\r\n.\r\n");
        assert_eq!(data_block(b"a\r\r\n.b"), b"a\r\r\n..b\r\n.\r\n");
    }

    proptest::proptest! {
        #[test]
        fn data_blocks_are_what_lettre_would_send(body in proptest::collection::vec(
            proptest::sample::select(vec![b'.', b'\r', b'\n', b'a', b' ']), 0..200)) {
            proptest::prop_assert_eq!(data_block(&body), stuffed_byte_by_byte(&body));
        }
    }

    #[test]
    fn pipelining_is_read_from_the_ehlo_reply() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Response, Severity};
        let ehlo = |lines: &[&str]| {
            Response::new(
                Code::new(
                    Severity::PositiveCompletion,
                    Category::MailSystem,
                    Detail::Zero,
                ),
                lines.iter().map(|l| l.to_string()).collect(),
            )
        };
        assert!(announces_pipelining(&ehlo(&[
            "sink.test",
            "PIPELINING",
            "8BITMIME"
        ])));
        assert!(announces_pipelining(&ehlo(&["sink.test", "pipelining"])));
        assert!(!announces_pipelining(&ehlo(&[
            "sink.test",
            "8BITMIME",
            "XPIPELINING"
        ])));
        assert!(!announces_pipelining(&ehlo(&["PIPELINING"])));
    }
}
