//! Bounces and complaints that arrive after the relay accepted: each message's Return-Path
//! names it (VERP, signed), and the built-in SMTP listener takes the DSNs and ARF reports
//! sent there, records them and suppresses whom the policy says; forged, foreign, malformed,
//! oversized and slow input changes nothing and leaves the listener answering.

use std::time::Duration;

use paperboy::domain::{EventSource, MailEventKind, SubscriberStatus};
use paperboy::store::{EventFilter, StoredMailEvent};

use crate::digest::readers_with_a_digest;
use crate::helpers::{
    ADMIN_TOKEN, Backend, Postfix, Routes, SmtpTalk, TestApp, smtp_send, spawn_app_with, until,
};
use crate::on_both_databases;

on_both_databases!(
    every_mail_carries_a_signed_return_path,
    a_dsn_to_the_listener_suppresses_its_reader_only,
    a_dsn_whose_status_part_is_labelled_text_is_read,
    soft_bounces_suppress_once_enough_fall_in_the_window,
    a_complaint_unsubscribes_and_suppresses,
    forged_foreign_and_malformed_reports_change_nothing,
    oversized_slow_and_too_many_clients_are_turned_away,
    postfix_bounces_a_refused_digest_back_to_its_reader,
    postfix_giving_up_on_a_4xx_is_a_soft_bounce,
    the_operator_sees_and_changes_suppressions,
    ten_thousand_bounces_in_a_burst,
    a_report_over_starttls_is_recorded,
);

pub const BOUNCE_DOMAIN: &str = "lists.paperboy.test";

/// The test app with a bounce address and the listener on a free port, and more overrides.
pub async fn spawn_bouncing(backend: Backend, more: &[(&str, toml::Value)]) -> Option<TestApp> {
    let mut overrides: Vec<(&str, toml::Value)> = vec![
        (
            "mail.bounce_address",
            format!("bounces@{BOUNCE_DOMAIN}").into(),
        ),
        ("inbound.bind", "127.0.0.1:0".into()),
    ];
    overrides.extend(more.iter().cloned());
    spawn_app_with(backend, &overrides).await
}

/// Subscribe and confirm `email`; the envelope sender of its welcome mail.
pub async fn confirmed_reader(app: &TestApp, email: &str) -> String {
    app.subscribe_and_confirm(email, &[("topics", "llm")]).await;
    let mails = app.smtp.to(email);
    let welcome = mails.last().unwrap();
    welcome.from.clone()
}

/// The Postfix DSN of the fixtures, about `recipient`, sent to `tag`, with its own id.
pub fn postfix_dsn(fixture: &str, tag: &str, recipient: &str, id: &str) -> String {
    let raw = std::fs::read_to_string(format!("tests/fixtures/bounces/{fixture}")).unwrap();
    raw.replace("bounces+d12-34-0011223344556677@lists.example.org", tag)
        .replace("bounces+d13-35-0011223344556677@lists.example.org", tag)
        .replace("gone@example.net", recipient)
        .replace("full@example.net", recipient)
        .replace("20261130204302.1910498E06F", id)
        .replace("20261130204311.8D98A98E081", id)
}

