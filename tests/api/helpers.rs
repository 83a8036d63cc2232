//! Start the app on a fresh database with a real SMTP server receiving its mail.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server, SslConfig};
use paperboy::app::App;
use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::subscriptions::Subscriptions;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A mail as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Received {
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
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        // (mailin keeps reading the body after an error at its end, so defer at DATA.)
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

    /// Wait (up to 10 s) until `n` mails to `address` have arrived.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.to(address);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} mail(s) to {address}, got {}",
            self.to(address).len()
        );
    }
}

pub struct TestApp {
    pub base: String,
    /// A browser-like client: keeps cookies, does not follow redirects.
    pub client: reqwest::Client,
    pub smtp: MailSink,
    /// The running app's context: its store, config and mailer, for checks behind the API.
    pub ctx: Context,
    pub subs: Subscriptions,
    pub _db: TestDatabase,
    pub _dir: tempfile::TempDir,
}

/// A PostgreSQL test database, dropped when the test ends (its connections closed by force).
struct DroppedAtEnd {
    server: String,
    name: String,
}

impl Drop for DroppedAtEnd {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime: a thread of its own may block on its own one.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&server).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
                })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping the test database {} panicked", self.name),
        }
    }
}

/// The PostgreSQL server the tests use: `None` (the PostgreSQL runs are skipped) when
/// PAPERBOY_TEST_POSTGRES_URL is not set, unless PAPERBOY_REQUIRE_POSTGRES=1 says a
/// skipped run is a failure (CI sets it).
pub fn postgres_url() -> Option<String> {
    match std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("PAPERBOY_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("PAPERBOY_REQUIRE_POSTGRES=1 but PAPERBOY_TEST_POSTGRES_URL is not set")
        }
        Err(_) => {
            eprintln!("PAPERBOY_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run");
            None
        }
    }
}

/// A test's own database; a PostgreSQL one is dropped when this goes.
pub struct TestDatabase {
    pub url: String,
    _dropped_at_end: Option<DroppedAtEnd>,
}

