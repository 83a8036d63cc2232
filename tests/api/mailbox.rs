//! The bounce mailbox poller against a real IMAP server (a private Dovecot): the DSNs and
//! complaints delivered to the mailbox are recorded with source `mailbox` and moved to the
//! processed folder; a person's mail, a newsletter, a forged or malformed report and an
//! oversized one stay where they were with their flags untouched; reading again records
//! nothing new; a server that is down or drops the connection is an error, and retried.

use std::time::Duration;

use paperboy::domain::{EventSource, MailEventKind, SubscriberStatus};

use crate::bounces::{
    BOUNCE_DOMAIN, confirmed_reader, events, postfix_dsn, spawn_bouncing, status_of,
};
use crate::certificate::self_signed_certificate;
use crate::cli::paperboy_with;
use crate::helpers::{Backend, Dovecot, Stored, TestApp, free_port, mailbox_url};
use crate::on_both_databases;

on_both_databases!(
    serve_reads_bounces_from_the_mailbox_and_leaves_other_mail_alone,
    bounces_poll_reads_the_mailbox_once,
    a_mailbox_server_that_is_down_is_retried,
    tls_and_starttls_with_a_private_ca,
);

const PROCESSED: &str = "paperboy-processed";

/// A DSN as the mailbox's delivery agent stores it: the envelope in its first headers.
fn delivered_dsn(tag: &str, recipient: &str, id: &str) -> String {
    let dsn = postfix_dsn("postfix-5xx.eml", tag, recipient, id);
    format!("Return-Path: <>\r\nDelivered-To: {tag}\r\n{dsn}")
}

const PERSON: &str = "Return-Path: <ada@example.net>\r\nDelivered-To: bounces@lists.paperboy.test\r\nFrom: Ada <ada@example.net>\r\nTo: bounces@lists.paperboy.test\r\nSubject: Re: your papers\r\nMessage-ID: <person-1@example.net>\r\n\r\nThanks, and could I get fewer papers?\r\n";
const NEWSLETTER: &str = "Return-Path: <news@shop.example>\r\nFrom: Shop <news@shop.example>\r\nTo: bounces@lists.paperboy.test\r\nSubject: 20% off\r\nList-Id: <offers.shop.example>\r\nMessage-ID: <news-1@shop.example>\r\n\r\nOnly today.\r\n";

/// Wait until `done` holds (up to [`PATIENCE`](crate::helpers::PATIENCE)); when it does not,
/// fail with what the poller had done by then: the events recorded, both folders' contents,
/// Dovecot's log and the service's.
async fn until<F: AsyncFnMut() -> bool>(what: &str, app: &TestApp, dovecot: &Dovecot, done: F) {
    crate::helpers::until(what, done, async || {
        format!(
            "events recorded: {:#?}\nINBOX: {:?}\n{PROCESSED}: {:?}\nDovecot's log:\n{}\nthe service's log:\n{}",
            events(app).await,
            dovecot.messages("INBOX").await,
            dovecot.messages(PROCESSED).await,
            dovecot.log(),
            app.log.text()
        )
    })
    .await
}

fn subjects(messages: &[Stored]) -> Vec<(String, Vec<String>)> {
    messages
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.raw);
            let subject = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("(none)")
                .trim()
                .to_string();
            (subject, m.flags.clone())
        })
        .collect()
}