pub async fn events(app: &TestApp) -> Vec<StoredMailEvent> {
    app.ctx
        .store
        .mail_events(&EventFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
}

pub async fn status_of(app: &TestApp, email: &str) -> SubscriberStatus {
    app.subscriber(email).await.unwrap().status
}

async fn every_mail_carries_a_signed_return_path(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let sender = confirmed_reader(&app, "reader@example.net").await;
    let reader = app.subscriber("reader@example.net").await.unwrap();
    let verp = app.ctx.mailer.verp().unwrap();
    let mails = app.smtp.to("reader@example.net");
    assert_eq!(mails.len(), 2, "a confirmation and a welcome");
    for mail in &mails {
        let named = verp.parse(&mail.from).expect("a signed tag");
        assert_eq!(named.reader, reader.id);
        assert!(
            mail.from.starts_with("bounces+s") && mail.from.ends_with(BOUNCE_DOMAIN),
            "{}",
            mail.from
        );
    }
    // Each message its own tag.
    assert_ne!(mails[0].from, mails[1].from);
    assert_eq!(sender, mails[1].from);
    // Without a bounce address the envelope sender stays mail_from's.
    let Some(plain) = spawn_app_with(backend, &[]).await else {
        return;
    };
    plain
        .subscribe_and_confirm("plain@example.net", &[("topics", "llm")])
        .await;
    for mail in plain.smtp.to("plain@example.net") {
        assert_eq!(mail.from, "digest@paperboy.test");
    }
}

async fn a_dsn_to_the_listener_suppresses_its_reader_only(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "gone@example.net").await;
    confirmed_reader(&app, "stays@example.net").await;
    let dsn = postfix_dsn("postfix-5xx.eml", &tag, "gone@example.net", "dsn-1@relay");
    let inbound = app.inbound.unwrap();
    let r = smtp_send(inbound, "", &[&tag], dsn.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    let gone = app.subscriber("gone@example.net").await.unwrap();
    assert_eq!(gone.status, SubscriberStatus::Suppressed);
    assert_eq!(
        gone.suppression_reason.as_deref(),
        Some("hard bounce (5.3.0)")
    );
    assert_eq!(
        status_of(&app, "stays@example.net").await,
        SubscriberStatus::Active
    );
    let all = events(&app).await;
    assert_eq!(all.len(), 1);
    let e = &all[0];
    assert_eq!(e.email.as_str(), "gone@example.net");
    assert_eq!(
        (e.kind, e.source),
        (MailEventKind::HardBounce, EventSource::Listener)
    );
    assert_eq!(e.status.as_deref(), Some("5.3.0"));
    assert_eq!(
        e.diagnostic.as_deref(),
        Some("500 5.3.0 Error: command failed")
    );
    assert_eq!(e.message_kind.as_deref(), Some("subscription_mail"));
    assert_eq!(e.effect, "suppressed");
    // The same report again (an MTA retrying after a lost reply) is not a second event.
    let r = smtp_send(inbound, "", &[&tag], dsn.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(events(&app).await.len(), 1);
}

/// Some mailers label the status part `text/delivery-status` rather than RFC 3464's
/// `message/delivery-status`: its fields are read all the same, and the reader suppressed.
async fn a_dsn_whose_status_part_is_labelled_text_is_read(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "gone@example.net").await;
    let dsn = postfix_dsn(
        "postfix-5xx-text-delivery-status.eml",
        &tag,
        "gone@example.net",
        "text-status-1@relay",
    );
    assert!(dsn.contains("Content-Type: text/delivery-status"));
    let r = smtp_send(app.inbound.unwrap(), "", &[&tag], dsn.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    let gone = app.subscriber("gone@example.net").await.unwrap();
    assert_eq!(gone.status, SubscriberStatus::Suppressed);
    assert_eq!(
        gone.suppression_reason.as_deref(),
        Some("hard bounce (5.3.0)")
    );
    let all = events(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].kind, all[0].source, all[0].status.as_deref()),
        (
            MailEventKind::HardBounce,
            EventSource::Listener,
            Some("5.3.0")
        )
    );
    assert_eq!(
        all[0].diagnostic.as_deref(),
        Some("500 5.3.0 Error: command failed")
    );
}

async fn soft_bounces_suppress_once_enough_fall_in_the_window(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[("bounces.soft_limit", 2.into())]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "full@example.net").await;
    let inbound = app.inbound.unwrap();
    let first = postfix_dsn(
        "postfix-4xx-expired.eml",
        &tag,
        "full@example.net",
        "soft-1@relay",
    );
    let r = smtp_send(inbound, "", &[&tag], first.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        status_of(&app, "full@example.net").await,
        SubscriberStatus::Active
    );
    let second = postfix_dsn(
        "postfix-4xx-expired.eml",
        &tag,
        "full@example.net",
        "soft-2@relay",
    );
    let r = smtp_send(inbound, "", &[&tag], second.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    let s = app.subscriber("full@example.net").await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Suppressed);
    assert_eq!(
        s.suppression_reason.as_deref(),
        Some("2 soft bounces within 14 days (4.3.0)")
    );
    let effects: Vec<(MailEventKind, String)> = events(&app)
        .await
        .into_iter()
        .map(|e| (e.kind, e.effect))
        .collect();
    assert_eq!(
        effects,
        vec![
            (MailEventKind::SoftBounce, "suppressed".to_string()),
            (MailEventKind::SoftBounce, "noted".to_string()),
        ]
    );
}

