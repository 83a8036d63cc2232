//! The SMTP conversation itself: lines that start with a dot arrive intact, and a relay
//! that announces PIPELINING (Postfix's `smtp-sink`) gets each transaction in two round
//! trips and loses nothing when it hangs up mid-transaction. The smtp-sink test runs when
//! /usr/sbin/smtp-sink exists (`.ci/run` installs postfix); with
//! PAPERBOY_REQUIRE_SMTP_SINK=1 a missing smtp-sink fails it instead of skipping it.

use std::process::{Child, Command, Stdio};

use crate::certificate::self_signed_certificate;
use crate::cli::paperboy_with;
use crate::digest::readers_with_a_digest;
use crate::helpers::{Backend, scripted_smtp_server, spawn_app};
use crate::on_both_databases;
use paperboy::domain::SubscriberStatus;

on_both_databases!(
    dot_lines_arrive_intact,
    pipelined_into_postfix_smtp_sink,
    pipelined_refusals_and_a_hang_up,
    refusals_and_a_hang_up_without_pipelining,
    starttls_and_auth_plain,
    starttls_and_auth_login,
    smtps_with_a_private_certificate,
    tls_required_and_opportunistic
);

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// An operator's `digest.txt` with lines that start with a dot, one of them a lone dot,
/// which unstuffed would end the message early.
const DOTTED_TXT: &str = "Papers for {{ date_long }}\n\
{% for p in papers %}.{{ loop.index }} {{ p.id }}\n{% endfor %}.\n..\n.. the end\n";

fn dotted_templates(dir: &std::path::Path) -> String {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("digest.txt"), DOTTED_TXT).unwrap();
    templates.display().to_string()
}

/// The text part's lines from the template, dots and all.
fn assert_dotted(text: &str, papers: usize) {
    let text = text.replace("\r\n", "\n");
    assert!(text.ends_with("\n.\n..\n.. the end\n"), "{text:?}");
    for i in 1..=papers {
        assert!(text.contains(&format!("\n.{i} ")), "{text:?}");
    }
}

async fn dot_lines_arrive_intact(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 2).await;
    let templates = dotted_templates(dir.path());
    let env = vec![
        ("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr)),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        ("PAPERBOY_MAIL__TEMPLATES_DIR", templates),
    ];
    let (ok, out, err) = paperboy_with(
        &app.ctx.config.database_url,
        dir.path(),
        &["digest", "deliver"],
        &env,
    );
    assert!(ok && out.contains("2 sent, 0 deferred"), "{out}{err}");
    for e in &emails {
        let got = app.smtp.to(e);
        assert_eq!(got.len(), 1, "{e}");
        let parsed = got[0].parsed();
        let papers = parsed
            .body_html(0)
            .unwrap()
            .matches("class=\"num\"")
            .count();
        assert!(papers > 0);
        assert_dotted(&got[0].text(), papers);
    }
}

/// Postfix's smtp-sink on `port` (the same port each time, so a restarted relay is found
/// where the first one was), killed when dropped.
pub(crate) struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn smtp_sink(port: u16, args: &[&str]) -> Sink {
    let sink = Sink(
        Command::new(SMTP_SINK)
            .args(["-u", "root"])
            .args(args)
            .arg(format!("127.0.0.1:{port}"))
            .arg("16")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink starts"),
    );
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return sink;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("smtp-sink did not listen on {port}");
}

pub(crate) fn smtp_sink_installed() -> bool {
    if std::path::Path::new(SMTP_SINK).exists() {
        return true;
    }
    assert!(
        std::env::var("PAPERBOY_REQUIRE_SMTP_SINK").is_err(),
        "PAPERBOY_REQUIRE_SMTP_SINK is set but {SMTP_SINK} is missing (apt-get install postfix)"
    );
    eprintln!("{SMTP_SINK} not installed: skipping the smtp-sink test");
    false
}

