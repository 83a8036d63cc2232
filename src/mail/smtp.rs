//! A pool of SMTP sessions, and each mail transaction written straight to the socket.
//!
//! lettre 0.11.23 leaves Nagle's algorithm on: it writes a message body, then `\r\n.\r\n` as a
//! second small write, which waits for the server's delayed ACK, 40 ms on Linux, on every
//! message (fixed upstream in lettre PR #1159, not yet released); it has no PIPELINING, and
//! it stuffs the body's dots byte by byte (the largest function in a delivery profile). So
//! we open the sockets ourselves (TCP_NODELAY; TLS with rustls for STARTTLS and `smtps://`)
//! and share each with lettre's SMTP client (`AsyncSmtpConnection`), which reads the
//! greeting and every reply and formats the commands. We write each transaction: with
//! PIPELINING (RFC 2920) `MAIL`, `RCPT` and `DATA` go in one write, and the body is
//! dot-stuffed with memchr and sent with its end in one write: two round trips a message
//! instead of four, which also spares the relay.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
#[allow(deprecated)] // AsyncNetworkStream: the one way to hand lettre a stream after STARTTLS
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Auth, Data, Ehlo, Mail, Rcpt, Rset, Starttls};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::{Category, Code, Detail, Response, Severity};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};

use super::transport::{Sending, Transport};
use super::{SendError, SetupError};
use crate::net::{percent_decode, redacted, split_host_port, tls_client_config};

/// A pooled connection is not reused after this long idle: servers close idle sessions.
const MAX_IDLE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://`: in the clear.
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the relay offers it.
    StartTlsIfOffered,
    /// `smtp://…?tls=required`: STARTTLS or nothing.
    StartTlsRequired,
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
}

pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<(String, String)>,
    pub hello: Option<String>,
}

impl SmtpTarget {
    /// Parse `smtp://[user:pass@]host[:port][/hello-name][?tls=required|opportunistic]` or
    /// `smtps://[user:pass@]host[:port][/hello-name]`.
    pub fn parse(url: &str) -> Result<Self, SetupError> {
        let bad = |why: &str| SetupError::SmtpUrl(format!("{why} in {:?}", redacted(url)));
        let (implicit, rest) = match (url.strip_prefix("smtps://"), url.strip_prefix("smtp://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(bad("expected smtp:// or smtps://")),
        };
        let default_port = if implicit { 465 } else { 25 };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport, default_port).map_err(bad)?;
        let tls = match (implicit, query) {
            (true, "") => TlsMode::Implicit,
            (true, _) => return Err(bad("smtps:// takes no query: it is TLS throughout")),
            (false, "") => TlsMode::Plain,
            (false, "tls=opportunistic") => TlsMode::StartTlsIfOffered,
            (false, "tls=required") => TlsMode::StartTlsRequired,
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
            tls,
            credentials,
            hello,
        })
    }
}

pub struct SmtpPool {
    target: SmtpTarget,
    /// When the target may use TLS.
    tls: Option<RelayTls>,
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

/// A TLS session over the socket, shared like [`SharedTcp`]: lettre reads the replies
/// through it, we write the transactions. The lock is held only inside one poll.
#[derive(Clone)]
struct SharedTls(Arc<std::sync::Mutex<tokio_rustls::client::TlsStream<SharedTcp>>>);

impl SharedTls {
    fn lock(&self) -> std::sync::MutexGuard<'_, tokio_rustls::client::TlsStream<SharedTcp>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for SharedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTls")
    }
}

impl AsyncRead for SharedTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_read(cx, buf)
    }
}

impl AsyncWrite for SharedTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.lock()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for SharedTls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.lock().get_ref().0.peer_addr()
    }
}

/// Our handle on a session's socket, in the clear or through its TLS session.
#[derive(Clone)]
enum Socket {
    Plain(SharedTcp),
    Tls(SharedTls),
}

impl Socket {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Socket::Plain(tcp) => tcp.write_all(bytes).await,
            // rustls may hold the last records until flushed.
            Socket::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    /// lettre's reading (and writing) end of the same socket.
    fn for_lettre(&self) -> Box<dyn AsyncTokioStream> {
        match self {
            Socket::Plain(tcp) => Box::new(tcp.clone()),
            Socket::Tls(tls) => Box::new(tls.clone()),
        }
    }
}