async fn a_complaint_unsubscribes_and_suppresses(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "reader@example.net").await;
    let arf = std::fs::read_to_string("tests/fixtures/bounces/arf-abuse.eml")
        .unwrap()
        .replace("bounces+d12-34-0011223344556677@lists.example.org", &tag);
    // Feedback loops send to the untagged address: the tag is found in the returned message.
    let untagged = format!("bounces@{BOUNCE_DOMAIN}");
    let r = smtp_send(
        app.inbound.unwrap(),
        "abusedesk@example.com",
        &[&untagged],
        arf.as_bytes(),
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    let s = app.subscriber("reader@example.net").await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Suppressed);
    assert!(s.unsubscribed_at.is_some());
    assert_eq!(
        s.suppression_reason.as_deref(),
        Some("complaint: marked as spam")
    );
    let e = &events(&app).await[0];
    assert_eq!(e.kind, MailEventKind::Complaint);
    assert_eq!(
        e.diagnostic.as_deref(),
        Some("feedback report: abuse from SomeGenerator/1.0")
    );
}

async fn forged_foreign_and_malformed_reports_change_nothing(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "reader@example.net").await;
    let inbound = app.inbound.unwrap();
    let dsn = postfix_dsn("postfix-5xx.eml", &tag, "reader@example.net", "x@relay");

    // A tag naming another reader: refused at RCPT, before any data.
    let (id, reader) = tag
        .strip_prefix("bounces+s")
        .and_then(|t| t.split_once('-'))
        .unwrap();
    let reader: i64 = reader.split('-').next().unwrap().parse().unwrap();
    let forged = tag.replacen(
        &format!("s{id}-{reader}-"),
        &format!("s{id}-{}-", reader + 1),
        1,
    );
    let r = smtp_send(inbound, "", &[&forged], dsn.as_bytes()).await;
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // Mail for anyone else: this is no open relay.
    let r = smtp_send(inbound, "", &["postmaster@example.org"], dsn.as_bytes()).await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    // To the untagged address with no tag inside: nothing names the message.
    let untagged = format!("bounces@{BOUNCE_DOMAIN}");
    let anonymous = postfix_dsn(
        "postfix-5xx.eml",
        "someone@example.org",
        "reader@example.net",
        "y@relay",
    );
    let r = smtp_send(inbound, "", &[&untagged], anonymous.as_bytes()).await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    // A report without its status part, and bytes that are no mail at all.
    let broken = dsn.replace(
        "Content-Type: message/delivery-status",
        "Content-Type: text/plain",
    );
    let r = smtp_send(inbound, "", &[&tag], broken.as_bytes()).await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    assert!(r.contains("without its status part"), "{r}");
    let r = smtp_send(inbound, "", &[&tag], b"\x00\x01\x02 garbage").await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    // A person's reply or an auto-reply to the bounce address is taken and kept out.
    let reply = "From: reader@example.net\r\nTo: x\r\nSubject: Re: your papers\r\n\r\nThanks!\r\n";
    let r = smtp_send(inbound, "reader@example.net", &[&tag], reply.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    // Commands out of order and unknown ones get errors, and the session goes on.
    let (mut talk, _) = SmtpTalk::connect(inbound).await;
    assert!(talk.command("DATA").await.starts_with('5'));
    assert!(talk.command("HELLO?").await.starts_with('5'));
    assert!(talk.command("EHLO client.test").await.starts_with("250"));
    assert!(talk.command("QUIT").await.starts_with("221"));

    assert!(events(&app).await.is_empty());
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Active
    );
    // Still answering, and a genuine report still counts.
    let r = smtp_send(inbound, "", &[&tag], dsn.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Suppressed
    );
}

