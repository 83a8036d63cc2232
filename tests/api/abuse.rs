//! Sign-up abuse: honeypot, time-to-submit, CSRF, rate limits, confirmation-mail limits,
//! expiry of unconfirmed sign-ups, suppression.

use paperboy::domain::SubscriberStatus;
use serde_json::json;

use crate::helpers::{Backend, link_in, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    bots_get_the_same_answer_and_nothing_happens,
    csrf,
    post_rate_limit,
    mail_limits_per_address_and_client,
    unconfirmed_expire_and_suppressed_stay_suppressed
);

async fn bots_get_the_same_answer_and_nothing_happens(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("subscribe.min_submit_seconds", 3.into())]).await
    else {
        return;
    };
    // Honeypot filled (and too fast).
    let r = app
        .subscribe_form(&[
            ("email", "bot@example.com"),
            ("topics", "llm"),
            ("website", "http://spam"),
        ])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    // Submitted faster than a person could.
    let r = app
        .subscribe_form(&[("email", "fast@example.com"), ("topics", "llm")])
        .await;
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    assert_eq!(app.count().await, 0);
    assert!(app.smtp.all().is_empty());
    // A person who takes their time gets through.
    let token = app.form_token("/").await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = app
        .client
        .post(app.url("/subscribe"))
        .form(&[
            ("form_token", token.as_str()),
            ("email", "person@example.com"),
            ("topics", "llm"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(app.subscriber("person@example.com").await.is_some());
}

async fn csrf(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.form_token("/").await;
    // No cookie (a cross-site post, or a form token lifted from another browser).
    let r = reqwest::Client::new()
        .post(app.url("/subscribe"))
        .form(&[
            ("form_token", token.as_str()),
            ("email", "x@example.com"),
            ("topics", "llm"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("reload the page"));
    // No token at all.
    let r = app
        .client
        .post(app.url("/subscribe"))
        .form(&[("email", "x@example.com"), ("topics", "llm")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A token from another browser's cookie.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = other
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let other_token = crate::helpers::between(&page, "name=\"form_token\" value=\"", "\"").unwrap();
    let r = app
        .client
        .post(app.url("/subscribe"))
        .form(&[
            ("form_token", other_token.as_str()),
            ("email", "x@example.com"),
            ("topics", "llm"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count().await, 0);
    // The cookie is HttpOnly and SameSite=Strict.
    let r = reqwest::Client::new()
        .get(app.url("/"))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

async fn post_rate_limit(backend: Backend) {
    let overrides = [
        ("limits.posts_per_minute", 2.into()),
        ("limits.post_burst", 3.into()),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = app
            .api_subscribe(&json!({"email": format!("r{i}@example.com"), "topics": ["llm"]}))
            .await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "Retry-After {wait}");
            assert!(r.text().await.unwrap().contains("too many requests"));
        }
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    assert_eq!(app.count().await, 3);
    // One-click unsubscribes are not limited (they come from mail providers' servers): the
    // token is checked instead.
    let r = app
        .client
        .post(app.url("/unsubscribe/not-a-token"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // GETs are not limited.
    assert_eq!(app.get_text("/").await.0, 200);
}

async fn mail_limits_per_address_and_client(backend: Backend) {
    let overrides = [
        ("subscribe.max_mails_per_address_per_hour", 2.into()),
        ("subscribe.max_mails_per_client_per_hour", 4.into()),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    for _ in 0..5 {
        let r = app
            .api_subscribe(&json!({"email": "victim@example.com", "topics": ["llm"]}))
            .await;
        assert_eq!(r.status(), 202, "the same answer every time");
    }
    app.smtp.wait_for("victim@example.com", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.smtp.to("victim@example.com").len(), 2);
    // Per client: two more addresses use up the client's 4, the next gets none.
    for e in ["a1@example.com", "a2@example.com", "a3@example.com"] {
        assert_eq!(
            app.api_subscribe(&json!({"email": e, "topics": ["llm"]}))
                .await
                .status(),
            202
        );
    }
    app.smtp.wait_for("a2@example.com", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.smtp.all().len(), 4);
    assert!(app.smtp.to("a3@example.com").is_empty());
    assert!(
        app.subscriber("a3@example.com").await.is_some(),
        "the request itself is kept"
    );
}

async fn unconfirmed_expire_and_suppressed_stay_suppressed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // An unconfirmed sign-up older than the link's validity is removed.
    let r = app
        .api_subscribe(&json!({"email": "late@example.com", "topics": ["llm"]}))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(app.subs.purge_expired().await.unwrap(), 0, "still valid");
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        app.ctx.store.delete_expired_pending(now + 1).await.unwrap(),
        1
    );
    assert!(app.subscriber("late@example.com").await.is_none());

    // A suppressed address (hard bounce) stays suppressed when someone re-subscribes it...
    let confirmed = app
        .subscribe_and_confirm("bounced@example.com", &[("topics", "llm")])
        .await;
    let s = app.subscriber("bounced@example.com").await.unwrap();
    app.ctx
        .store
        .suppress(s.id, "550 mailbox unavailable", now)
        .await
        .unwrap();
    let r = app
        .api_subscribe(&json!({"email": "bounced@example.com", "topics": ["robotics"]}))
        .await;
    assert_eq!(r.status(), 202);
    let s = app.subscriber("bounced@example.com").await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Suppressed);
    // ...and unsubscribing does not lift it...
    let unsub = link_in(&confirmed, "/unsubscribe/");
    reqwest::Client::new()
        .post(&unsub)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.subscriber("bounced@example.com").await.unwrap().status,
        SubscriberStatus::Suppressed
    );
    // ...until its owner confirms again (the third mail: after the first confirmation and
    // its welcome).
    let mails = app.wait_for_mails("bounced@example.com", 3).await;
    let link = link_in(&mails.last().unwrap().text(), "/confirm/");
    let r = app.confirm_by_post(&link).await;
    assert_eq!(r.status(), 200);
    let s = app.subscriber("bounced@example.com").await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert_eq!(s.suppression_reason, None);
}