async fn pipelined_into_postfix_smtp_sink(backend: Backend) {
    if !smtp_sink_installed() {
        return;
    }
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 3).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("PAPERBOY_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        (
            "PAPERBOY_MAIL_FROM",
            "Paper Boy <digest@paperboy.test>".into(),
        ),
        ("PAPERBOY_DELIVERY__RETRY_AFTER_SECONDS", "1".into()),
        ("PAPERBOY_MAIL__TEMPLATES_DIR", dotted_templates(dir.path())),
    ];
    let deliver = || {
        paperboy_with(
            &app.ctx.config.database_url,
            dir.path(),
            &["digest", "deliver"],
            &env,
        )
    };
    // The relay answers MAIL, then says 421 to RCPT and hangs up, with DATA already on its
    // way in the same write: every digest is deferred, none is lost.
    {
        let _sink = smtp_sink(port, &["-Q", "RCPT"]);
        let (ok, out, err) = deliver();
        assert!(ok && out.contains("0 sent, 3 deferred"), "{out}{err}");
    }
    // A relay that takes everything, and writes each transaction into a file.
    let dumps = dir.path().join("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    let _sink = smtp_sink(port, &["-d", &format!("{}/m.", dumps.display())]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = deliver();
    assert!(ok && out.contains("3 sent, 0 deferred"), "{out}{err}");
    let (ok, out, _) = deliver();
    assert!(ok && out.contains("0 sent, 0 deferred"), "{out}");

    let mut files: Vec<Vec<u8>> = std::fs::read_dir(&dumps)
        .unwrap()
        .map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 3, "one transaction a reader");
    files.sort();
    let mut recipients: Vec<String> = Vec::new();
    for data in &files {
        // smtp-sink's own X- headers and a Received header come first; the rest is the mail
        // as it left paperboy, unstuffed.
        let mail = mail_parser::MessageParser::default().parse(data).unwrap();
        let rcpt = mail.header_raw("X-Rcpt-Args").unwrap().trim();
        recipients.push(rcpt.trim_matches(['<', '>']).to_string());
        assert_eq!(
            mail.header_raw("X-Mail-Args").unwrap().trim(),
            "<digest@paperboy.test>"
        );
        assert!(
            mail.subject().unwrap().starts_with("Your paper"),
            "{:?}",
            mail.subject()
        );
        assert!(mail.header_raw("List-Unsubscribe").is_some());
        let html = mail.body_html(0).unwrap();
        let papers = html.matches("class=\"num\"").count();
        assert!(papers > 0, "{html}");
        assert_dotted(&mail.body_text(0).unwrap(), papers);
    }
    recipients.sort();
    let mut expected = emails.clone();
    expected.sort();
    assert_eq!(recipients, expected);
}

/// Through one pooled connection, to a relay with PIPELINING and to one without: refused
/// recipients (550; with pipelining, the MAIL, RCPT and DATA replies all read, then RSET)
/// leave the session usable, and a 421 hang-up on a reused session is retried at once on a
/// new one. Of two refusals one is not the last transaction, so a session not reused after
/// a refusal would make a third session.
async fn refusals_and_a_hang_up(backend: Backend, pipelining: bool) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 6).await;
    let refused = [emails[1].as_str(), emails[4].as_str()];
    let server = scripted_smtp_server(pipelining, &refused, &emails[3]).await;
    let env = vec![
        ("PAPERBOY_SMTP_URL", format!("smtp://{}", server.addr)),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        ("PAPERBOY_MAIL__POOL_SIZE", "1".into()),
        ("PAPERBOY_DELIVERY__CONCURRENCY", "1".into()),
    ];
    let (ok, out, err) = paperboy_with(
        &app.ctx.config.database_url,
        dir.path(),
        &["digest", "deliver"],
        &env,
    );
    assert!(
        ok && out.contains("4 sent, 0 deferred, 2 bounced"),
        "{out}{err}"
    );
    assert_eq!(server.sessions.load(std::sync::atomic::Ordering::SeqCst), 2);
    let received = server.received.lock().unwrap().clone();
    let mut to: Vec<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let expected: Vec<String> = emails
        .iter()
        .filter(|e| !refused.contains(&e.as_str()))
        .cloned()
        .collect();
    assert_eq!(to, expected);
    for m in &received {
        assert!(m.parsed().subject().unwrap().starts_with("Your paper"));
        assert!(m.html().contains("class=\"num\""));
    }
    for r in refused {
        let gone = app.subscriber(r).await.unwrap();
        assert_eq!(gone.status, SubscriberStatus::Suppressed);
    }
}

async fn pipelined_refusals_and_a_hang_up(backend: Backend) {
    refusals_and_a_hang_up(backend, true).await
}

async fn refusals_and_a_hang_up_without_pipelining(backend: Backend) {
    refusals_and_a_hang_up(backend, false).await
}

/// A relay that requires STARTTLS with a self-signed certificate, then AUTH: untrusted,
/// nothing is sent (not in the clear either) and the mail waits; trusted through
/// `mail.tls_ca_file`, with a wrong password it still waits, with the right one it goes out.
/// A file that holds no certificate stops the command at start, saying so.
async fn starttls_and_auth_plain(backend: Backend) {
    starttls_with_a_private_certificate(backend, mailin_embedded::AuthMechanism::Plain).await
}

async fn starttls_and_auth_login(backend: Backend) {
    starttls_with_a_private_certificate(backend, mailin_embedded::AuthMechanism::Login).await
}