/// TLS to the relay: the public roots and the operator's own (`mail.tls_ca_file`).
pub struct RelayTls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl RelayTls {
    /// For the relay `host`; `ca_file` (empty: none) holds more PEM certificates to trust.
    pub fn new(host: &str, ca_file: &std::path::Path) -> Result<Self, SetupError> {
        let config = tls_client_config(ca_file).map_err(SetupError::TlsCa)?;
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| SetupError::SmtpUrl(format!("{host:?} is not a TLS server name: {e}")))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    async fn wrap(&self, tcp: SharedTcp) -> Result<Socket, SendError> {
        let stream = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            // A certificate we do not trust is a transient failure: the mail waits, and
            // nothing goes out in the clear.
            .map_err(|e| SendError::Transient(format!("TLS with the relay: {e}")))?;
        Ok(Socket::Tls(SharedTls(Arc::new(std::sync::Mutex::new(
            stream,
        )))))
    }
}

/// One session with the relay.
struct Connection {
    smtp: AsyncSmtpConnection,
    /// Our handle on the session's socket.
    socket: Socket,
    /// The relay announced PIPELINING, 8BITMIME, SMTPUTF8 (after STARTTLS, if any).
    pipelining: bool,
    eightbitmime: bool,
    smtputf8: bool,
    /// A write or read of ours failed, or a message was left half-sent: not to be reused.
    broken: bool,
}

impl Connection {
    fn is_broken(&self) -> bool {
        self.broken || self.smtp.has_broken()
    }

    /// Send one message.
    async fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let mut socket = self.socket.clone();
        // What lettre would say in MAIL, by what the relay announced after STARTTLS.
        let mut parameters = Vec::new();
        if !ascii_envelope(envelope) {
            if !self.smtputf8 {
                return Err(SendError::Transient(
                    "the address is not ASCII and the relay does not announce SMTPUTF8".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !self.eightbitmime {
                return Err(SendError::Transient(
                    "the message is not ASCII and the relay does not announce 8BITMIME".into(),
                ));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mut commands = vec![Mail::new(envelope.from().cloned(), parameters).to_string()];
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
            self.write(&mut socket, commands.concat().as_bytes())
                .await?;
        }
        // With pipelining every command is answered, in order, whatever the earlier answers
        // were; without, a refusal ends the transaction.
        for (i, command) in commands.iter().enumerate() {
            if !self.pipelining {
                self.write(&mut socket, command.as_bytes()).await?;
            }
            data_accepted = self.reply(&mut refused).await?;
            // A refused sender is the operator's problem, not the reader's: not a bounce.
            if let (0, Some(SendError::Permanent(why))) = (i, &refused) {
                refused = Some(SendError::Transient(format!(
                    "the relay refused the sender: {why}"
                )));
            }
            if !self.pipelining && refused.is_some() {
                break;
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
                self.write(&mut socket, &data_block(bytes)).await?;
                let mut refused = None;
                self.reply(&mut refused).await?;
                refused.map_or(Ok(()), Err)
            }
        }
    }

    async fn write(&mut self, socket: &mut Socket, bytes: &[u8]) -> Result<(), SendError> {
        socket.write_all(bytes).await.map_err(|e| {
            self.broken = true;
            SendError::Transient(format!("writing to the SMTP server: {e}"))
        })
    }

    /// Read one reply: `Ok(true)` for a positive one; a refusal is kept in `refused` (the
    /// first one counts) and gives `Ok(false)`. A 421 (the server is closing the session),
    /// an unreadable reply or a network error leaves the session broken and is the error
    /// (a refusal read before it is the more telling one).
    async fn reply(&mut self, refused: &mut Option<SendError>) -> Result<bool, SendError> {
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

/// The words after `keyword` in an EHLO reply (`AUTH PLAIN LOGIN`: `["PLAIN", "LOGIN"]`),
/// if it announces it.
fn announced<'a>(ehlo: &'a Response, keyword: &str) -> Option<Vec<&'a str>> {
    // The first line is the server's name.
    ehlo.message().skip(1).find_map(|line| {
        let mut words = line.split_whitespace();
        words
            .next()
            .filter(|k| k.eq_ignore_ascii_case(keyword))
            .map(|_| words.collect())
    })
}

fn announces(ehlo: &Response, keyword: &str) -> bool {
    announced(ehlo, keyword).is_some()
}

/// AUTH with the mechanisms the relay announced in `ehlo` (PLAIN first, else LOGIN), the
/// way lettre does it, which would go by its notes of the EHLO before STARTTLS (where
/// relays often announce no AUTH at all).
async fn authenticate(
    smtp: &mut AsyncSmtpConnection,
    ehlo: &Response,
    credentials: &Credentials,
) -> Result<(), SendError> {
    let offered = announced(ehlo, "AUTH").unwrap_or_default();
    let mechanism = [Mechanism::Plain, Mechanism::Login]
        .into_iter()
        .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(&m.to_string())))
        .ok_or_else(|| {
            SendError::Permanent(format!(
                "the relay offers no AUTH PLAIN or LOGIN (it offers {offered:?}): use another relay URL or no credentials"
            ))
        })?;
    let mut reply = smtp
        .command(Auth::new(mechanism, credentials.clone(), None).map_err(classify)?)
        .await
        .map_err(classify)?;
    // LOGIN asks for the user name, then the password; a refusal (535) is an error above.
    for _ in 0..2 {
        if !reply.has_code(334) {
            return Ok(());
        }
        let answer =
            Auth::new_from_response(mechanism, credentials.clone(), &reply).map_err(classify)?;
        reply = smtp.command(answer).await.map_err(classify)?;
    }
    match reply.has_code(334) {
        false => Ok(()),
        true => Err(SendError::Transient(
            "the relay kept asking for more during AUTH".into(),
        )),
    }
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Transient(e.to_string())
    }
}