/// A fresh database for one test: a new SQLite file, or a new PostgreSQL database.
/// `None` when PostgreSQL is asked for and not available (see [`postgres_url`]).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => Some(TestDatabase {
            url: format!("sqlite://{}", dir.join("paperboy.db").display()),
            _dropped_at_end: None,
        }),
        Backend::Postgres => {
            let url = postgres_url()?;
            let name = format!(
                "paperboy_test_{}",
                paperboy::tokens::random_id(9)
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .expect("PostgreSQL at PAPERBOY_TEST_POSTGRES_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
            Some(TestDatabase {
                url: format!("{base}/{name}"),
                _dropped_at_end: Some(DroppedAtEnd { server: url, name }),
            })
        }
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Start the app with config overrides on top of the test defaults.
pub async fn spawn_app_with(
    backend: Backend,
    overrides: &[(&str, toml::Value)],
) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(backend, dir.path()).await?;
    let smtp = MailSink::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut pairs: Vec<(&str, toml::Value)> = vec![
        ("database_url", db.url.clone().into()),
        ("base_url", base.clone().into()),
        ("secret", SECRET.into()),
        ("admin_token", ADMIN_TOKEN.into()),
        ("smtp_url", format!("smtp://{}", smtp.addr).into()),
        ("mail_from", "Paper Boy <digest@paperboy.test>".into()),
        ("data_dir", dir.path().display().to_string().into()),
        ("topics_file", "config/topics.toml".into()),
        ("subscribe.min_submit_seconds", 0.into()),
        ("limits.posts_per_minute", 100_000.into()),
        ("limits.post_burst", 100_000.into()),
        // The daily job runs only where a test asks for it.
        ("schedule.enabled", false.into()),
    ];
    pairs.extend(overrides.iter().cloned());
    let config = Config::with_overrides(&pairs).expect("valid test config");
    // The app as `paperboy serve` builds and runs it.
    let app = App::build_on(config, listener)
        .await
        .expect("the app starts");
    let ctx = app.context().clone();
    tokio::spawn(app.run());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A server that answers 413 before reading a body closes the connection; never
        // reuse one, so that the next request does not inherit a reset.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Some(TestApp {
        base,
        client,
        smtp,
        subs: Subscriptions::new(ctx.clone()),
        ctx,
        _db: db,
        _dir: dir,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET a page with a form and return its form token (the client keeps the cookie).
    pub async fn form_token(&self, path: &str) -> String {
        let page = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        between(&page, "name=\"form_token\" value=\"", "\"").expect("a form token on the page")
    }

    /// Fill in and submit the sign-up form as a browser would.
    pub async fn subscribe_form(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.form_token("/").await;
        let mut form: Vec<(&str, &str)> = vec![("form_token", &token)];
        form.extend_from_slice(fields);
        self.client
            .post(self.url("/subscribe"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn api_subscribe(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/subscriptions"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn subscriber(&self, email: &str) -> Option<paperboy::domain::Subscriber> {
        let email = paperboy::domain::EmailAddress::parse(email).unwrap();
        self.ctx.store.find_by_email(&email).await.unwrap()
    }

    pub async fn count(&self) -> i64 {
        self.ctx
            .store
            .counts_by_status()
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    /// Open a confirmation link and press its button (what the page's script does).
    pub async fn confirm_by_post(&self, link: &str) -> reqwest::Response {
        let token = self.form_token(link.trim_start_matches(&self.base)).await;
        self.client
            .post(link)
            .form(&[("form_token", token)])
            .send()
            .await
            .unwrap()
    }

    /// Subscribe by form, read the confirmation link from the received mail, confirm by
    /// POST; returns the confirmed page.
    pub async fn subscribe_and_confirm(&self, email: &str, fields: &[(&str, &str)]) -> String {
        let before = self.smtp.to(email).len();
        let mut all = vec![("email", email)];
        all.extend_from_slice(fields);
        let r = self.subscribe_form(&all).await;
        assert_eq!(r.status(), 200);
        let mails = self.smtp.wait_for(email, before + 1).await;
        let link = link_in(&mails.last().unwrap().text(), "/confirm/");
        let r = self.confirm_by_post(&link).await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }
}

/// The text between `start` and the next `end`.
pub fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(s[from..from + len].to_string())
}

/// The first absolute link in `text` whose path starts with `path_prefix`.
pub fn link_in(text: &str, path_prefix: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|w| w.starts_with("http") && w.contains(path_prefix))
        .unwrap_or_else(|| panic!("no {path_prefix} link in:\n{text}"))
        .to_string()
}

/// Run an async test body once per backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A Hugging Face Daily Papers page, built because the real page capture is not in the
/// fixtures. `daily_papers` (e.g. the real API capture) goes into the `DailyPapers`
/// component's `data-props`, entity-escaped as Hugging Face does; `None` leaves the component
/// out. Other components come first, one with an empty `dailyPapers`, so selecting by position
/// or by a `data-target` prefix reads nothing. `cards` (id, title, upvotes, comments) are
/// server-rendered as on the page, each with a thumbnail link outside the `h3`.
pub fn hf_page(daily_papers: Option<&str>, cards: &[(&str, &str, i64, i64)]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    };
    let component = |target: &str, props: &str| {
        format!(
            r#"<div class="SVELTE_HYDRATER contents" data-target="{target}" data-props="{}"><!--[-->"#,
            escape(props)
        )
    };
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Daily Papers - Hugging Face</title></head><body>",
    );
    page += &component("MainHeader", r#"{"authLight":{"u":"<a & 'b'>"}}"#);
    page += &component("DailyPapersHeader", r#"{"dailyPapers":[]}"#);
    page += "<!--]--></div></div>";
    if let Some(json) = daily_papers {
        let props =
            format!(r#"{{"canSubmit":false,"dateString":"2026-05-08","dailyPapers":{json}}}"#);
        page += &component("DailyPapers", &props);
    } else {
        page += "<div>";
    }
    for (id, title, upvotes, comments) in cards {
        page += &format!(
            r##"<article class="relative flex flex-col"><!--[--><a href="/papers/{id}"><img src="/t.png"></a>
            <div class="flex"><div role="checkbox" aria-checked="false"><svg></svg><div class="leading-none">{upvotes}</div></div>
            <div class="w-full"><h3 class="mb-1"><a href="/papers/{id}" class="line-clamp-3"><!--[-->{}<!--]--></a></h3>
            <a href="/papers/{id}#community" class="flex items-center"><svg></svg> {comments}</a></div></div><!--]--></article>"##,
            escape(title)
        );
    }
    page + "</div></body></html>"
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
                        received.lock().unwrap().push(Received { to, data });
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

/// TLS from the first byte in front of a plain SMTP server at `to` (what stunnel does for a
/// relay on port 465): `smtps://` clients speak TLS to the returned address.
pub async fn tls_front(
    cert: &std::path::Path,
    key: &std::path::Path,
    to: SocketAddr,
) -> SocketAddr {
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
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
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
