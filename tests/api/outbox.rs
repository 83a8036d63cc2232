//! Every mail through the outbox: sign-ups are answered without waiting for the relay, their
//! mails wait in the outbox while it is down and go out when it returns; a confirmed reader
//! gets a welcome; the hourly limits, bounces and the order against digests hold; and a
//! worker whose lease ran out neither records its outcome nor sends a row twice.

use std::time::Duration;

use chrono::NaiveDate;
use paperboy::domain::{DigestStatus, SubscriberStatus, SubscriptionMailKind};
use paperboy::store::{ClaimedDigest, Outcome, StoredMail};
use serde_json::json;

use crate::cli::paperboy_with;
use crate::digest::readers_with_a_digest;
use crate::helpers::{Backend, MailSink, TestApp, link_in, spawn_app, spawn_app_with, until};
use crate::on_both_databases;

on_both_databases!(
    a_sign_up_while_the_relay_is_down_goes_out_when_it_returns,
    a_confirmed_reader_is_welcomed_once,
    the_hourly_limits_still_hold,
    a_refused_address_bounces_and_is_suppressed,
    subscription_mails_go_before_digests,
    a_stale_claim_is_not_recorded,
    an_outcome_for_a_row_erased_meanwhile_is_dropped,
    a_row_whose_lease_ran_short_is_sent_once,
    a_burst_of_sign_ups_all_go_out_once,
    one_client_at_once_gets_no_more_than_its_limit,
);

/// The subscription mails of `email`, oldest first.
async fn mails_of(app: &TestApp, email: &str) -> Vec<StoredMail> {
    let s = app.subscriber(email).await.expect("the subscriber");
    app.ctx.store.subscription_mails_of(s.id).await.unwrap()
}

/// Wait (up to 10 s) until `done` holds for the subscription mails of `email`.
async fn wait_for_mails(app: &TestApp, email: &str, done: impl Fn(&[StoredMail]) -> bool) {
    let reached = async || done(&mails_of(app, email).await);
    until(
        &format!("the subscription mails of {email}"),
        reached,
        async || {
            format!(
                "they stayed {:?}\nthe service's log:\n{}",
                mails_of(app, email).await,
                app.log.text()
            )
        },
    )
    .await;
}