impl SmtpPool {
    pub fn new(
        target: SmtpTarget,
        max_connections: usize,
        timeout: Duration,
        tls: Option<RelayTls>,
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

    /// A new session, ready for a transaction. Whatever goes wrong here (a refused
    /// connection, TLS, a 5xx to EHLO or AUTH) is the relay's or the configuration's
    /// problem, never a reader's: it is transient, so no reader is marked bounced for it and
    /// the mail waits for the relay to be mended.
    async fn connect(&self) -> Result<Connection, SendError> {
        self.open().await.map_err(|e| match e {
            SendError::Permanent(why) => {
                SendError::Transient(format!("the relay refused the session: {why}"))
            }
            other => other,
        })
    }

    async fn open(&self) -> Result<Connection, SendError> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| {
                SendError::Transient(format!("connecting to {}:{}: {e}", t.host, t.port))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::Transient(e.to_string()))?;
        let tcp = SharedTcp(Arc::new(tcp));
        let tls = || {
            self.tls
                .as_ref()
                .expect("TLS parameters are made for every target that may use TLS")
        };
        let mut socket = match t.tls {
            TlsMode::Implicit => tls().wrap(tcp.clone()).await?,
            _ => Socket::Plain(tcp.clone()),
        };
        let mut smtp =
            AsyncSmtpConnection::connect_with_transport(socket.for_lettre(), &self.hello)
                .await
                .map_err(classify)?;
        let starttls = match t.tls {
            TlsMode::StartTlsRequired if !smtp.can_starttls() => {
                return Err(SendError::Transient(
                    "the relay does not offer STARTTLS, which tls=required asks for".into(),
                ));
            }
            TlsMode::StartTlsRequired => true,
            TlsMode::StartTlsIfOffered => smtp.can_starttls(),
            TlsMode::Plain | TlsMode::Implicit => false,
        };
        // Opportunistic TLS may be stripped by anyone on the path: the password only goes
        // in the clear when the URL says so (plain smtp://, e.g. a relay on localhost).
        if t.tls == TlsMode::StartTlsIfOffered && !starttls && t.credentials.is_some() {
            return Err(SendError::Transient(
                "the relay offers no STARTTLS, and tls=opportunistic does not send the password in the clear (use tls=required, or smtp:// without it if the relay is on a trusted network)".into(),
            ));
        }
        if starttls {
            // Our own TLS session rather than lettre's, so that we can write through it.
            smtp.command(Starttls).await.map_err(classify)?;
            socket = tls().wrap(tcp).await?;
            #[allow(deprecated)]
            smtp.set_stream(AsyncNetworkStream::use_existing_tokio1(socket.for_lettre()));
        }
        // lettre keeps no note of PIPELINING, and after STARTTLS its notes are of the
        // session before: ask again (once a session) and read the reply ourselves.
        let ehlo = smtp
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(classify)?;
        if let Some((user, pass)) = &t.credentials {
            authenticate(
                &mut smtp,
                &ehlo,
                &Credentials::new(user.clone(), pass.clone()),
            )
            .await?;
        }
        let conn = Connection {
            smtp,
            socket,
            pipelining: announces(&ehlo, "PIPELINING"),
            eightbitmime: announces(&ehlo, "8BITMIME"),
            smtputf8: announces(&ehlo, "SMTPUTF8"),
            broken: false,
        };
        Ok(conn)
    }