async fn serve_reads_bounces_from_the_mailbox_and_leaves_other_mail_alone(backend: Backend) {
    let port = free_port();
    let Some(dovecot) = Dovecot::start(port) else {
        return;
    };
    let Some(app) = spawn_bouncing(
        backend,
        &[
            ("mailbox.url", dovecot.url("INBOX").into()),
            ("mailbox.poll_seconds", 1.into()),
        ],
    )
    .await
    else {
        return;
    };
    let gone = confirmed_reader(&app, "gone@example.net").await;
    let complains = confirmed_reader(&app, "complains@example.net").await;
    confirmed_reader(&app, "stays@example.net").await;

    // Other mail first, with the flags a person's client left on it.
    dovecot.append("INBOX", None, PERSON.as_bytes()).await;
    dovecot
        .append("INBOX", Some("(\\Seen \\Flagged)"), NEWSLETTER.as_bytes())
        .await;
    // A DSN for a tag this service never signed, and bytes that are no mail.
    let forged = delivered_dsn(
        "bounces+s1-999-0011223344556677@lists.paperboy.test",
        "stays@example.net",
        "forged@relay",
    );
    dovecot.append("INBOX", None, forged.as_bytes()).await;
    dovecot
        .append("INBOX", None, b"\x00\x01 not a mail\r\n")
        .await;
    let before = dovecot.messages("INBOX").await;
    assert_eq!(before.len(), 4);
    // The reports: a hard bounce to its tag, a complaint to the untagged address.
    let dsn = delivered_dsn(&gone, "gone@example.net", "dsn-1@relay");
    dovecot.append("INBOX", None, dsn.as_bytes()).await;
    let arf = std::fs::read_to_string("tests/fixtures/bounces/arf-abuse.eml")
        .unwrap()
        .replace(
            "bounces+d12-34-0011223344556677@lists.example.org",
            &complains,
        )
        .replace(
            "bounces@lists.example.org",
            &format!("bounces@{BOUNCE_DOMAIN}"),
        );
    dovecot.append("INBOX", None, arf.as_bytes()).await;

    until("the two reports to be moved", &app, &dovecot, async || {
        dovecot.messages(PROCESSED).await.len() == 2
    })
    .await;
    let gone_now = app.subscriber("gone@example.net").await.unwrap();
    assert_eq!(gone_now.status, SubscriberStatus::Suppressed);
    assert_eq!(
        gone_now.suppression_reason.as_deref(),
        Some("hard bounce (5.3.0)")
    );
    assert_eq!(
        status_of(&app, "complains@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "stays@example.net").await,
        SubscriberStatus::Active
    );
    let mut recorded: Vec<(String, MailEventKind, EventSource)> = events(&app)
        .await
        .into_iter()
        .map(|e| (e.email.as_str().to_string(), e.kind, e.source))
        .collect();
    recorded.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        recorded,
        vec![
            (
                "complains@example.net".to_string(),
                MailEventKind::Complaint,
                EventSource::Mailbox
            ),
            (
                "gone@example.net".to_string(),
                MailEventKind::HardBounce,
                EventSource::Mailbox
            ),
        ]
    );
    // The reports moved as they were (unread, no flag of ours: a move, not a mark).
    let processed = dovecot.messages(PROCESSED).await;
    assert!(
        processed.iter().all(|m| m.flags.is_empty()),
        "{processed:?}"
    );
    let mut moved: Vec<String> = subjects(&processed).into_iter().map(|(s, _)| s).collect();
    moved.sort();
    assert_eq!(
        moved,
        vec![
            "FW: Your papers for 30 November",
            "Undelivered Mail Returned to Sender"
        ]
    );
    // Everything else is where it was, byte for byte and flag for flag.
    assert_eq!(dovecot.messages("INBOX").await, before);
    assert_eq!(
        subjects(&before),
        vec![
            ("Re: your papers".to_string(), vec![]),
            (
                "20% off".to_string(),
                vec!["\\Flagged".to_string(), "\\Seen".to_string()]
            ),
            ("Undelivered Mail Returned to Sender".to_string(), vec![]),
            ("(none)".to_string(), vec![]),
        ]
    );

    // The same DSN delivered twice (a relay retrying): moved, but not a second event.
    dovecot.append("INBOX", None, dsn.as_bytes()).await;
    until("the copy to be moved", &app, &dovecot, async || {
        dovecot.messages(PROCESSED).await.len() == 3
    })
    .await;
    // And a few more polls over the mail left alone change nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(events(&app).await.len(), 2);
    assert_eq!(dovecot.messages("INBOX").await, before);
    assert_eq!(dovecot.messages(PROCESSED).await.len(), 3);
}

/// `paperboy bounces poll` for `app`'s database and bounce address, with more variables.
fn poll_once(app: &TestApp, url: &str, env: &[(&str, String)]) -> (bool, String, String) {
    let mut vars = vec![
        (
            "PAPERBOY_MAIL__BOUNCE_ADDRESS",
            format!("bounces@{BOUNCE_DOMAIN}"),
        ),
        ("PAPERBOY_MAILBOX__URL", url.to_string()),
    ];
    vars.extend(env.iter().cloned());
    paperboy_with(
        &app.ctx.config.database_url,
        &app.ctx.config.data_dir,
        &["bounces", "poll"],
        &vars,
    )
}