/// A loopback address nobody listens on (yet).
fn free_address() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn a_sign_up_while_the_relay_is_down_goes_out_when_it_returns(backend: Backend) {
    let relay = free_address();
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("smtp_url", format!("smtp://{relay}").into()),
            ("delivery.retry_after_seconds", 1.into()),
            ("delivery.poll_seconds", 1.into()),
        ],
    )
    .await
    else {
        return;
    };
    // Both ways in answer as when the relay is up.
    let started = std::time::Instant::now();
    let r = app
        .api_subscribe(&json!({"email": "api@example.com", "topics": ["llm"]}))
        .await;
    assert_eq!(r.status(), 202);
    let r = app
        .subscribe_form(&[("email", "form@example.com"), ("topics", "llm")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the answers did not wait for the relay"
    );
    // The mails wait in the outbox, tried and deferred.
    for email in ["api@example.com", "form@example.com"] {
        wait_for_mails(&app, email, |m| {
            m.len() == 1 && m[0].attempts >= 1 && m[0].status == DigestStatus::Pending
        })
        .await;
        let m = &mails_of(&app, email).await[0];
        assert_eq!(m.kind, SubscriptionMailKind::Confirmation);
        assert!(m.last_error.is_some(), "{m:?}");
    }
    // The relay comes back on its address: each mail goes out, once.
    let sink = MailSink::start_on(std::net::TcpListener::bind(relay).unwrap());
    for email in ["api@example.com", "form@example.com"] {
        let got = sink.wait_for(email, 1).await;
        let link = link_in(&got[0].text(), "/confirm/");
        assert!(link.starts_with(&app.base), "{link}");
        wait_for_mails(&app, email, |m| m[0].status == DigestStatus::Sent).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for email in ["api@example.com", "form@example.com"] {
        assert_eq!(sink.to(email).len(), 1, "{email}: one mail");
    }
    // The link works.
    let link = link_in(&sink.to("api@example.com")[0].text(), "/confirm/");
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    assert_eq!(
        app.subscriber("api@example.com").await.unwrap().status,
        SubscriberStatus::Active
    );
}

async fn a_confirmed_reader_is_welcomed_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    let email = "welcome@example.com";
    app.subscribe_form(&[("email", email), ("keywords", "agents")])
        .await;
    let confirmation = app.smtp.wait_for(email, 1).await.remove(0);
    let link = link_in(&confirmation.text(), "/confirm/");
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    let mails = app.smtp.wait_for(email, 2).await;
    let welcome = &mails[1];
    let parsed = welcome.parsed();
    assert!(
        parsed.subject().unwrap().starts_with("Welcome to"),
        "{:?}",
        parsed.subject()
    );
    let text = welcome.text();
    // What they get and when, as they chose it (the form's defaults).
    assert!(text.contains("a digest every day at 07:00 (UTC)"), "{text}");
    // Their links work.
    let prefs = link_in(&text, "/preferences/");
    assert_eq!(app.get_text(&prefs).await.0, 200);
    let unsubscribe = link_in(&text, "/unsubscribe/");
    assert!(unsubscribe.starts_with(&app.base));
    let raw = String::from_utf8_lossy(&welcome.data);
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(raw.contains("List-Unsubscribe: <"));
    assert!(raw.contains("List-Id: "));
    // The papers their first digest would hold today: some of the stored day's, matched
    // on "agents".
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let stored = app.ctx.store.papers(Some(day), 100).await.unwrap();
    let shown: Vec<&str> = stored
        .iter()
        .map(|p| p.paper.title.as_str())
        .filter(|t| text.contains(*t))
        .collect();
    assert!(!shown.is_empty(), "no stored paper in:\n{text}");
    let html = welcome.html();
    assert!(
        shown
            .iter()
            .all(|t| html.contains(&paperboy::mail::escape_html(t))),
        "{shown:?} not all in:\n{html}"
    );
    // A second press of the button welcomes no one again.
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.smtp.to(email).len(), 2);
    let kinds: Vec<_> = mails_of(&app, email).await.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            SubscriptionMailKind::Confirmation,
            SubscriptionMailKind::Welcome
        ]
    );
}

async fn the_hourly_limits_still_hold(backend: Backend) {
    let overrides = [
        ("subscribe.max_mails_per_address_per_hour", 2.into()),
        ("subscribe.max_mails_per_client_per_hour", 3.into()),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    for _ in 0..3 {
        let r = app
            .api_subscribe(&json!({"email": "limit@example.com", "topics": ["llm"]}))
            .await;
        assert_eq!(r.status(), 202, "the same answer every time");
    }
    // The third request in the hour made no mail: no row, nothing sent.
    assert_eq!(mails_of(&app, "limit@example.com").await.len(), 2);
    app.smtp.wait_for("limit@example.com", 2).await;
    // The client's third mail went to another address; its fourth is not made.
    for e in ["other@example.com", "third@example.com"] {
        let r = app
            .api_subscribe(&json!({"email": e, "topics": ["llm"]}))
            .await;
        assert_eq!(r.status(), 202);
    }
    assert_eq!(mails_of(&app, "other@example.com").await.len(), 1);
    assert!(mails_of(&app, "third@example.com").await.is_empty());
    app.smtp.wait_for("other@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.to("limit@example.com").len(), 2);
    assert!(app.smtp.to("third@example.com").is_empty());
    assert!(app.subscriber("third@example.com").await.is_some());
}

async fn a_refused_address_bounces_and_is_suppressed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = "nobody@example.com";
    app.smtp.faults.lock().unwrap().reject = vec![email.into()];
    let r = app
        .api_subscribe(&json!({"email": email, "topics": ["llm"]}))
        .await;
    assert_eq!(r.status(), 202);
    wait_for_mails(&app, email, |m| m[0].status == DigestStatus::Bounced).await;
    let m = &mails_of(&app, email).await[0];
    assert!(m.last_error.as_deref().unwrap().contains("550"), "{m:?}");
    let s = app.subscriber(email).await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Suppressed);
    assert!(
        s.suppression_reason
            .as_deref()
            .unwrap()
            .starts_with("hard bounce"),
        "{s:?}"
    );
    assert!(app.smtp.to(email).is_empty());
}

