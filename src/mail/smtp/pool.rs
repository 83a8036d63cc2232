//! The pool of sessions with the relay: opened on demand (TCP, TLS, EHLO, AUTH), kept while
//! idle, at most `max_connections` at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
#[allow(deprecated)] // AsyncNetworkStream: the one way to hand lettre a stream after STARTTLS
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Ehlo, Rset, Starttls};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};

use super::session::{Connection, announces, authenticate, classify};
use super::socket::{Recorded, SharedTcp, Socket, greeting};
use super::tls::RelayTls;
use super::url::{SmtpTarget, TlsMode};
use crate::mail::SendError;
use crate::mail::transport::{Sending, Transport};

/// A pooled connection is not reused after this long idle: servers close idle sessions.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// What a relay said to a session opened and closed without sending anything.
#[derive(Clone, Debug)]
pub struct RelayProbe {
    /// `host:port`.
    pub address: String,
    /// Its greeting, after the 220.
    pub greeting: String,
    /// "STARTTLS" or "TLS" (`smtps://`) when the session was encrypted.
    pub tls: Option<&'static str>,
    /// AUTH was done (and accepted) with the URL's credentials.
    pub authenticated: bool,
    pub pipelining: bool,
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
        self.open_recording(None).await
    }

    /// Open a session as [`open`](Self::open) does, and close it with QUIT, sending
    /// nothing: what the relay said, and which steps were taken.
    pub async fn probe(&self) -> Result<RelayProbe, String> {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let why = |e: SendError| match e {
            SendError::Permanent(s) | SendError::Transient(s) => s,
        };
        let mut conn = self
            .timed(self.open_recording(Some(&seen)))
            .await
            .map_err(why)?;
        let probe = RelayProbe {
            address: format!("{}:{}", self.target.host, self.target.port),
            greeting: greeting(
                &seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            tls: match (self.target.tls, &conn.socket) {
                (TlsMode::Implicit, _) => Some("TLS"),
                (_, Socket::Tls(_)) => Some("STARTTLS"),
                (_, Socket::Plain(_)) => None,
            },
            authenticated: self.target.credentials.is_some(),
            pipelining: conn.pipelining,
        };
        let quit = async { conn.smtp.quit().await.map(|_| ()).map_err(classify) };
        self.timed(quit)
            .await
            .map_err(|e| format!("QUIT was not answered: {}", why(e)))?;
        Ok(probe)
    }

    async fn open_recording(
        &self,
        greeting: Option<&Arc<std::sync::Mutex<Vec<u8>>>>,
    ) -> Result<Connection, SendError> {
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
        let stream: Box<dyn AsyncTokioStream> = match greeting {
            Some(seen) => Box::new(Recorded::new(socket.for_lettre(), seen.clone())),
            None => socket.for_lettre(),
        };
        let mut smtp = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
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