async fn oversized_slow_and_too_many_clients_are_turned_away(backend: Backend) {
    let Some(app) = spawn_bouncing(
        backend,
        &[
            ("inbound.max_connections", 2.into()),
            ("inbound.idle_timeout_seconds", 1.into()),
            ("inbound.session_timeout_seconds", 3.into()),
        ],
    )
    .await
    else {
        return;
    };
    let tag = confirmed_reader(&app, "reader@example.net").await;
    let inbound = app.inbound.unwrap();

    // 20 MB, over the 10 MB default: refused once it has ended, nothing kept.
    let mut big = postfix_dsn("postfix-5xx.eml", &tag, "reader@example.net", "big@relay");
    let line = format!("{}\r\n", "x".repeat(998));
    big.push_str(&line.repeat(20 * 1024 * 1024 / line.len()));
    let r = smtp_send(inbound, "", &[&tag], big.as_bytes()).await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    // One line of 1 MB without an end: too big as well, and its pieces are no commands.
    let mut long = postfix_dsn("postfix-5xx.eml", &tag, "reader@example.net", "long@relay");
    long.push_str(&"y".repeat(1024 * 1024));
    long.push_str("\r\n.\r\nQUIT\r\n");
    let r = smtp_send(inbound, "", &[&tag], long.as_bytes()).await;
    assert!(r.starts_with("552 5.3.4"), "{r}");

    // A client that stops mid-line is told so and let go after the idle timeout.
    let (mut slow, _) = SmtpTalk::connect(inbound).await;
    slow.raw(b"EHL").await.unwrap();
    let r = slow.reply().await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    // One that keeps talking slowly is let go at the end of the session's time.
    let (mut chatty, _) = SmtpTalk::connect(inbound).await;
    let started = std::time::Instant::now();
    loop {
        let r = chatty.command("NOOP").await;
        if r.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never closed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Two clients at once at most: a third is told to come back later.
    let (_a, ga) = SmtpTalk::connect(inbound).await;
    let (_b, gb) = SmtpTalk::connect(inbound).await;
    assert!(ga.starts_with("220") && gb.starts_with("220"));
    let (_c, gc) = SmtpTalk::connect(inbound).await;
    assert!(gc.starts_with("421 4.3.2"), "{gc}");
    drop((_a, _b));
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert!(events(&app).await.is_empty());
    let r = smtp_send(
        inbound,
        "",
        &[&tag],
        postfix_dsn("postfix-5xx.eml", &tag, "reader@example.net", "ok@relay").as_bytes(),
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Suppressed
    );
}

/// The app sending through a private Postfix, whose next hop is the app's test SMTP server
/// and which hands mail for the bounce domain to the app's listener; three readers with a
/// digest composed. `None` when Postfix cannot run here (see helpers/postfix.rs).
async fn through_postfix(
    backend: Backend,
    extra: &[(&str, &str)],
    dir: &std::path::Path,
) -> Option<(TestApp, Postfix, Vec<String>)> {
    let app = spawn_bouncing(backend, &[]).await?;
    let routes = Routes {
        next_hop: app.smtp.addr,
        bounce_domain: BOUNCE_DOMAIN,
        inbound: app.inbound.unwrap(),
    };
    let postfix = Postfix::start(&routes, extra)?;
    let readers = readers_with_a_digest(&app, dir, 3).await;
    Some((app, postfix, readers))
}

/// `paperboy digest deliver` through Postfix, as the operator's cron would run it; Postfix
/// must accept all three digests.
fn deliver_through(app: &TestApp, postfix: &Postfix, dir: &std::path::Path) {
    let (ok, out, err) = crate::cli::paperboy_with(
        &app.ctx.config.database_url,
        dir,
        &["digest", "deliver"],
        &[
            ("PAPERBOY_SMTP_URL", format!("smtp://{}", postfix.addr)),
            ("PAPERBOY_BASE_URL", app.base.clone()),
            (
                "PAPERBOY_MAIL__BOUNCE_ADDRESS",
                format!("bounces@{BOUNCE_DOMAIN}"),
            ),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("3 sent"),
        "Postfix accepts every recipient: {out}\n{err}\nPostfix's log:\n{}",
        postfix.log()
    );
}

/// Wait (up to 20 s) until `email` has an event; the events then.
async fn wait_for_event(app: &TestApp, postfix: &Postfix, email: &str) -> Vec<StoredMailEvent> {
    let seen = async || events(app).await.iter().any(|e| e.email.as_str() == email);
    until(&format!("a bounce event for {email}"), seen, async || {
        format!(
            "events {:?}\noutbox {}\nPostfix's log:\n{}\nthe service's log:\n{}",
            events(app).await,
            app.outbox_state(email).await,
            postfix.log(),
            app.log.text()
        )
    })
    .await;
    events(app).await
}

async fn postfix_bounces_a_refused_digest_back_to_its_reader(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((app, postfix, readers)) = through_postfix(backend, &[], dir.path()).await else {
        return;
    };
    // The next hop refuses one reader after Postfix accepted all three.
    let refused = readers[0].clone();
    app.smtp.faults.lock().unwrap().reject = vec![refused.clone()];
    deliver_through(&app, &postfix, dir.path());
    let all = wait_for_event(&app, &postfix, &refused).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let e = &all[0];
    assert_eq!(
        (e.kind, e.source),
        (MailEventKind::HardBounce, EventSource::Listener)
    );
    // Postfix's own status and the next hop's words, as Postfix reported them.
    assert_eq!(e.status.as_deref(), Some("5.0.0"));
    assert!(
        e.diagnostic
            .as_deref()
            .unwrap()
            .contains("550 Mailbox unavailable"),
        "{e:?}"
    );
    // The tag named the digest: the one composed for that reader.
    let reader = app.subscriber(&refused).await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let digest = app
        .ctx
        .store
        .digest_for(reader.id, day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.message_kind.as_deref(), Some("digest"));
    assert_eq!(e.message_id, Some(digest.id));
    assert_eq!(reader.status, SubscriberStatus::Suppressed);
    for other in &readers[1..] {
        assert_eq!(status_of(&app, other).await, SubscriberStatus::Active);
        assert_eq!(app.smtp.to(other).len(), 1, "{other} got its digest");
    }
}

async fn postfix_giving_up_on_a_4xx_is_a_soft_bounce(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Postfix gives up on a temporary failure at once, rather than after days.
    let Some((app, postfix, readers)) =
        through_postfix(backend, &[("maximal_queue_lifetime", "0")], dir.path()).await
    else {
        return;
    };
    // The next hop answers the first message's DATA with 451.
    app.smtp.faults.lock().unwrap().defer = 1;
    deliver_through(&app, &postfix, dir.path());
    let mut all = Vec::new();
    for _ in 0..200 {
        all = events(&app).await;
        if !all.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(all.len(), 1, "{all:?}\n{}", postfix.log());
    let e = &all[0];
    assert_eq!(e.kind, MailEventKind::SoftBounce);
    assert_eq!(e.status.as_deref().map(|s| &s[..2]), Some("4."));
    assert!(e.diagnostic.as_deref().unwrap().contains("451"), "{e:?}");
    // One soft bounce is under the limit: noted, the reader still gets mail.
    assert_eq!(e.effect, "noted");
    for r in &readers {
        assert_eq!(status_of(&app, r).await, SubscriberStatus::Active);
    }
}

async fn the_operator_sees_and_changes_suppressions(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[]).await else {
        return;
    };
    let tag = confirmed_reader(&app, "gone@example.net").await;
    confirmed_reader(&app, "other@example.net").await;
    let dsn = postfix_dsn("postfix-5xx.eml", &tag, "gone@example.net", "op-1@relay");
    let r = smtp_send(app.inbound.unwrap(), "", &[&tag], dsn.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let (ok, out, err) = crate::cli::paperboy_with(
            &app.ctx.config.database_url,
            dir.path(),
            args,
            &[("PAPERBOY_BASE_URL", app.base.clone())],
        );
        (ok, out + &err)
    };

    // Seen in `status`, `events`, the admin API and the metrics.
    let (ok, out) = cli(&["status"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("bounces and complaints, last 30 days: 1 hard_bounce (listener)"),
        "{out}"
    );
    assert!(
        out.contains("gone@example.net\thard_bounce (listener)\t5.3.0\tsuppressed"),
        "{out}"
    );
    let (ok, out) = cli(&["events", "--email", "gone@example.net", "--format", "json"]);
    assert!(ok, "{out}");
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(events[0]["kind"], "hard_bounce");
    assert_eq!(events[0]["source"], "listener");
    // Part of everything stored about the address.
    let (ok, out) = cli(&["subscribers", "export", "--email", "gone@example.net"]);
    assert!(ok, "{out}");
    let exported: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(exported[0]["mail_events"][0]["kind"], "hard_bounce");
    assert_eq!(exported[0]["mail_events"][0]["status"], "5.3.0");
    assert_eq!(
        exported[0]["confirmation_mails"].as_array().unwrap().len(),
        1,
        "{exported}"
    );
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth(ADMIN_TOKEN);
    let r = admin(app.client.get(app.url("/api/v1/admin/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events: serde_json::Value = r.json().await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["email"], "gone@example.net");
    assert_eq!(events[0]["status"], "5.3.0");
    assert_eq!(events[0]["message_kind"], "subscription_mail");
    let r = app
        .client
        .get(app.url("/api/v1/admin/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("paperboy_mail_events_total")
                && l.contains("kind=\"hard_bounce\"")
                && l.contains("source=\"listener\"")),
        "{metrics}"
    );

    // Listed; suppressed by hand (the API) with a reason; lifted (the CLI).
    let r = admin(app.client.get(app.url("/api/v1/admin/suppressions")))
        .send()
        .await
        .unwrap();
    let page: serde_json::Value = r.json().await.unwrap();
    let list = &page["suppressions"];
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["reason"], "hard bounce (5.3.0)");
    assert_eq!(page["next_after"], serde_json::Value::Null);
    let r = admin(
        app.client
            .put(app.url("/api/v1/admin/suppressions/other@example.net")),
    )
    .json(&serde_json::json!({"reason": "asked by phone\r\nto stop"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let changed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(changed["status"], "suppressed");
    assert_eq!(changed["reason"], "by the operator: asked by phone to stop");
    let (ok, out) = cli(&["suppressions", "export", "--format", "csv"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("id,email,suppressed_at,reason\n"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (ok, out) = cli(&["suppressions", "remove", "gone@example.net"]);
    assert!(
        ok && out.contains("gone@example.net is no longer suppressed: active"),
        "{out}"
    );
    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Active
    );
    // Lifting twice, or an unknown reader: clear errors, nothing changed.
    let (ok, out) = cli(&["suppressions", "remove", "gone@example.net"]);
    assert!(
        !ok && out.contains("gone@example.net is not suppressed"),
        "{out}"
    );
    let r = admin(
        app.client
            .delete(app.url("/api/v1/admin/suppressions/gone@example.net")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    let r = admin(
        app.client
            .delete(app.url("/api/v1/admin/suppressions/nobody@example.net")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = admin(
        app.client
            .put(app.url("/api/v1/admin/suppressions/not-an-address")),
    )
    .json(&serde_json::json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // A body that is not the documented object (an array of its fields, as serde would read
    // it): refused as any body of the wrong type, nothing changed.
    let r = admin(
        app.client
            .put(app.url("/api/v1/admin/suppressions/gone@example.net")),
    )
    .json(&serde_json::json!(["by an array"]))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("expected a JSON object"),
        "{err}"
    );
    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Active
    );
    let (ok, out) = cli(&[
        "suppressions",
        "add",
        "gone@example.net",
        "--reason",
        "test",
    ]);
    assert!(
        ok && out.contains("gone@example.net is suppressed: by the operator: test"),
        "{out}"
    );
    let (ok, out) = cli(&["suppressions", "list"]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    // In pages: one at a time, the second page after the first's last id.
    let page = |after: Option<i64>| {
        let mut url = app.url("/api/v1/admin/suppressions?limit=1");
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        admin(app.client.get(url))
    };
    let first: serde_json::Value = page(None).send().await.unwrap().json().await.unwrap();
    let after = first["next_after"].as_i64().expect("another page");
    let second: serde_json::Value = page(Some(after))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut emails = vec![
        first["suppressions"][0]["email"].clone(),
        second["suppressions"][0]["email"].clone(),
    ];
    emails.sort_by_key(|e| e.to_string());
    assert_eq!(emails, vec!["gone@example.net", "other@example.net"]);
    let r = admin(
        app.client
            .get(app.url("/api/v1/admin/suppressions?limit=0")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
}

/// 10,000 bounce mails at once over 20 connections: half of them for 100 real readers (each
/// reader's many copies of one report, and soft bounces of others), half with forged tags.
/// Every real reader ends as the policy says, nobody else changes, and the listener still
/// answers afterwards.
async fn ten_thousand_bounces_in_a_burst(backend: Backend) {
    let Some(app) = spawn_bouncing(backend, &[("inbound.max_connections", 20.into())]).await else {
        return;
    };
    let verp = app.ctx.mailer.verp().unwrap().clone();
    let mut readers = Vec::new();
    for i in 0..120 {
        let input = paperboy::domain::SubscriptionInput {
            email: format!("r{i}@example.net"),
            keywords: "agents".into(),
            ..Default::default()
        };
        let new = app.subs.parse(&input).unwrap();
        readers.push(
            app.subs
                .add_confirmed(&crate::helpers::operator(), &new)
                .await
                .unwrap(),
        );
    }
    // Readers 0-99 get hard bounces; 100-119 are bystanders named only by forged tags.
    let hard: Vec<(String, String)> = readers[..100]
        .iter()
        .map(|r| {
            let tag = verp.address(paperboy::domain::MessageRef {
                kind: paperboy::domain::MessageKind::Digest,
                id: 1000 + r.id,
                reader: r.id,
            });
            let dsn = postfix_dsn(
                "postfix-5xx.eml",
                &tag,
                r.email.as_str(),
                &format!("burst-{}@relay", r.id),
            );
            (tag, dsn)
        })
        .collect();
    let forged: Vec<String> = readers[100..]
        .iter()
        .map(|r| {
            let tag = verp.address(paperboy::domain::MessageRef {
                kind: paperboy::domain::MessageKind::Digest,
                id: 1,
                reader: readers[0].id,
            });
            // The tag of reader 0's message, rewritten to name this reader.
            tag.replacen(&format!("-{}-", readers[0].id), &format!("-{}-", r.id), 1)
        })
        .collect();
    let inbound = app.inbound.unwrap();
    let hard = std::sync::Arc::new(hard);
    let forged = std::sync::Arc::new(forged);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..20 {
        let (hard, forged) = (hard.clone(), forged.clone());
        tasks.spawn(async move {
            let (mut talk, greeting) = SmtpTalk::connect(inbound).await;
            assert!(greeting.starts_with("220"), "{greeting}");
            assert!(talk.command("EHLO burst.test").await.starts_with("250"));
            let (mut accepted, mut refused) = (0, 0);
            for i in 0..500 {
                let n = c * 500 + i;
                let reply = if n % 2 == 0 {
                    let (tag, dsn) = &hard[(n / 2) % hard.len()];
                    talk.send_mail("", &[tag], dsn.as_bytes()).await
                } else {
                    let tag = &forged[(n / 2) % forged.len()];
                    let r = talk
                        .send_mail("", &[tag], b"Subject: x\r\n\r\nforged\r\n")
                        .await;
                    assert!(talk.command("RSET").await.starts_with("250"));
                    r
                };
                if reply.starts_with("250") {
                    accepted += 1;
                } else {
                    assert!(reply.starts_with("550 5.1.1"), "{reply}");
                    refused += 1;
                }
            }
            (accepted, refused)
        });
    }
    let (mut accepted, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (a, f) = r.unwrap();
        accepted += a;
        refused += f;
    }
    assert_eq!((accepted, refused), (5000, 5000));
    for r in &readers[..100] {
        assert_eq!(
            status_of(&app, r.email.as_str()).await,
            SubscriberStatus::Suppressed
        );
    }
    for r in &readers[100..] {
        assert_eq!(
            status_of(&app, r.email.as_str()).await,
            SubscriberStatus::Active
        );
    }
    // Each reader's report is one event, however many times it came.
    assert_eq!(events(&app).await.len(), 100);
    let (_talk, greeting) = SmtpTalk::connect(inbound).await;
    assert!(greeting.starts_with("220"), "{greeting}");
}

/// With a certificate, the listener offers STARTTLS: a report sent over TLS counts; commands
/// smuggled in after STARTTLS, before the handshake, end the session; a certificate without
/// its key stops the start.
async fn a_report_over_starttls_is_recorded(backend: Backend) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::certificate::self_signed_certificate(dir.path());
    let Some(app) = spawn_bouncing(
        backend,
        &[
            ("inbound.tls_cert_file", cert.display().to_string().into()),
            ("inbound.tls_key_file", key.display().to_string().into()),
        ],
    )
    .await
    else {
        return;
    };
    let tag = confirmed_reader(&app, "reader@example.net").await;
    let inbound = app.inbound.unwrap();

    // Smuggled commands after STARTTLS: refused, and the session ends.
    let (mut talk, _) = SmtpTalk::connect(inbound).await;
    assert!(
        talk.command("EHLO client.test")
            .await
            .contains("250-STARTTLS")
    );
    talk.raw(b"STARTTLS\r\nMAIL FROM:<>\r\n").await.unwrap();
    let r = talk.reply().await;
    assert!(r.starts_with("501 5.5.4"), "{r}");
    assert_eq!(talk.reply().await, "");

    // The real thing: EHLO, STARTTLS, the handshake, EHLO again, the report.
    let tcp = tokio::net::TcpStream::connect(inbound).await.unwrap();
    let mut plain = tokio::io::BufReader::new(tcp);
    let mut line = String::new();
    plain.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220"), "{line}");
    plain
        .get_mut()
        .write_all(b"EHLO client.test\r\n")
        .await
        .unwrap();
    loop {
        line.clear();
        plain.read_line(&mut line).await.unwrap();
        if line.as_bytes()[3] == b' ' {
            break;
        }
    }
    plain.get_mut().write_all(b"STARTTLS\r\n").await.unwrap();
    line.clear();
    plain.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220 2.0.0"), "{line}");
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, plain.into_inner()).await.unwrap();
    let mut tls = tokio::io::BufReader::new(tls);
    let mut ask = async |command: &str| {
        tls.get_mut().write_all(command.as_bytes()).await.unwrap();
        let mut all = String::new();
        loop {
            let mut line = String::new();
            tls.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    };
    let ehlo = ask("EHLO client.test\r\n").await;
    assert!(
        ehlo.starts_with("250") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    assert!(ask("MAIL FROM:<>\r\n").await.starts_with("250"));
    assert!(
        ask(&format!("RCPT TO:<{tag}>\r\n"))
            .await
            .starts_with("250")
    );
    assert!(ask("DATA\r\n").await.starts_with("354"));
    let dsn = postfix_dsn("postfix-5xx.eml", &tag, "reader@example.net", "tls@relay");
    let r = ask(&format!("{dsn}\r\n.\r\n")).await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Suppressed
    );

    // A certificate without its key: the service does not start.
    let config = paperboy::config::Config::with_overrides(&[
        ("database_url", app.ctx.config.database_url.clone().into()),
        ("secret", crate::helpers::SECRET.into()),
        ("data_dir", dir.path().display().to_string().into()),
        ("mail.bounce_address", "bounces@lists.paperboy.test".into()),
        ("inbound.bind", "127.0.0.1:0".into()),
        ("inbound.tls_cert_file", cert.display().to_string().into()),
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = paperboy::app::App::build_on(config, listener)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("inbound.tls_key_file"), "{err}");
}
