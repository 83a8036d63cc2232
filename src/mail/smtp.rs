//! A pool of SMTP connections with TCP_NODELAY set.
//!
//! lettre 0.11.23 leaves Nagle's algorithm on: it writes a message body, then `\r\n.\r\n` as a
//! second small write, which waits for the server's delayed ACK, 40 ms on Linux, on every
//! message (fixed upstream in lettre PR #1159, not yet released). So for `smtp://` relays we
//! open the sockets ourselves and hand them to lettre's own SMTP client
//! (`AsyncSmtpConnection`), which still does EHLO, STARTTLS, AUTH and the transaction.

use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
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
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    slots: Semaphore,
}

fn classify(e: lettre::transport::smtp::Error) -> MailError {
    if e.is_permanent() {
        MailError::Permanent(e.to_string())
    } else {
        MailError::Transient(e.to_string())
    }
}

impl SmtpPool {
    pub fn new(target: SmtpTarget, max_connections: usize, timeout: Duration) -> Self {
        let hello = target
            .hello
            .clone()
            .map(ClientId::Domain)
            .unwrap_or_default();
        Self {
            target,
            hello,
            timeout,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max_connections.max(1)),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let t = &self.target;
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| {
                MailError::Transient(format!("connecting to {}:{}: {e}", t.host, t.port))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| MailError::Transient(e.to_string()))?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(classify)?;
        if t.starttls == StartTls::Required
            || (t.starttls == StartTls::IfOffered && conn.can_starttls())
        {
            let params = TlsParameters::new(t.host.clone()).map_err(classify)?;
            conn.starttls(params, &self.hello).await.map_err(classify)?;
        }
        if let Some((user, pass)) = &t.credentials {
            let creds = Credentials::new(user.clone(), pass.clone());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
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
                if since.elapsed() < MAX_IDLE && !conn.has_broken() {
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
        let mut result = self
            .timed(async {
                conn.send(envelope, bytes)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            })
            .await;
        if was_reused && matches!(result, Err(MailError::Transient(_))) && conn.has_broken() {
            conn = self.timed(self.connect()).await?;
            result = self
                .timed(async {
                    conn.send(envelope, bytes)
                        .await
                        .map(|_| ())
                        .map_err(classify)
                })
                .await;
        }
        match &result {
            Ok(()) => self.idle.lock().await.push((conn, Instant::now())),
            // A refused recipient leaves the session usable; anything else may not.
            Err(MailError::Permanent(_)) if !conn.has_broken() => {
                let _ = conn.command(lettre::transport::smtp::commands::Rset).await;
                self.idle.lock().await.push((conn, Instant::now()));
            }
            Err(_) => conn.abort().await,
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
}
