//! The operator's actions on a reader in the console: unsubscribe, resubscribe (only by a
//! confirmation mail), send the confirmation mail again (within the sign-up's limits), export
//! what is stored about them, their digests on their page; readers searched by topic. Each
//! change is in the audit log, needs the form token, and a wrong state changes nothing.

use paperboy::domain::SubscriberStatus;
use reqwest::StatusCode;
use reqwest::header::CONTENT_DISPOSITION;

use crate::console::{PASSWORD, location, post_form, set_password, sign_in};
use crate::helpers::{Backend, TestApp, link_in, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    an_operator_unsubscribes_a_reader_asks_them_back_and_resends_a_confirmation,
    a_suppressed_or_erased_reader_is_not_asked_back,
    an_operator_exports_a_reader_sees_their_digests_and_searches_by_topic
);

async fn signed_in(backend: Backend) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    let (ok, _, err) = set_password(&app, "ada", PASSWORD);
    assert!(ok, "{err}");
    assert_eq!(
        sign_in(&app, "ada", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    Some(app)
}

/// POST the reader page's form `action` (with the page's form token).
async fn press(app: &TestApp, id: i64, action: &str) -> reqwest::Response {
    let page = format!("/admin/readers/{id}");
    let token = app.form_token(&page).await;
    post_form(app, &format!("{page}/{action}"), &[("form_token", &token)]).await
}

async fn status(app: &TestApp, email: &str) -> SubscriberStatus {
    app.subscriber(email).await.unwrap().status
}

/// `paperboy` with `args` on the app's database; it must succeed. Its output.
fn run(app: &TestApp, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = crate::cli::paperboy(&app.ctx.config.database_url, dir.path(), args);
    assert!(ok, "{args:?}: {out}{err}");
    out
}

async fn an_operator_unsubscribes_a_reader_asks_them_back_and_resends_a_confirmation(
    backend: Backend,
) {
    let Some(app) = signed_in(backend).await else {
        return;
    };
    let ada = "ada@example.com";
    app.subscribe_and_confirm(ada, &[("topics", "llm")]).await;
    let id = app.subscriber(ada).await.unwrap().id;
    let page = format!("/admin/readers/{id}");
    let (_, text) = app.get_text(&page).await;
    assert!(
        text.contains(&format!("action=\"{page}/unsubscribe\""))
            && !text.contains("/resubscribe\"")
            && !text.contains("/resend-confirmation\""),
        "{text}"
    );

    // Without the form token (a cross-site POST) nothing happens.
    for action in ["unsubscribe", "resubscribe", "resend-confirmation"] {
        let r = post_form(&app, &format!("{page}/{action}"), &[]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
        let r = post_form(
            &app,
            &format!("{page}/{action}"),
            &[("form_token", "forged")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(status(&app, ada).await, SubscriberStatus::Active);

    // Unsubscribe: back to the reader's page, unsubscribed.
    let r = press(&app, id, "unsubscribe").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), page);
    assert_eq!(status(&app, ada).await, SubscriberStatus::Unsubscribed);
    // Not twice, and not a confirmation mail to someone who left.
    for (action, says) in [
        ("unsubscribe", "unsubscribed already"),
        ("resend-confirmation", "resubscribe them instead"),
    ] {
        let r = press(&app, id, action).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{action}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{action}: {text}");
    }
    let (_, text) = app.get_text(&page).await;
    assert!(
        text.contains(&format!("action=\"{page}/resubscribe\"")) && text.contains("unsubscribed"),
        "{text}"
    );

    // Resubscribe: pending and a confirmation mail, through the sign-up's own mail; active
    // only when they confirm.
    let before = app.smtp.to(ada).len();
    let r = press(&app, id, "resubscribe").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), page);
    assert_eq!(status(&app, ada).await, SubscriberStatus::Pending);
    let mails = app.wait_for_mails(ada, before + 1).await;
    let mail = mails.last().unwrap();
    assert!(
        mail.parsed()
            .subject()
            .unwrap()
            .starts_with("Confirm your subscription"),
        "{:?}",
        mail.parsed().subject()
    );
    assert_eq!(status(&app, ada).await, SubscriberStatus::Pending);
    let r = app
        .confirm_by_post(&link_in(&mail.text(), "/confirm/"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, ada).await, SubscriberStatus::Active);

    // A pending reader gets their confirmation mail again, as often as a sign-up may ask
    // (three an hour an address, the sign-up's included), then not.
    let bob = "bob@example.com";
    let r = app
        .subscribe_form(&[("email", bob), ("topics", "agents")])
        .await;
    assert_eq!(r.status(), 200);
    app.wait_for_mails(bob, 1).await;
    let bob_id = app.subscriber(bob).await.unwrap().id;
    for n in 2..=3 {
        let r = press(&app, bob_id, "resend-confirmation").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "mail {n}");
        let mails = app.wait_for_mails(bob, n).await;
        let subject = mails
            .last()
            .unwrap()
            .parsed()
            .subject()
            .unwrap()
            .to_string();
        assert!(
            subject.starts_with("Confirm your subscription"),
            "{subject}"
        );
    }
    let r = press(&app, bob_id, "resend-confirmation").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let text = r.text().await.unwrap();
    assert!(text.contains("Try again in an hour"), "{text}");
    let stored = app.ctx.store.subscription_mails_of(bob_id).await.unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(status(&app, bob).await, SubscriberStatus::Pending);
    // A pending reader is offered no resubscribe.
    assert_eq!(
        press(&app, bob_id, "resubscribe").await.status(),
        StatusCode::CONFLICT
    );

    // Each change in the audit log, by the operator in the console; the refusals are not.
    let log = crate::audit::audit(&app, &["--actor", "console"]);
    let steps: Vec<(&str, &str, &str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["subject"].as_str().unwrap_or(""),
                e["before"].as_str().unwrap_or(""),
                e["after"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let asked = "pending: confirmation mail queued";
    assert_eq!(
        steps,
        [
            ("resend_confirmation", bob, "pending", asked),
            ("resend_confirmation", bob, "pending", asked),
            ("resubscribe", ada, "unsubscribed", asked),
            ("unsubscribe", ada, "active", "unsubscribed"),
            ("sign_in", "ada", "", ""),
        ],
        "{log:#?}"
    );
    assert!(log.iter().all(|e| e["actor"] == "ada"), "{log:#?}");
    let (_, listed) = app.get_text("/admin/audit?action=resubscribe").await;
    assert_eq!(
        listed.matches("<td>resubscribe</td>").count(),
        1,
        "{listed}"
    );
}

async fn a_suppressed_or_erased_reader_is_not_asked_back(backend: Backend) {
    let Some(app) = signed_in(backend).await else {
        return;
    };
    // Suppressed after a bounce (here by hand): no mail at all, a confirmation neither.
    let bob = "bob@example.com";
    run(&app, &["subscribers", "add", bob, "--topics", "agents"]);
    run(
        &app,
        &["suppressions", "add", bob, "--reason", "hard bounce"],
    );
    let bob_id = app.subscriber(bob).await.unwrap().id;
    let (_, text) = app.get_text(&format!("/admin/readers/{bob_id}")).await;
    assert!(
        text.contains("not possible. The reader is suppressed") && !text.contains("/resubscribe\""),
        "{text}"
    );
    for action in ["resubscribe", "resend-confirmation", "unsubscribe"] {
        let r = press(&app, bob_id, action).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{action}");
        assert!(r.text().await.unwrap().contains("suppressed"), "{action}");
        assert_eq!(status(&app, bob).await, SubscriberStatus::Suppressed);
    }
    assert!(
        app.ctx
            .store
            .subscription_mails_of(bob_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Erased at the owner's request, then signed up by the form and left before confirming:
    // the erasure still stands (only their confirmation ends it), so no operator asks back.
    let carol = "carol@example.com";
    run(&app, &["subscribers", "add", carol, "--keywords", "agents"]);
    run(&app, &["subscribers", "remove", carol]);
    let r = app
        .subscribe_form(&[("email", carol), ("keywords", "agents")])
        .await;
    assert_eq!(r.status(), 200);
    app.wait_for_mails(carol, 1).await;
    let carol_id = app.subscriber(carol).await.unwrap().id;
    assert!(
        app.ctx
            .store
            .unsubscribe(carol_id, paperboy::clock::timestamp())
            .await
            .unwrap()
    );
    let (_, text) = app.get_text(&format!("/admin/readers/{carol_id}")).await;
    assert!(
        text.contains("not possible.") && text.contains("was erased at its owner"),
        "{text}"
    );
    let r = press(&app, carol_id, "resubscribe").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(status(&app, carol).await, SubscriberStatus::Unsubscribed);
    assert_eq!(
        app.ctx
            .store
            .subscription_mails_of(carol_id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Nothing refused is in the audit log.
    let log = crate::audit::audit(&app, &["--actor", "console"]);
    assert!(log.iter().all(|e| e["action"] == "sign_in"), "{log:#?}");
}

async fn an_operator_exports_a_reader_sees_their_digests_and_searches_by_topic(backend: Backend) {
    let Some(app) = signed_in(backend).await else {
        return;
    };
    let ada = "ada@example.com";
    app.subscribe_and_confirm(ada, &[("topics", "llm"), ("keywords", "diffusion")])
        .await;
    let id = app.subscriber(ada).await.unwrap().id;

    // The export: the CLI's JSON for the address, as a file.
    let r = app
        .client
        .get(app.url(&format!("/admin/readers/{id}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[CONTENT_DISPOSITION],
        format!("attachment; filename=\"reader-{id}.json\"").as_str()
    );
    let exported: serde_json::Value = r.json().await.unwrap();
    let cli: serde_json::Value =
        serde_json::from_str(&run(&app, &["subscribers", "export", "--email", ada])).unwrap();
    assert_eq!(exported, cli);
    assert_eq!(exported[0]["email"], ada);
    assert_eq!(exported[0]["topics"][0], "llm");
    assert_eq!(
        exported[0]["confirmation_mails"].as_array().unwrap().len(),
        1
    );
    // Recorded as an export, by the console's operator (the CLI's own export too).
    let log = crate::audit::audit(&app, &["--action", "export"]);
    let by: Vec<(&str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["actor_kind"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, [("cli", ada), ("console", ada)], "{log:#?}");
    assert_eq!(log[1]["actor"], "ada");
    assert_eq!(log[1]["after"], "1 reader(s)");

    // Their digests on their page, each with its papers and a link to it as sent.
    app.ingest_hf_day("2026-05-08");
    run(&app, &["digest", "compose", "--date", "2026-05-08"]);
    let digest = app
        .ctx
        .store
        .digest_for(id, chrono::NaiveDate::from_ymd_opt(2026, 5, 8).unwrap())
        .await
        .unwrap()
        .expect("a digest for ada");
    let page = format!("/admin/readers/{id}");
    let (_, text) = app.get_text(&page).await;
    let view = format!("{page}/digests/2026-05-08");
    assert!(
        text.contains(&format!("href=\"{view}\"")) && text.contains("digest of 2026-05-08: "),
        "{text}"
    );
    for e in &digest.content.entries {
        assert!(text.contains(e.paper.as_str()), "{} not on {text}", e.paper);
    }
    let (status, html) = app.get_text(&view).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(digest.content.entries[0].paper.as_str()),
        "{html}"
    );
    assert_eq!(
        app.get_text(&format!("{page}/digests/2026-05-09")).await.0,
        404
    );
    assert_eq!(
        app.get_text(&format!("{page}/digests/yesterday")).await.0,
        404
    );

    // Search by topic: readers who ticked it, not those with the word as a keyword; a page
    // at a time, the next page keeping the topic.
    let add = |email: String, topics: &str, keywords: &str| {
        let input = paperboy::domain::SubscriptionInput {
            email,
            topics: topics
                .split(',')
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
            keywords: keywords.into(),
            ..Default::default()
        };
        let new = app.subs.parse(&input).unwrap();
        let subs = app.subs.clone();
        async move {
            subs.add_confirmed(&crate::helpers::operator(), &new)
                .await
                .unwrap()
        }
    };
    add("word@example.com".into(), "", "llm").await;
    add("agent@example.com".into(), "agents", "").await;
    for i in 0..50 {
        add(format!("many{i:02}@example.org"), "agents,llm", "").await;
    }
    let (status, text) = app.get_text("/admin/readers?topic=llm").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text.matches("<tr><td><a href=\"/admin/readers/").count(),
        50,
        "{text}"
    );
    assert!(text.contains(ada) && !text.contains("word@") && !text.contains("agent@"));
    let next = text
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/admin/readers?"))
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no next page in {text}"))
        .replace("&amp;", "&");
    assert!(next.contains("topic=llm"), "{next}");
    let (_, second) = app.get_text(&format!("/admin/readers?{next}")).await;
    assert_eq!(
        second.matches("<tr><td><a href=\"/admin/readers/").count(),
        1,
        "{second}"
    );
    assert!(second.contains("many49@"), "{second}");
    let (_, text) = app
        .get_text("/admin/readers?topic=agents&email=agent@")
        .await;
    assert!(
        text.contains("agent@example.com") && !text.contains("many"),
        "{text}"
    );
    assert_eq!(
        app.get_text("/admin/readers?topic=Not%20a%20topic").await.0,
        400
    );
}
