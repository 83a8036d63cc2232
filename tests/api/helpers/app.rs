//! Start the app, as `paperboy serve` runs it, on a fresh database with a real SMTP server
//! receiving its mail; the test client's requests and the links read out of pages and mails;
//! waiting for what it does in the background, and what it logged meanwhile.

use std::collections::HashMap;
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use paperboy::app::App;
use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::services::Services;
use paperboy::subscriptions::Subscriptions;
use reqwest::StatusCode;

use super::database::{Backend, TestDatabase, fresh_database};
use super::smtp::{MailSink, Received};

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

pub struct TestApp {
    pub base: String,
    /// A browser-like client: keeps cookies, does not follow redirects.
    pub client: reqwest::Client,
    pub smtp: MailSink,
    /// The SMTP listener for bounces, when the test turned it on (`inbound.bind`).
    pub inbound: Option<std::net::SocketAddr>,
    /// The running app's context: its store, config and mailer, for checks behind the API.
    pub ctx: Context,
    /// The running app's services, the ones its web layer and scheduler call.
    pub services: Services,
    pub subs: Subscriptions,
    /// What the app logs, kept for a failed wait to show.
    pub log: ServiceLog,
    pub _db: TestDatabase,
    pub _dir: tempfile::TempDir,
}

/// How long a test waits for what the app does in the background (a mail through the outbox,
/// a mailbox polled): long, since a machine busy with other tests can be slow, and a wait ends
/// as soon as the thing has happened, so the time is spent only when something is wrong.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Wait until `done` holds, looking every 100 ms; after [`PATIENCE`], fail saying what was
/// awaited and what `explain` finds then (rows, the service's log, a mailbox's contents).
pub async fn until<D: AsyncFnMut() -> bool, E: AsyncFnOnce() -> String>(
    what: &str,
    mut done: D,
    explain: E,
) {
    let start = Instant::now();
    while !done().await {
        if start.elapsed() > PATIENCE {
            panic!(
                "waited {} s for {what}; by then:\n{}",
                PATIENCE.as_secs(),
                explain().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The lines the app logged, as `paperboy serve` logs them (`info,sqlx=warn`). Each test
/// runs its app on the test's own runtime, so the lines are kept by runtime: a test reads
/// its own apps', not those of the tests running beside it.
pub struct ServiceLog {
    runtime: tokio::runtime::Id,
}

/// By runtime: how many [`ServiceLog`]s read it, and its lines.
type Logs = HashMap<tokio::runtime::Id, (usize, Vec<u8>)>;

fn logs() -> std::sync::MutexGuard<'static, Logs> {
    static LOGS: OnceLock<Mutex<Logs>> = OnceLock::new();
    LOGS.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Writes a log line to the lines of the runtime it was logged on.
struct ByRuntime;

impl std::io::Write for ByRuntime {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if let Ok(runtime) = tokio::runtime::Handle::try_current()
            && let Some((_, lines)) = logs().get_mut(&runtime.id())
        {
            lines.extend_from_slice(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ServiceLog {
    /// Start keeping the log of the apps of the current runtime.
    fn start() -> Self {
        static SUBSCRIBER: Once = Once::new();
        SUBSCRIBER.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with_writer(|| ByRuntime)
                .with_ansi(false)
                .try_init();
        });
        let runtime = tokio::runtime::Handle::current().id();
        logs().entry(runtime).or_default().0 += 1;
        Self { runtime }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let logs = logs();
        let lines = logs
            .get(&self.runtime)
            .map_or(&[][..], |(_, l)| l.as_slice());
        String::from_utf8_lossy(lines).into_owned()
    }
}

impl Drop for ServiceLog {
    fn drop(&mut self) {
        let mut logs = logs();
        if let Some((readers, _)) = logs.get_mut(&self.runtime) {
            *readers -= 1;
            if *readers == 0 {
                logs.remove(&self.runtime);
            }
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
    let log = ServiceLog::start();
    // The app as `paperboy serve` builds and runs it.
    let app = App::build_on(config, listener)
        .await
        .expect("the app starts");
    let ctx = app.context().clone();
    let services = app.services().clone();
    let inbound = app.inbound_addr();
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
        inbound,
        subs: services.subscriptions.clone(),
        services,
        ctx,
        log,
        _db: db,
        _dir: dir,
    })
}

/// The captured Hugging Face day (37 papers).
const HF_DAY_FILE: &str = "tests/fixtures/hf_json/daily_papers_2026-05-08.json";

impl TestApp {
    /// The address of `path` on the app; a link the app made (an absolute URL read out of a
    /// mail or a page) is taken as it is.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// GET `path` (or a link) and read the body as text, whatever the status.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status();
        (status, r.text().await.unwrap())
    }

    /// GET `path` (or a link) and read the body as JSON, whatever the status; a body that is
    /// not JSON fails the test with the body shown.
    pub async fn get_json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let (status, body) = self.get_text(path).await;
        match serde_json::from_str(&body) {
            Ok(json) => (status, json),
            Err(e) => panic!("GET {path}: {status} with a body that is not JSON ({e}):\n{body}"),
        }
    }

    /// Submit a form at `path` (or a link) as a browser would: GET the page first and, when
    /// it carries a form token, send it with `fields` (the client keeps the CSRF cookie the
    /// page set). Pages whose form needs no token (unsubscribe) are posted as they are.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_to(path, path, fields).await
    }

    /// Submit the form of the page at `page` to `action` (a button's `formaction`), as
    /// [`post_form`](Self::post_form) does.
    pub async fn post_form_to(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, text) = self.get_text(page).await;
        let token = between(&text, "name=\"form_token\" value=\"", "\"");
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(fields.len() + 1);
        if let Some(token) = &token {
            form.push(("form_token", token));
        }
        form.extend_from_slice(fields);
        self.client
            .post(self.url(action))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// GET a page (or a link) with a form and return its form token (the client keeps the
    /// cookie).
    pub async fn form_token(&self, path: &str) -> String {
        let (_, page) = self.get_text(path).await;
        between(&page, "name=\"form_token\" value=\"", "\"").expect("a form token on the page")
    }

    /// Store the captured Hugging Face day (tests/fixtures/hf_json, 37 papers) as featured
    /// on `day`, through `paperboy ingest --file`, as an operator would.
    pub fn ingest_hf_day(&self, day: &str) {
        self.ingest_file(HF_DAY_FILE, day);
    }

    /// Store a copy of the captured Hugging Face day's paper `of` as paper `id` (retitled
    /// when `title` is given), featured on `day`, through `paperboy ingest --file`.
    pub fn ingest_hf_copy(&self, of: &str, id: &str, title: Option<&str>, day: &str) {
        let papers: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(HF_DAY_FILE).unwrap()).unwrap();
        let mut copy = papers
            .into_iter()
            .find(|p| p["paper"]["id"] == of)
            .unwrap_or_else(|| panic!("{of} is not in the captured day"));
        copy["paper"]["id"] = id.into();
        if let Some(title) = title {
            copy["paper"]["title"] = title.into();
            copy["title"] = title.into();
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("day.json");
        std::fs::write(&file, serde_json::to_string(&[copy]).unwrap()).unwrap();
        self.ingest_file(file.to_str().unwrap(), day);
    }

    /// `paperboy ingest --file FILE --date DAY`; it must succeed.
    pub fn ingest_file(&self, file: &str, day: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (ok, _, err) = crate::cli::paperboy(
            &self.ctx.config.database_url,
            dir.path(),
            &["ingest", "--file", file, "--date", day],
        );
        assert!(ok, "{err}");
    }

    /// Fill in and submit the sign-up form as a browser would.
    pub async fn subscribe_form(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form("/subscribe", fields).await
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
        self.post_form(link, &[]).await
    }

    /// Subscribe by form, read the confirmation link from the received mail, confirm by
    /// POST, and wait for the welcome mail (so that it is not still on its way when the test
    /// goes on); returns the confirmed page.
    pub async fn subscribe_and_confirm(&self, email: &str, fields: &[(&str, &str)]) -> String {
        let before = self.smtp.to(email).len();
        let mut all = vec![("email", email)];
        all.extend_from_slice(fields);
        let r = self.subscribe_form(&all).await;
        assert_eq!(r.status(), 200);
        let mails = self.wait_for_mails(email, before + 1).await;
        let link = link_in(&mails.last().unwrap().text(), "/confirm/");
        let r = self.confirm_by_post(&link).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        // (A scheduler that runs every second may send the day's digest before it.)
        let welcomed = |mails: &[Received]| {
            mails[before..].iter().any(|m| {
                let m = m.parsed();
                m.subject().unwrap_or_default().starts_with("Welcome to")
            })
        };
        until(
            &format!("the welcome mail to {email}"),
            async || welcomed(&self.smtp.to(email)),
            async || self.outbox_state(email).await,
        )
        .await;
        page
    }

    /// Wait until `n` mails to `email` have arrived at the SMTP server (up to [`PATIENCE`]);
    /// those mails. On failure, says what the outbox and the service's log say.
    pub async fn wait_for_mails(&self, email: &str, n: usize) -> Vec<Received> {
        until(
            &format!("{n} mail(s) to {email}"),
            async || self.smtp.to(email).len() >= n,
            async || self.outbox_state(email).await,
        )
        .await;
        self.smtp.to(email)
    }

    /// What became of the mails to `email`: the ones received (by subject), the reader's
    /// outbox rows (status, attempts, last error), and the service's log.
    pub async fn outbox_state(&self, email: &str) -> String {
        let received: Vec<String> = self
            .smtp
            .to(email)
            .iter()
            .map(|m| m.parsed().subject().unwrap_or("(no subject)").to_string())
            .collect();
        let rows = match self.subscriber(email).await {
            Some(s) => match self.ctx.store.subscription_mails_of(s.id).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        format!(
                            "  #{} {:?}: {:?} after {} attempt(s), last error {:?}",
                            r.id, r.kind, r.status, r.attempts, r.last_error
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(e) => format!("  (could not be read: {e})"),
            },
            None => "  (no subscriber with that address)".into(),
        };
        format!(
            "received by the SMTP server: {received:?}\noutbox rows of {email}:\n{rows}\nthe service's log:\n{}",
            self.log.text()
        )
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