    /// Send one message. A pooled connection that turns out dead is replaced once; a
    /// fresh connection's failure is the answer.
    async fn send_one(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
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
        if was_reused && matches!(result, Err(SendError::Transient(_))) && conn.is_broken() {
            conn = self.timed(self.connect()).await?;
            result = self.timed(conn.send(envelope, bytes)).await;
        }
        match &result {
            Ok(()) => self.idle.lock().await.push((conn, Instant::now())),
            // A refused recipient leaves the session usable; anything else may not.
            Err(SendError::Permanent(_)) if !conn.is_broken() => {
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
        f: impl std::future::Future<Output = Result<T, SendError>>,
    ) -> Result<T, SendError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Transient(format!(
                    "the SMTP server did not answer within {:?}",
                    self.timeout
                )))
            })
    }
}

impl Transport for SmtpPool {
    fn send<'a>(&'a self, envelope: &'a Envelope, bytes: &'a [u8]) -> Sending<'a> {
        Box::pin(self.send_one(envelope, bytes))
    }

    fn describe(&self) -> String {
        let t = &self.target;
        format!("mail goes to the SMTP relay at {}:{}", t.host, t.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls, t.credentials),
            ("127.0.0.1", 2525, TlsMode::Plain, None)
        );
        let t =
            SmtpTarget::parse("smtp://me%40x.org:p%3Ass@mail.example.com:587/mx.me?tls=required")
                .unwrap();
        assert_eq!(t.host, "mail.example.com");
        assert_eq!(t.credentials, Some(("me@x.org".into(), "p:ss".into())));
        assert_eq!(
            (t.tls, t.hello.as_deref()),
            (TlsMode::StartTlsRequired, Some("mx.me"))
        );
        assert_eq!(SmtpTarget::parse("smtp://relay").unwrap().port, 25);
        assert_eq!(SmtpTarget::parse("smtp://[::1]:26").unwrap().host, "::1");
        assert_eq!(SmtpTarget::parse("smtp://[::1]").unwrap().port, 25);
        let t = SmtpTarget::parse("smtps://u:p@smtp.example.com").unwrap();
        assert_eq!((t.port, t.tls), (465, TlsMode::Implicit));
        let t = SmtpTarget::parse("smtp://h?tls=opportunistic").unwrap();
        assert_eq!(t.tls, TlsMode::StartTlsIfOffered);
        for bad in [
            "smtp://",
            "smtp://h:port",
            "smtp://h?tls=maybe",
            "http://h",
            "smtp://u:%zz@h",
            "smtps://h?tls=required",
            "smtpx://h",
        ] {
            assert!(SmtpTarget::parse(bad).is_err(), "{bad}");
        }
        // A password never shows in an error.
        let Err(e) = SmtpTarget::parse("smtp://me:s3cret@h:port") else {
            panic!("a bad port is an error");
        };
        assert!(
            !e.to_string().contains("s3cret") && e.to_string().contains("me:***@h:port"),
            "{e}"
        );
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
    fn extensions_are_read_from_the_ehlo_reply() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
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
        let pipelining = |lines: &[&str]| announces(&ehlo(lines), "PIPELINING");
        assert!(pipelining(&["sink.test", "PIPELINING", "8BITMIME"]));
        assert!(pipelining(&["sink.test", "pipelining"]));
        assert!(!pipelining(&["sink.test", "8BITMIME", "XPIPELINING"]));
        // The first line is the server's name.
        assert!(!pipelining(&["PIPELINING"]));
        let reply = ehlo(&["relay", "AUTH PLAIN LOGIN", "SIZE 10240000"]);
        assert_eq!(announced(&reply, "auth"), Some(vec!["PLAIN", "LOGIN"]));
        assert_eq!(announced(&reply, "STARTTLS"), None);
    }
}
