//! The whole subscriber lifecycle through HTTP with a real SMTP server receiving the mail.

use paperboy::domain::{Frequency, SubscriberStatus};

use crate::helpers::{Backend, link_in, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    lifecycle,
    preferences_round_trip,
    already_subscribed_gets_a_manage_link
);

async fn lifecycle(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = "ada.lovelace+papers@example.com";

    // The front page: a form with topics from the catalogue.
    let front = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(front.status(), 200);
    assert!(
        front.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(front.headers()["referrer-policy"], "no-referrer");
    let html = front.text().await.unwrap();
    assert!(
        !html.contains("Please correct"),
        "no error banner on a fresh form"
    );
    assert!(html.contains("<label for=\"email\">"), "labelled fields");
    assert!(
        html.contains(r#"value="llm""#) || html.contains("name=\"topics\""),
        "topic checkboxes"
    );

    // Subscribe.
    let r = app
        .subscribe_form(&[
            ("email", "Ada.Lovelace+papers@Example.com"),
            ("topics", "llm"),
            ("keywords", "diffusion \"graph neural network\""),
        ])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    let s = app.subscriber(email).await.expect("stored");
    assert_eq!(s.status, SubscriberStatus::Pending);
    assert_eq!(s.email.as_str(), email, "normalised to lower case");
    assert_eq!(
        s.interests.keywords,
        ["diffusion", "\"graph neural network\""]
    );
    assert_eq!(s.consent_ip.as_deref(), Some("127.0.0.1"));

    // The confirmation mail: both parts, the link, no user text.
    let mails = app.smtp.wait_for(email, 1).await;
    let mail = &mails[0];
    let parsed = mail.parsed();
    assert!(
        parsed
            .subject()
            .unwrap()
            .starts_with("Confirm your subscription")
    );
    assert_eq!(
        parsed.from().unwrap().first().unwrap().address().unwrap(),
        "digest@paperboy.test"
    );
    let text = mail.text();
    let html = mail.html();
    let link = link_in(&text, "/confirm/");
    assert!(link.starts_with(&app.base));
    assert!(html.contains(&link), "the HTML part carries the same link");
    assert!(
        !text.contains("graph neural network") && !html.contains("diffusion"),
        "no user-supplied text in the mail"
    );

    // Following the link (as a mail scanner would) confirms nobody.
    let (status, page) = app.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-autosubmit"));
    assert_eq!(
        app.subscriber(email).await.unwrap().status,
        SubscriberStatus::Pending
    );

    // The POST, with the page's form token, confirms.
    assert!(page.contains("name=\"form_token\""));
    let r = app.post_form(&link, &[]).await;
    assert_eq!(r.status(), 200);
    let confirmed = r.text().await.unwrap();
    assert!(confirmed.contains("You are subscribed"));
    let s = app.subscriber(email).await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert!(s.confirmed_at.is_some());

    // The page carries preferences and unsubscribe links.
    let prefs = link_in(&confirmed, "/preferences/");
    let unsub = link_in(&confirmed, "/unsubscribe/");
    assert_eq!(app.get_text(&prefs).await.0, 200);

    // The unsubscribe page only shows a button; GET changes nothing.
    let (status, page) = app.get_text(&unsub).await;
    assert_eq!(status, 200);
    assert!(page.contains("<button type=\"submit\">Unsubscribe</button>"));
    assert_eq!(
        app.subscriber(email).await.unwrap().status,
        SubscriberStatus::Active
    );

    // RFC 8058 one-click: a POST with that body, from a client with no cookie.
    let mail_client = reqwest::Client::new();
    let r = mail_client
        .post(&unsub)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = app.subscriber(email).await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert!(s.unsubscribed_at.is_some());
    // Unsubscribing twice is harmless.
    assert_eq!(
        mail_client
            .post(&unsub)
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The old confirmation link no longer re-subscribes.
    let r = app.confirm_by_post(&link).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        app.subscriber(email).await.unwrap().status,
        SubscriberStatus::Unsubscribed
    );

    // Re-subscribing works: pending, a new mail, confirmed again.
    let page = app.subscribe_and_confirm(email, &[("topics", "llm")]).await;
    assert!(page.contains("You are subscribed"));
    assert_eq!(
        app.subscriber(email).await.unwrap().status,
        SubscriberStatus::Active
    );
    // Each confirmation with its welcome.
    assert_eq!(app.smtp.to(email).len(), 4);
}

async fn preferences_round_trip(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = "grace@example.org";
    let confirmed = app
        .subscribe_and_confirm(email, &[("topics", "llm"), ("keywords", "transformers")])
        .await;
    let prefs = link_in(&confirmed, "/preferences/");

    // The page shows the stored values.
    let (status, page) = app.get_text(&prefs).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"value="transformers""#));
    assert!(page.contains(email));

    let form = [
        ("topics", "llm"),
        ("topics", "robotics"),
        ("keywords", "\"world model\" -medical"),
        ("authors", "Sergey Levine\nChelsea Finn"),
        ("liked", "arXiv:2310.06825v1\n2405.01234"),
        ("muted_authors", "Some One"),
        ("trending", "0"),
        ("frequency", "weekly"),
        ("weekday", "friday"),
        ("delivery_hour", "9"),
        ("timezone", "Europe/Berlin"),
        ("papers_per_digest", "5"),
        ("send_when_empty", "on"),
    ];
    let r = app.post_form(&prefs, &form).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Saved."));
    let s = app.subscriber(email).await.unwrap();
    assert_eq!(
        s.interests
            .topics
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["llm", "robotics"]
    );
    assert_eq!(s.interests.keywords, ["\"world model\"", "-medical"]);
    assert_eq!(s.interests.authors, ["Sergey Levine", "Chelsea Finn"]);
    assert_eq!(
        s.interests
            .liked
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
        ["2310.06825", "2405.01234"]
    );
    assert_eq!(
        (s.interests.muted_authors.as_slice(), s.interests.trending),
        (&["Some One".to_string()][..], 0)
    );
    // The page shows them back.
    let (status, page) = app.get_text(&prefs).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("2310.06825\n2405.01234</textarea>"),
        "liked shown"
    );
    assert!(page.contains(r#"name="trending" min="0" max="100" step="10" value="0""#));
    assert_eq!(s.prefs.frequency, Frequency::Weekly(chrono::Weekday::Fri));
    assert_eq!(
        (
            s.prefs.hour,
            s.prefs.timezone.name(),
            s.prefs.papers_per_digest,
            s.prefs.send_when_empty
        ),
        (9, "Europe/Berlin", 5, true)
    );

    // A bad value: 422, the page again with the message and the typed values, nothing saved.
    let r = app
        .post_form(
            &prefs,
            &[
                ("topics", "llm"),
                ("keywords", "kept"),
                ("timezone", "Mars/Olympus"),
                ("delivery_hour", "7"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("unknown time zone"));
    assert!(page.contains(r#"value="kept""#));
    assert_eq!(
        app.subscriber(email).await.unwrap().prefs.timezone.name(),
        "Europe/Berlin"
    );
}

async fn already_subscribed_gets_a_manage_link(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = "hopper@example.net";
    app.subscribe_and_confirm(email, &[("topics", "llm")]).await;
    let before = app.subscriber(email).await.unwrap();
    // Someone else submits the same address with other interests: same answer, nothing changes.
    let r = app
        .subscribe_form(&[("email", email), ("keywords", "spam")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    let after = app.subscriber(email).await.unwrap();
    assert_eq!(after.interests, before.interests);
    // The owner gets a mail with their preferences link, and list headers (after the
    // confirmation and the welcome).
    let mails = app.smtp.wait_for(email, 3).await;
    let mail = mails.last().unwrap();
    let text = mail.text();
    assert!(text.contains("already subscribed"));
    let prefs = link_in(&text, "/preferences/");
    assert_eq!(app.get_text(&prefs).await.0, 200);
    let raw = String::from_utf8_lossy(&mail.data);
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
}

/// With no SMTP relay configured, mail is written as .eml files: nothing is lost.
#[tokio::test]
async fn without_a_relay_mail_becomes_eml_files() {
    let app = spawn_app_with(Backend::Sqlite, &[("smtp_url", "".into())])
        .await
        .unwrap();
    let r = app
        .api_subscribe(&serde_json::json!({"email": "files@example.com", "topics": ["llm"]}))
        .await;
    assert_eq!(r.status(), 202);
    let folder = app.ctx.mailer.file_folder.clone().expect("a mail folder");
    // The delivery worker writes it a moment after the answer.
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for _ in 0..200 {
        files = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(&files[0]).unwrap();
    let mail = crate::helpers::Received {
        from: String::new(),
        to: vec!["files@example.com".into()],
        data: raw,
    };
    assert!(link_in(&mail.text(), "/confirm/").starts_with(&app.base));
    assert!(app.smtp.all().is_empty());
}