async fn starttls_with_a_private_certificate(
    backend: Backend,
    mechanism: mailin_embedded::AuthMechanism,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 2).await;
    let (cert, key) = self_signed_certificate(dir.path());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = crate::helpers::MailSink::start_with(
        listener,
        mailin_embedded::SslConfig::SelfSigned {
            cert_path: cert.display().to_string(),
            key_path: key.display().to_string(),
        },
        Some(mechanism),
    );
    // The password percent-encoded, as the URL's user info asks.
    let user = crate::helpers::RELAY_USER;
    let right = "relay%20p%40ss%3Aword";
    assert_eq!(crate::helpers::RELAY_PASSWORD, "relay p@ss:word");
    let deliver_as = |password: &str, ca: Option<&std::path::Path>| {
        let url = format!("smtp://{user}:{password}@{}?tls=required", relay.addr);
        deliver_to(&app, dir.path(), url, ca)
    };
    let deliver = |ca: Option<&std::path::Path>| deliver_as(right, ca);
    let (ok, out, err) = deliver(None);
    assert!(ok && out.contains("0 sent, 2 deferred"), "{out}{err}");
    assert!(relay.all().is_empty());
    assert_last_errors(&app, &emails, "TLS with the relay").await;

    let (ok, _, err) = deliver(Some(&key.with_extension("missing")));
    assert!(
        !ok && err.contains("mail.tls_ca_file: cannot read"),
        "{err}"
    );
    let (ok, _, err) = deliver(Some(&key));
    assert!(!ok && err.contains("holds no PEM certificate"), "{err}");

    // Refused credentials (535) end that session; the mail waits for the next run.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = deliver_as("wrong", Some(&cert));
    assert!(ok && out.contains("0 sent, 2 deferred"), "{out}{err}");
    assert!(relay.all().is_empty());
    assert_last_errors(&app, &emails, "535").await;

    // The second try waits twice as long (whole seconds).
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let (ok, out, err) = deliver(Some(&cert));
    assert!(ok && out.contains("2 sent, 0 deferred"), "{out}{err}");
    for e in &emails {
        let got = relay.to(e);
        assert_eq!(got.len(), 1, "{e}");
        assert!(got[0].html().contains("class=\"num\""));
    }
}

/// `smtps://`: TLS from the first byte, through the same pool. Untrusted, the mail waits;
/// trusted through `mail.tls_ca_file`, it goes out.
async fn smtps_with_a_private_certificate(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 2).await;
    let (cert, key) = self_signed_certificate(dir.path());
    let behind = crate::helpers::MailSink::start();
    let relay = crate::helpers::tls_front(&cert, &key, behind.addr).await;
    let url = format!("smtps://{relay}");
    let deliver = |ca: Option<&std::path::Path>| deliver_to(&app, dir.path(), url.clone(), ca);
    let (ok, out, err) = deliver(None);
    assert!(ok && out.contains("0 sent, 2 deferred"), "{out}{err}");
    assert!(behind.all().is_empty());
    assert_last_errors(&app, &emails, "TLS with the relay").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = deliver(Some(&cert));
    assert!(ok && out.contains("2 sent, 0 deferred"), "{out}{err}");
    for e in &emails {
        let got = behind.to(e);
        assert_eq!(got.len(), 1, "{e}");
        assert!(got[0].html().contains("class=\"num\""));
    }
}

/// `paperboy digest deliver` through the relay at `url`, trusting `ca` besides the public
/// roots; a deferred mail is due again a second later.
fn deliver_to(
    app: &crate::helpers::TestApp,
    dir: &std::path::Path,
    url: String,
    ca: Option<&std::path::Path>,
) -> (bool, String, String) {
    let mut env = vec![
        ("PAPERBOY_SMTP_URL", url),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        ("PAPERBOY_DELIVERY__RETRY_AFTER_SECONDS", "1".into()),
    ];
    if let Some(ca) = ca {
        env.push(("PAPERBOY_MAIL__TLS_CA_FILE", ca.display().to_string()));
    }
    paperboy_with(
        &app.ctx.config.database_url,
        dir,
        &["digest", "deliver"],
        &env,
    )
}

/// Each reader's digest for the fixture day was last deferred with an error saying `what`.
async fn assert_last_errors(app: &crate::helpers::TestApp, emails: &[String], what: &str) {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    for e in emails {
        let reader = app.subscriber(e).await.unwrap();
        assert_eq!(reader.status, SubscriberStatus::Active, "{e}");
        let digest = app
            .ctx
            .store
            .digest_for(reader.id, day)
            .await
            .unwrap()
            .unwrap();
        let error = digest.last_error.unwrap_or_default();
        assert!(error.contains(what), "{e}: {error}");
    }
}

/// A relay that offers no STARTTLS: `tls=required` sends nothing; `tls=opportunistic` with
/// a password does not send it in the clear; without one, the mail goes in the clear.
async fn tls_required_and_opportunistic(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 2).await;
    let relay = app.smtp.addr;
    let deliver = |url: String| deliver_to(&app, dir.path(), url, None);
    let (ok, out, err) = deliver(format!("smtp://{relay}?tls=required"));
    assert!(ok && out.contains("0 sent, 2 deferred"), "{out}{err}");
    assert_last_errors(&app, &emails, "does not offer STARTTLS").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = deliver(format!("smtp://u:p@{relay}?tls=opportunistic"));
    assert!(ok && out.contains("0 sent, 2 deferred"), "{out}{err}");
    assert_last_errors(&app, &emails, "in the clear").await;
    assert!(app.smtp.all().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let (ok, out, err) = deliver(format!("smtp://{relay}?tls=opportunistic"));
    assert!(ok && out.contains("2 sent, 0 deferred"), "{out}{err}");
    for e in &emails {
        assert_eq!(app.smtp.to(e).len(), 1, "{e}");
    }
}
