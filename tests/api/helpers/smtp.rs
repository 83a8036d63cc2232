//! SMTP servers for the tests: a real one that keeps what it receives and misbehaves on
//! request (mailin-embedded), small scripted ones for what it cannot do, and a TLS front.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server, SslConfig};

/// A mail as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parseable mail")
    }
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .expect("a text part")
            .into_owned()
    }
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .expect("an html part")
            .into_owned()
    }
}

/// How the test SMTP server misbehaves, set while a test runs.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Recipients refused with 550 (a hard bounce).
    pub reject: Vec<String>,
    /// Answer this many DATA commands with 451 (try again later) before accepting.
    pub defer: usize,
    /// Answer this many DATA commands with 421 and close the connection.
    pub close: usize,
    /// Wait this long before answering each DATA command: a slow relay.
    pub delay: Duration,
}

/// A real SMTP server (mailin-embedded) on a loopback port; every accepted message is kept.
#[derive(Clone)]
pub struct MailSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    pub faults: Arc<Mutex<Faults>>,
}

#[derive(Clone)]
struct Collect {
    received: Arc<Mutex<Vec<Received>>>,
    faults: Arc<Mutex<Faults>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

/// The credentials a relay started with `auth` takes.
pub const RELAY_USER: &str = "relay-user";
pub const RELAY_PASSWORD: &str = "relay p@ss:word";

impl Handler for Collect {
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.auth_login(user, password)
    }
    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        if user == RELAY_USER && password == RELAY_PASSWORD {
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }
    fn rcpt(&mut self, to: &str) -> Response {
        let refused = self
            .faults
            .lock()
            .unwrap()
            .reject
            .iter()
            .any(|r| r.eq_ignore_ascii_case(to));
        if refused {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        // (mailin keeps reading the body after an error at its end, so defer at DATA.)
        let delay = self.faults.lock().unwrap().delay;
        std::thread::sleep(delay);
        {
            let mut f = self.faults.lock().unwrap();
            if f.defer > 0 {
                f.defer -= 1;
                return response::Response::custom(451, "4.3.0 try again later".into());
            }
            if f.close > 0 {
                f.close -= 1;
                return response::Response::custom(421, "4.3.2 shutting down".into());
            }
        }
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let mail = Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        };
        self.received.lock().unwrap().push(mail);
        response::OK
    }
}

impl MailSink {
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A server on a listener the test chose (e.g. the port of a server that was down).
    pub fn start_on(listener: TcpListener) -> Self {
        Self::start_with(listener, SslConfig::None, None)
    }

    /// A server that offers STARTTLS with `ssl`'s certificate (or none: `SslConfig::None`);
    /// with `auth`, it asks for AUTH with that mechanism as [`RELAY_USER`] with
    /// [`RELAY_PASSWORD`] first.
    pub fn start_with(
        listener: TcpListener,
        ssl: SslConfig,
        auth: Option<mailin_embedded::AuthMechanism>,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let handler = Collect {
            received: received.clone(),
            faults: faults.clone(),
            from: String::new(),
            to: vec![],
            data: vec![],
        };
        let mut server = Server::new(handler);
        if let Some(mechanism) = auth {
            server.with_auth(mechanism);
        }
        server
            .with_name("sink.test")
            .with_ssl(ssl)
            .unwrap()
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            addr,
            received,
            faults,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Wait (up to [`PATIENCE`](super::PATIENCE)) until `n` mails to `address` have arrived.
    /// [`TestApp::wait_for_mails`](super::TestApp::wait_for_mails) also shows, when they do
    /// not, what the app's outbox and log say.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Received> {
        super::until(
            &format!("{n} mail(s) to {address}"),
            async || self.to(address).len() >= n,
            async || format!("{} arrived", self.to(address).len()),
        )
        .await;
        self.to(address)
    }
}

