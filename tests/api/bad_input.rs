//! Malformed, hostile and oversized input: each with its expected answer, and the
//! database checked afterwards.

use paperboy::tokens::{Purpose, Signer};
use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, link_in, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    addresses,
    hostile_text,
    oversized_and_malformed_bodies,
    forged_and_expired_tokens,
    concurrent_subscribes_make_one_subscriber
);

async fn addresses(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let refused = [
        "",
        "plainaddress",
        "@example.com",
        "ada@",
        "ada@@example.com",
        "a..b@example.com",
        "ada@localhost",
        "ada@[127.0.0.1]",
        "ada@exa mple.com",
        "\"ada lovelace\"@example.com",
        "ada@example.com\r\nBcc: victim@example.org",
        "ada@example.com\nSubject: hi",
        "ada@example.com>, <victim@example.org",
        "用户@例子.广告",
    ];
    let long = format!("{}@example.com", "a".repeat(300));
    for email in refused.iter().copied().chain([long.as_str()]) {
        let r = app
            .api_subscribe(&json!({"email": email, "topics": ["llm"]}))
            .await;
        assert_eq!(r.status(), 422, "{email:?}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["fields"]["email"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{email:?}: {body}"
        );
    }
    assert_eq!(app.count().await, 0, "nothing stored");
    assert!(app.smtp.all().is_empty(), "nothing sent");

    // Accepted, normalised.
    let accepted = [
        ("Ada+Papers@Example.COM", "ada+papers@example.com"),
        ("info@bücher.example", "info@xn--bcher-kva.example"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("  padded@example.com  ", "padded@example.com"),
    ];
    for (input, stored) in accepted {
        let r = app
            .api_subscribe(&json!({"email": input, "topics": ["llm"]}))
            .await;
        assert_eq!(r.status(), 202, "{input:?}");
        assert!(app.subscriber(stored).await.is_some(), "{stored}");
        app.smtp.wait_for(stored, 1).await;
    }
    assert_eq!(app.count().await, 4);

    // The form shows the message next to the field and keeps what was typed.
    let r = app
        .subscribe_form(&[("email", "not-an-address"), ("keywords", "kept words")])
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"email-error\""));
    assert!(page.contains("value=\"not-an-address\""));
    assert!(page.contains("value=\"kept words\""));
}

async fn hostile_text(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // XSS in keywords and authors: stored as text, escaped on every page.
    let xss = "<script>alert(1)</script>";
    let r = app
        .subscribe_form(&[
            ("email", "bad address"),
            ("keywords", xss),
            ("authors", "\"><img src=x onerror=alert(1)>"),
        ])
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "raw script echoed");
    assert!(!page.contains("<img src=x"), "raw tag echoed");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );

    // SQL metacharacters are data.
    let sql = "'; DROP TABLE subscribers; --";
    let confirmed = app
        .subscribe_and_confirm("robert@example.com", &[("keywords", sql), ("authors", xss)])
        .await;
    let s = app.subscriber("robert@example.com").await.unwrap();
    assert_eq!(s.interests.keywords, ["drop", "table", "subscribers;"]);
    assert_eq!(s.interests.authors, [xss]);
    let (status, prefs_page) = app.get_text(&link_in(&confirmed, "/preferences/")).await;
    assert_eq!(status, 200);
    assert!(!prefs_page.contains("<script>alert"));
    assert!(prefs_page.contains("&lt;script&gt;"));

    // Unknown topics and a topic id with markup.
    for topic in ["no-such-topic", "<b>llm</b>", "LLM"] {
        let r = app
            .api_subscribe(&json!({"email": "t@example.com", "topics": [topic]}))
            .await;
        assert_eq!(r.status(), 422, "{topic}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["fields"]["topics"]
                .as_str()
                .unwrap()
                .contains("unknown topic")
        );
    }
    // No interests at all.
    let r = app.api_subscribe(&json!({"email": "t@example.com"})).await;
    assert_eq!(r.status(), 422);
    // Control characters in a keyword; an unclosed quote.
    for kw in ["a\u{0007}b", "\"open phrase"] {
        let r = app
            .api_subscribe(&json!({"email": "t@example.com", "keywords": kw}))
            .await;
        assert_eq!(r.status(), 422, "{kw:?}");
    }
    assert!(app.subscriber("t@example.com").await.is_none());
    assert_eq!(app.count().await, 1);
}