async fn bounces_poll_reads_the_mailbox_once(backend: Backend) {
    let port = free_port();
    let Some(dovecot) = Dovecot::start(port) else {
        return;
    };
    // The app runs without a poller: the CLI reads the mailbox.
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let gone = confirmed_reader(&app, "gone@example.net").await;
    let big = confirmed_reader(&app, "big@example.net").await;
    dovecot.append("INBOX", None, PERSON.as_bytes()).await;
    let dsn = delivered_dsn(&gone, "gone@example.net", "dsn-cli@relay");
    dovecot.append("INBOX", None, dsn.as_bytes()).await;
    // Over inbound.max_message_bytes (20,000 here): left unread where it is.
    let mut huge = delivered_dsn(&big, "big@example.net", "dsn-big@relay");
    huge.push_str(&format!("{}\r\n", "x".repeat(998)).repeat(30));
    dovecot.append("INBOX", None, huge.as_bytes()).await;
    let limit = [("PAPERBOY_INBOUND__MAX_MESSAGE_BYTES", "20000".to_string())];

    let url = dovecot.url("INBOX");
    let (ok, out, err) = poll_once(&app, &url, &limit);
    assert!(ok, "{err}");
    assert!(
        out.contains("1 recorded, 0 already recorded, 1 other mail left alone, 1 too big left alone, 0 not moved, 0 left for the next poll"),
        "{out}"
    );
    assert!(
        !out.contains("imap-pass"),
        "the password is not shown: {out}"
    );
    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "big@example.net").await,
        SubscriberStatus::Active
    );
    let left = dovecot.messages("INBOX").await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|m| m.flags.is_empty()), "{left:?}");
    assert_eq!(left[0].raw, PERSON.as_bytes());
    assert_eq!(dovecot.messages(PROCESSED).await.len(), 1);

    // Once more: nothing new.
    let (ok, out, err) = poll_once(&app, &url, &limit);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 recorded, 0 already recorded, 1 other mail left alone, 1 too big"),
        "{out}"
    );
    assert_eq!(dovecot.messages("INBOX").await, left);
    let all = events(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].email.as_str(), all[0].source),
        ("gone@example.net", EventSource::Mailbox)
    );

    // Without a folder to move to, a processed report is flagged, and the rest still not.
    let again = delivered_dsn(&gone, "gone@example.net", "dsn-cli-2@relay");
    dovecot.append("INBOX", None, again.as_bytes()).await;
    let (ok, out, err) = poll_once(
        &app,
        &url,
        &[
            limit[0].clone(),
            ("PAPERBOY_MAILBOX__PROCESSED_FOLDER", String::new()),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("1 recorded"), "{out}");
    let flagged = dovecot.messages("INBOX").await;
    assert_eq!(flagged.len(), 3);
    assert_eq!(&flagged[..2], &left[..]);
    assert_eq!(flagged[2].flags, vec!["\\Seen", "paperboy-processed"]);
    let (ok, out, _) = poll_once(
        &app,
        &url,
        &[
            limit[0].clone(),
            ("PAPERBOY_MAILBOX__PROCESSED_FOLDER", String::new()),
        ],
    );
    assert!(
        ok && out.contains("0 recorded, 0 already recorded, 1 other"),
        "{out}"
    );

    // A wrong password: a clear error, nothing touched.
    let wrong = url.replace("imap-pass", "wrong-pass");
    let (ok, _, err) = poll_once(&app, &wrong, &limit);
    assert!(!ok);
    assert!(err.contains("refused the login of \"bounces\""), "{err}");
    assert!(!err.contains("wrong-pass"), "{err}");
    assert_eq!(dovecot.messages("INBOX").await, flagged);
}