/// An SMTP server that takes every command, then hangs up in the middle of each message
/// body (mailin-embedded cannot: it answers a failing body with a 554). Returns its address.
pub async fn dropping_smtp_server() -> SocketAddr {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 dropper ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    let reply: &[u8] = if verb.starts_with("EHLO") {
                        b"250-dropper\r\n250 8BITMIME\r\n"
                    } else if verb.starts_with("DATA") {
                        b"354 go ahead\r\n"
                    } else if verb.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else if line.starts_with("Subject:") || line.starts_with("Content-Type:") {
                        // Inside the body: hang up.
                        return;
                    } else if verb.starts_with("MAIL")
                        || verb.starts_with("RCPT")
                        || verb.starts_with("RSET")
                        || verb.starts_with("NOOP")
                    {
                        b"250 ok\r\n"
                    } else {
                        continue;
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A small SMTP server that announces PIPELINING or not (mailin-embedded never does),
/// refuses the recipients in `refuse` with 550, and answers the first RCPT for `hang_up_on`
/// with 421 and hangs up. It reads a line at a time, so pipelined commands are answered in
/// order, as RFC 2920 asks.
pub struct ScriptedSmtp {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub sessions: Arc<std::sync::atomic::AtomicUsize>,
}

pub async fn scripted_smtp_server(
    pipelining: bool,
    refuse: &[&str],
    hang_up_on: &str,
) -> ScriptedSmtp {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sessions = Arc::new(AtomicUsize::new(0));
    let hung_up = Arc::new(AtomicBool::new(false));
    let refuse: Vec<String> = refuse.iter().map(|r| r.to_ascii_lowercase()).collect();
    let hang_up_on = hang_up_on.to_ascii_lowercase();
    let ehlo: &[u8] = match pipelining {
        true => b"250-script.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
        false => b"250-script.test\r\n250 8BITMIME\r\n",
    };
    let (kept, counted) = (received.clone(), sessions.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let (received, hung_up) = (kept.clone(), hung_up.clone());
            let (refuse, hang_up_on) = (refuse.clone(), hang_up_on.clone());
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 script.test ESMTP\r\n").await;
                let mut to: Vec<String> = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    let reply: &[u8] = if verb.starts_with("EHLO") {
                        ehlo
                    } else if verb.starts_with("MAIL") {
                        to.clear();
                        b"250 2.1.0 ok\r\n"
                    } else if verb.starts_with("RCPT") {
                        let address = line[line.find('<').unwrap_or(0)..]
                            .trim_matches(['<', '>'])
                            .to_ascii_lowercase();
                        if address == hang_up_on && !hung_up.swap(true, Ordering::SeqCst) {
                            let _ = write.write_all(b"421 4.3.2 closing\r\n").await;
                            return;
                        }
                        if refuse.contains(&address) {
                            b"550 5.1.1 no such user\r\n"
                        } else {
                            to.push(address);
                            b"250 2.1.5 ok\r\n"
                        }
                    } else if verb.starts_with("DATA") && to.is_empty() {
                        b"554 5.5.1 no valid recipients\r\n"
                    } else if verb.starts_with("DATA") {
                        let _ = write.write_all(b"354 go ahead\r\n").await;
                        let mut data = Vec::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.extend_from_slice(l.strip_prefix('.').unwrap_or(&l).as_bytes());
                            data.extend_from_slice(b"\r\n");
                        }
                        let to = std::mem::take(&mut to);
                        received.lock().unwrap().push(Received {
                            from: String::new(),
                            to,
                            data,
                        });
                        b"250 2.0.0 queued\r\n"
                    } else if verb.starts_with("RSET") || verb.starts_with("NOOP") {
                        to.clear();
                        b"250 2.0.0 ok\r\n"
                    } else if verb.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"500 5.5.2 what?\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    ScriptedSmtp {
        addr,
        received,
        sessions,
    }
}

/// A TLS server's acceptor for a PEM certificate and key.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let certs = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// TLS from the first byte in front of a plain SMTP server at `to` (what stunnel does for a
/// relay on port 465): `smtps://` clients speak TLS to the returned address.
pub async fn tls_front(
    cert: &std::path::Path,
    key: &std::path::Path,
    to: SocketAddr,
) -> SocketAddr {
    let acceptor = tls_acceptor(cert, key);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

/// A plain SMTP client that says exactly what a test tells it to (to try a server with
/// hostile input as well as well-formed sessions).
pub struct SmtpTalk {
    read: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl SmtpTalk {
    /// Connect and read the greeting.
    pub async fn connect(addr: SocketAddr) -> (Self, String) {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (read, write) = stream.into_split();
        let mut talk = Self {
            read: tokio::io::BufReader::new(read),
            write,
        };
        let greeting = talk.reply().await;
        (talk, greeting)
    }

    /// The next reply, every line of it ("" when the server closed the connection).
    pub async fn reply(&mut self) -> String {
        use tokio::io::AsyncBufReadExt;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(30), self.read.read_line(&mut line))
                    .await
                    .expect("a reply within 30 s");
            if read.unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            // "250-..." continues; "250 ..." ends.
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    /// Send bytes as they are.
    pub async fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write.write_all(bytes).await
    }

    /// Send one command line and read its reply.
    pub async fn command(&mut self, line: &str) -> String {
        self.raw(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }

    /// A whole transaction: MAIL FROM, each RCPT TO, DATA and the message (dot-stuffed);
    /// the reply to the first command refused, or to the message's end.
    pub async fn send_mail(&mut self, from: &str, to: &[&str], message: &[u8]) -> String {
        let r = self.command(&format!("MAIL FROM:<{from}>")).await;
        if !r.starts_with('2') {
            return r;
        }
        for rcpt in to {
            let r = self.command(&format!("RCPT TO:<{rcpt}>")).await;
            if !r.starts_with('2') {
                return r;
            }
        }
        let r = self.command("DATA").await;
        if !r.starts_with("354") {
            return r;
        }
        let mut body = Vec::with_capacity(message.len() + 64);
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                body.push(b'.');
            }
            body.extend_from_slice(line);
        }
        if !body.ends_with(b"\n") {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b".\r\n");
        self.raw(&body).await.unwrap();
        self.reply().await
    }
}

/// Send one message to the SMTP server at `addr` in a session of its own; the reply to its
/// end (or to the command that was refused).
pub async fn smtp_send(addr: SocketAddr, from: &str, to: &[&str], message: &[u8]) -> String {
    let (mut talk, greeting) = SmtpTalk::connect(addr).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let r = talk.command("EHLO client.test").await;
    assert!(r.starts_with("250"), "{r}");
    let r = talk.send_mail(from, to, message).await;
    let _ = talk.command("QUIT").await;
    r
}