async fn oversized_and_malformed_bodies(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Oversized: refused before parsing.
    let huge = "k ".repeat(600_000);
    let r = app
        .api_subscribe(&json!({"email": "big@example.com", "keywords": huge}))
        .await;
    assert_eq!(r.status(), 413);
    let r = app
        .subscribe_form(&[("email", "big@example.com"), ("keywords", &huge)])
        .await;
    assert_eq!(r.status(), 413);
    // Long but within the body limit: a clear field error.
    let long_kw = "x".repeat(500);
    let r = app
        .api_subscribe(&json!({"email": "big@example.com", "keywords": long_kw}))
        .await;
    assert_eq!(r.status(), 422);

    // Malformed JSON, wrong types, unknown fields, wrong content type.
    let post = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/v1/subscriptions"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    for (body, ct, status) in [
        ("{\"email\": ", "application/json", 400),
        ("not json at all", "application/json", 400),
        ("{\"email\": 42}", "application/json", 422),
        (
            "{\"email\": \"a@example.com\", \"admin\": true}",
            "application/json",
            422,
        ),
        ("[]", "application/json", 422),
        // The fields in order, as serde reads a struct from an array: not the object asked for.
        (
            "[\"array@example.com\", [\"llm\"]]",
            "application/json",
            422,
        ),
        (
            "email=a@example.com",
            "application/x-www-form-urlencoded",
            415,
        ),
    ] {
        let r = post(body, ct).await.unwrap();
        assert_eq!(r.status(), status, "{body}");
        let json: Value = r.json().await.unwrap();
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {json}"
        );
    }
    // A form body that is not urlencoded.
    let r = app
        .client
        .post(app.url("/subscribe"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(app.count().await, 0);
}

async fn forged_and_expired_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let confirmed = app
        .subscribe_and_confirm("linus@example.com", &[("topics", "llm")])
        .await;
    let before = app.subscriber("linus@example.com").await.unwrap();
    let prefs = link_in(&confirmed, "/preferences/");
    let good = prefs.rsplit('/').next().unwrap().to_string();
    let signer = Signer::new(SECRET.as_bytes());
    let now = chrono::Utc::now().timestamp();
    let mut flipped = good.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let foreign_key = Signer::new(b"someone else's key, someone else's key");

    for (path, purpose) in [
        ("preferences", Purpose::Manage),
        ("unsubscribe", Purpose::Unsubscribe),
        ("api/v1/subscriptions", Purpose::Manage),
    ] {
        let cases = [
            ("garbage".to_string(), 400, "not valid"),
            ("%00%0d%0a".to_string(), 400, "not valid"),
            ("A".repeat(5000), 400, "not valid"),
            // Of a token's shape but not signed here: it names nothing here.
            (flipped.clone(), 404, "not issued by this service"),
            (
                foreign_key.sign(purpose, &before.public_id, now, 3600),
                404,
                "not issued by this service",
            ),
            (
                signer.sign(Purpose::Form, &before.public_id, now, 3600),
                400,
                "not valid",
            ),
            (
                signer.sign(purpose, &before.public_id, now - 400 * 86400, 86400),
                410,
                "expired",
            ),
            (
                signer.sign(purpose, &paperboy::tokens::new_public_id(), now, 3600),
                410,
                "no longer exists",
            ),
        ];
        for (token, status, words) in cases {
            let url = app.url(&format!("/{path}/{token}"));
            let (got, body) = app.get_text(&url).await;
            assert_eq!(got, status, "GET {path} {token:.20}");
            assert!(body.contains(words), "{path} {token:.20}");
            let r = if path.starts_with("api") {
                app.client.delete(&url).send().await.unwrap()
            } else {
                reqwest::Client::new()
                    .post(&url)
                    .form(&[("List-Unsubscribe", "One-Click"), ("keywords", "x")])
                    .send()
                    .await
                    .unwrap()
            };
            assert_eq!(r.status(), status, "POST/DELETE {path} {token:.20}");
            let (got, _) = app.get_text(&format!("/confirm/{token}")).await;
            assert!(got.is_client_error(), "confirm {token:.20}: {got}");
        }
    }
    // Why a link is not valid is said once, after the title, on a page and in the API.
    let foreign = foreign_key.sign(Purpose::Manage, &before.public_id, now, 3600);
    let (_, err) = app
        .get_json(&format!("/api/v1/subscriptions/{foreign}"))
        .await;
    assert_eq!(
        err["error"],
        "This link is not valid: It was not issued by this service. Nothing has been changed."
    );
    let (_, page) = app.get_text(&format!("/preferences/{foreign}")).await;
    assert!(
        page.contains("It was not issued by this service. Nothing has been changed."),
        "{page}"
    );
    assert_eq!(
        page.matches("not valid").count(),
        2,
        "the title and the heading: {page}"
    );
    let confirm_token = signer.sign(Purpose::Confirm, &before.public_id, now, 3600);
    // A confirmation token does not open the preferences, nor unsubscribe.
    for path in ["preferences", "unsubscribe", "api/v1/subscriptions"] {
        let (status, _) = app.get_text(&format!("/{path}/{confirm_token}")).await;
        assert_eq!(status, 400, "{path}");
    }
    let after = app.subscriber("linus@example.com").await.unwrap();
    assert_eq!(before, after, "nothing changed");
}

async fn concurrent_subscribes_make_one_subscriber(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let url = app.url("/api/v1/subscriptions");
        tasks.push(tokio::spawn(async move {
            let body = json!({"email": "same@example.com", "keywords": format!("kw{i}")});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 202);
    }
    assert_eq!(app.count().await, 1);
    let s = app.subscriber("same@example.com").await.unwrap();
    assert_eq!(s.status, paperboy::domain::SubscriberStatus::Pending);
    // A pending address gets at most a few confirmation mails an hour, whatever is submitted.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let n = app.smtp.to("same@example.com").len();
    assert!((1..=3).contains(&n), "{n} confirmation mails");
}