async fn a_mailbox_server_that_is_down_is_retried(backend: Backend) {
    let port = free_port();
    let Some(app) = spawn_bouncing(
        backend,
        &[
            ("mailbox.url", mailbox_url(port, "INBOX").into()),
            ("mailbox.poll_seconds", 1.into()),
            ("mailbox.timeout_seconds", 2.into()),
        ],
    )
    .await
    else {
        return;
    };
    let gone = confirmed_reader(&app, "gone@example.net").await;

    // A URL that would send the password in the clear by omission: refused, unshown.
    let (ok, _, err) = poll_once(&app, "imap://bounces:s3cret@127.0.0.1:1/INBOX", &[]);
    assert!(!ok);
    assert!(err.contains("needs ?tls=starttls"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    // Nothing listens: the CLI says so.
    let (ok, _, err) = poll_once(&app, &mailbox_url(port, "INBOX"), &[]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "cannot connect to the mailbox server 127.0.0.1:{port}"
        )),
        "{err}"
    );
    // A server that accepts and hangs up at once, and one that never says a word.
    let hangs_up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hangs_up_port = hangs_up.local_addr().unwrap().port();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in hangs_up.incoming() {
            drop(c);
        }
    });
    let (ok, _, err) = poll_once(&app, &mailbox_url(hangs_up_port, "INBOX"), &[]);
    assert!(!ok);
    assert!(err.contains("closed the connection"), "{err}");
    let (ok, _, err) = poll_once(
        &app,
        &mailbox_url(silent_port, "INBOX"),
        &[("PAPERBOY_MAILBOX__TIMEOUT_SECONDS", "1".into())],
    );
    assert!(!ok);
    assert!(
        err.contains("did not answer within 1 s (greeting)"),
        "{err}"
    );
    drop(silent);

    // serve has been failing every second meanwhile; once the server is up it reads it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let Some(dovecot) = Dovecot::start(port) else {
        return;
    };
    let dsn = delivered_dsn(&gone, "gone@example.net", "late@relay");
    dovecot.append("INBOX", None, dsn.as_bytes()).await;
    until("the bounce to be recorded", &app, &dovecot, async || {
        status_of(&app, "gone@example.net").await == SubscriberStatus::Suppressed
    })
    .await;
    until("the bounce to be moved", &app, &dovecot, async || {
        dovecot.messages(PROCESSED).await.len() == 1
    })
    .await;
    assert_eq!(events(&app).await[0].source, EventSource::Mailbox);
}

async fn tls_and_starttls_with_a_private_ca(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    let (port, imaps_port) = (free_port(), free_port());
    let Some(dovecot) = Dovecot::start_tls(port, (imaps_port, &cert, &key)) else {
        return;
    };
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let gone = confirmed_reader(&app, "gone@example.net").await;
    let dsn = delivered_dsn(&gone, "gone@example.net", "tls-1@relay");
    dovecot.append("INBOX", None, dsn.as_bytes()).await;
    let imaps = format!(
        "imaps://{}@127.0.0.1:{imaps_port}/INBOX",
        dovecot
            .url("")
            .trim_start_matches("imap://")
            .split_once('@')
            .unwrap()
            .0
    );
    // A certificate nobody vouched for: nothing is sent, nothing touched.
    let (ok, _, err) = poll_once(&app, &imaps, &[]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "TLS with the mailbox server 127.0.0.1:{imaps_port}"
        )),
        "{err}"
    );
    assert_eq!(dovecot.messages("INBOX").await.len(), 1);
    // Trusted through mailbox.tls_ca_file: TLS from the first byte, then STARTTLS.
    let ca = [("PAPERBOY_MAILBOX__TLS_CA_FILE", cert.display().to_string())];
    let (ok, out, err) = poll_once(&app, &imaps, &ca);
    assert!(ok, "{err}");
    assert!(out.contains("1 recorded"), "{out}");
    let again = delivered_dsn(&gone, "gone@example.net", "tls-2@relay");
    dovecot.append("INBOX", None, again.as_bytes()).await;
    let starttls = dovecot.url("INBOX").replace("?tls=none", "?tls=starttls");
    let (ok, out, err) = poll_once(&app, &starttls, &ca);
    assert!(ok, "{err}");
    assert!(out.contains("1 recorded"), "{out}");
    assert!(dovecot.messages("INBOX").await.is_empty());
    assert_eq!(dovecot.messages(PROCESSED).await.len(), 2);
    assert!(dovecot.log().contains("TLS"), "{}", dovecot.log());
}