async fn subscription_mails_go_before_digests(backend: Backend) {
    let relay = free_address();
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("smtp_url", format!("smtp://{relay}").into()),
            ("delivery.retry_after_seconds", 1.into()),
            // Only a sign-up in the app wakes its loop.
            ("delivery.poll_seconds", 3600.into()),
        ],
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let readers = readers_with_a_digest(&app, dir.path(), 2).await;
    let email = "newcomer@example.com";
    let r = app
        .api_subscribe(&json!({"email": email, "topics": ["llm"]}))
        .await;
    assert_eq!(r.status(), 202);
    // The app's loop tried it against the relay that is down; it is due again in a second.
    wait_for_mails(&app, email, |m| {
        m[0].attempts == 1 && m[0].status == DigestStatus::Pending
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A delivery run with a relay that works: the confirmation first, then the digests.
    let (ok, out, err) = paperboy_with(
        &app.ctx.config.database_url,
        dir.path(),
        &["digest", "deliver"],
        &[
            ("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr)),
            ("PAPERBOY_BASE_URL", app.base.clone()),
            ("PAPERBOY_DELIVERY__CONCURRENCY", "1".into()),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("subscription mails: 1 sent, 0 deferred")
            && out.contains("\n2 sent, 0 deferred"),
        "{out}"
    );
    let order: Vec<String> = app.smtp.all().iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(order[0], email, "{order:?}");
    assert!(readers.contains(&order[1]) && readers.contains(&order[2]));
}

/// Two claims of one row (the first's lease ran out): only the later one records.
async fn a_stale_claim_is_not_recorded(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    readers_with_a_digest(&app, dir.path(), 1).await;
    let store = &app.ctx.store;
    let t = chrono::Utc::now().timestamp();
    let first = store.claim::<ClaimedDigest>(t, t, 10, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store
            .claim::<ClaimedDigest>(t + 5, t + 5, 10, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // Its lease has run out at t + 11: another worker claims it.
    let second = store
        .claim::<ClaimedDigest>(t + 11, t + 11, 10, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    let (a, b) = (first[0].claim, second[0].claim);
    assert_eq!((a.id, a.attempts, b.attempts), (b.id, 1, 2));
    assert_ne!(a.token, b.token);
    // The first worker reports late: the attempt is kept, the row is not touched.
    let late = Outcome::Retry {
        at: t + 100,
        error: "451 late".into(),
    };
    assert_eq!(
        store
            .record_outcomes(paperboy::store::OutboxTable::Digests, &[(a, late)], t + 12)
            .await
            .unwrap(),
        0
    );
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let d = store
        .digest_for(second[0].subscriber_id, day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, DigestStatus::Sending);
    // The holder of the lease records.
    assert_eq!(
        store
            .record_outcomes(
                paperboy::store::OutboxTable::Digests,
                &[(b, Outcome::Sent)],
                t + 13
            )
            .await
            .unwrap(),
        1
    );
    let d = store
        .digest_for(second[0].subscriber_id, day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.status, d.sent_at), (DigestStatus::Sent, Some(t + 13)));
    // And a stale claim cannot undo it either.
    assert_eq!(
        store
            .record_outcomes(
                paperboy::store::OutboxTable::Digests,
                &[(a, Outcome::Sent)],
                t + 14
            )
            .await
            .unwrap(),
        0
    );
    let attempts = store.delivery_attempts(d.id).await.unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
}

/// A reader erased while their mail was out (or a sign-up purged while its confirmation
/// went): the row went with them, and recording the group's outcomes must neither fail
/// (the whole run did, on the attempt's foreign key) nor lose the others'.
async fn an_outcome_for_a_row_erased_meanwhile_is_dropped(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    readers_with_a_digest(&app, dir.path(), 2).await;
    let store = &app.ctx.store;
    let t = chrono::Utc::now().timestamp();
    let claimed = store.claim::<ClaimedDigest>(t, t, 60, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let (gone, kept) = (&claimed[0], &claimed[1]);
    assert!(store.delete(gone.subscriber_id).await.unwrap());
    let recorded = store
        .record_outcomes(
            paperboy::store::OutboxTable::Digests,
            &[(gone.claim, Outcome::Sent), (kept.claim, Outcome::Sent)],
            t + 1,
        )
        .await
        .expect("the outcomes of the rows still there are recorded");
    assert_eq!(recorded, 1);
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let d = store
        .digest_for(kept.subscriber_id, day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.status, d.sent_at), (DigestStatus::Sent, Some(t + 1)));
    assert_eq!(store.delivery_attempts(d.id).await.unwrap().len(), 1);
    assert!(
        store
            .digest_for(gone.subscriber_id, day)
            .await
            .unwrap()
            .is_none()
    );
}

/// The bug this guards against: rows claimed at once wait for their turn behind a slow
/// relay past their lease; another run claims them again and sends them; the first run
/// then sent them too. Here the relay takes 4 s a message, one message at a time, under a
/// 4 s lease: the first run sends one digest and leaves the other, whose lease ran short
/// while it waited; the second run, started once that lease has passed, sends it. Each
/// reader gets one mail.
async fn a_row_whose_lease_ran_short_is_sent_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 2).await;
    app.smtp.faults.lock().unwrap().delay = Duration::from_secs(4);
    let env = vec![
        ("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr)),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        ("PAPERBOY_DELIVERY__CONCURRENCY", "1".into()),
        ("PAPERBOY_DELIVERY__LEASE_SECONDS", "4".into()),
    ];
    let deliver = {
        let (url, dir, env) = (
            app.ctx.config.database_url.clone(),
            dir.path().to_path_buf(),
            env.clone(),
        );
        move || paperboy_with(&url, &dir, &["digest", "deliver"], &env)
    };
    let first = std::thread::spawn(deliver.clone());
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let second = std::thread::spawn(deliver);
    let (ok, out_first, err) = first.join().unwrap();
    assert!(ok, "{err}");
    let (ok, out_second, err) = second.join().unwrap();
    assert!(ok, "{err}");
    assert!(
        out_first.contains("1 sent, 0 deferred") && out_first.contains("1 left for another worker"),
        "{out_first}"
    );
    assert!(out_second.contains("1 sent, 0 deferred"), "{out_second}");
    for e in &emails {
        assert_eq!(app.smtp.to(e).len(), 1, "{e}: one digest");
    }
    let counts = app.ctx.store.digest_counts().await.unwrap();
    let sent = counts.iter().find(|c| c.0 == DigestStatus::Sent).unwrap().1;
    assert_eq!(sent, 2);
}

/// A burst of sign-ups from many clients at once: every mail goes out, once, and the
/// outbox is empty soon after.
async fn a_burst_of_sign_ups_all_go_out_once(backend: Backend) {
    let overrides = [("subscribe.max_mails_per_client_per_hour", 100_000.into())];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let email = format!("burst-{t}-{i}@example.com");
                let r = app
                    .api_subscribe(&json!({"email": email, "topics": ["llm"]}))
                    .await;
                assert_eq!(r.status(), 202);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = &app.ctx.store;
    let mut left = i64::MAX;
    for _ in 0..300 {
        let counts = store
            .outbox_counts(paperboy::store::OutboxTable::SubscriptionMails)
            .await
            .unwrap();
        left = counts
            .iter()
            .filter(|(s, _)| matches!(s, DigestStatus::Pending | DigestStatus::Sending))
            .map(|(_, n)| n)
            .sum();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the outbox did not empty within 30 s");
    assert_eq!(app.smtp.all().len(), 16 * 40);
}

/// Thirty sign-ups to thirty addresses from one client, all at once: no more mails are made
/// than the client's hourly limit (on PostgreSQL the requests are counted one at a time,
/// under a lock on the client; SQLite has one writer), and every request is kept.
async fn one_client_at_once_gets_no_more_than_its_limit(backend: Backend) {
    let overrides = [
        ("subscribe.max_mails_per_client_per_hour", 5.into()),
        ("limits.posts_per_minute", 60_000.into()),
        ("limits.post_burst", 1_000.into()),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let emails: Vec<String> = (0..30)
        .map(|i| format!("same-client-{i}@example.com"))
        .collect();
    let bodies: Vec<serde_json::Value> = emails
        .iter()
        .map(|e| json!({"email": e, "topics": ["llm"]}))
        .collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|b| app.api_subscribe(b))).await;
    assert!(answers.iter().all(|r| r.status() == 202));
    let mut made = 0;
    for e in &emails {
        made += mails_of(&app, e).await.len();
    }
    assert_eq!(made, 5, "one client's hourly limit is 5");
}
