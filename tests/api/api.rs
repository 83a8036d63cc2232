//! The JSON API, the OpenAPI document, health and metrics.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Backend, link_in, spawn_app, spawn_app_with};
use crate::on_both_databases;
use reqwest::StatusCode;

on_both_databases!(
    subscription_by_token,
    admin,
    service_endpoints,
    the_document_is_the_contract,
    papers_by_id_link_or_title_words
);

async fn subscription_by_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let r = app
        .api_subscribe(&json!({"email": "api@example.com", "topics": ["llm"], "keywords": "rlhf", "frequency": "weekly", "weekday": "monday"}))
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "check_your_inbox");
    // The same answer for an address that is already known.
    let again: Value = app
        .api_subscribe(&json!({"email": "api@example.com", "topics": ["llm"], "keywords": "rlhf", "frequency": "weekly", "weekday": "monday"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, body);

    let mails = app.smtp.wait_for("api@example.com", 1).await;
    let link = link_in(&mails[0].text(), "/confirm/");
    let page = app.confirm_by_post(&link).await.text().await.unwrap();
    let manage = link_in(&page, "/preferences/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let url = app.url(&format!("/api/v1/subscriptions/{manage}"));

    let (status, view) = app.get_json(&url).await;
    assert_eq!(status, 200);
    assert_eq!(view["email"], "api@example.com");
    assert_eq!(view["status"], "active");
    assert_eq!(view["topics"], json!(["llm"]));
    assert_eq!(view["frequency"], "weekly");
    assert_eq!(view["weekday"], "monday");

    let r = app
        .client
        .put(&url)
        .json(&json!({"topics": ["robotics"], "keywords": "\"world models\"", "delivery_hour": "18", "timezone": "Asia/Tokyo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["topics"], json!(["robotics"]));
    assert_eq!(view["keywords"], json!(["\"world models\""]));
    assert_eq!(view["frequency"], "daily");
    assert_eq!(
        (view["delivery_hour"].as_u64(), view["timezone"].as_str()),
        (Some(18), Some("Asia/Tokyo"))
    );
    // Liked papers, muted authors and the trending dial; a liked-only reader is a reader.
    let r = app
        .client
        .put(&url)
        .json(&json!({"liked": "https://arxiv.org/abs/2405.01234v2 2310.06825", "muted_authors": "Some One", "categories": "cs.RO hep-th", "trending": "70"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["liked"], json!(["2405.01234", "2310.06825"]));
    assert_eq!(view["muted_authors"], json!(["Some One"]));
    assert_eq!(view["trending"], 70);
    assert_eq!(view["categories"], json!(["cs.RO", "hep-th"]));
    for (body, field, says) in [
        (
            json!({"liked": "2405.01234 <script>"}),
            "liked",
            "not an arXiv id",
        ),
        (
            json!({"topics": ["llm"], "trending": "-1"}),
            "trending",
            "0 (all yours) to 100",
        ),
        (
            json!({"topics": ["llm"], "muted_authors": "x".repeat(200)}),
            "muted_authors",
            "longer than",
        ),
    ] {
        let r = app.client.put(&url).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let err: Value = r.json().await.unwrap();
        let msg = err["fields"][field].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{field}: {msg}");
    }
    // The address cannot be changed; a bad field is named.
    let r = app
        .client
        .put(&url)
        .json(&json!({"email": "other@example.com", "topics": ["llm"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .put(&url)
        .json(&json!({"topics": ["llm"], "papers_per_digest": "500"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.unwrap();
    assert!(
        err["fields"]["papers_per_digest"]
            .as_str()
            .unwrap()
            .contains("1 to 50")
    );

    // Delete erases everything.
    assert_eq!(app.client.delete(&url).send().await.unwrap().status(), 204);
    assert!(app.subscriber("api@example.com").await.is_none());
    assert_eq!(app.get_json(&url).await.0, 410);

    // The catalogue.
    let (status, topics) = app.get_json("/api/v1/topics").await;
    assert_eq!(status, 200);
    let topics = topics.as_array().unwrap();
    assert!(topics.len() >= 30);
    assert!(
        topics
            .iter()
            .any(|t| t["id"] == "llm" && t["categories"].as_array().is_some())
    );
}

async fn admin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for i in 0..5 {
        app.api_subscribe(&json!({"email": format!("user{i}@example.com"), "topics": ["llm"]}))
            .await;
    }
    app.subscribe_and_confirm("active_1@example.com", &[("topics", "llm")])
        .await;
    let list = app.url("/api/v1/admin/subscribers");

    assert_eq!(app.get_json(&list).await.0, 401);
    let r = app
        .client
        .get(&list)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let get = |q: &str| {
        app.client
            .get(format!("{list}{q}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };

    let page: Value = get("?limit=4").await.unwrap().json().await.unwrap();
    assert_eq!(page["subscribers"].as_array().unwrap().len(), 4);
    let next = page["next_after"].as_i64().unwrap();
    let page2: Value = get(&format!("?limit=4&after={next}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["subscribers"].as_array().unwrap().len(), 2);
    assert!(page2["next_after"].is_null());

    let active: Value = get("?status=active").await.unwrap().json().await.unwrap();
    let active = active["subscribers"].as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["email"], "active_1@example.com");
    assert_eq!(active[0]["consent_ip"], "127.0.0.1");
    // `_` in the filter is a literal, not a wildcard.
    let by_email: Value = get("?email=e_1").await.unwrap().json().await.unwrap();
    assert_eq!(by_email["subscribers"].as_array().unwrap().len(), 1);
    let by_email: Value = get("?email=USER").await.unwrap().json().await.unwrap();
    assert_eq!(by_email["subscribers"].as_array().unwrap().len(), 5);

    for bad in ["?status=bogus", "?limit=0", "?limit=abc", "?unknown=1"] {
        let r = get(bad).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].is_string());
    }

    let counts: Value = app
        .client
        .get(app.url("/api/v1/admin/counts"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts,
        json!({"pending": 5, "active": 1, "unsubscribed": 0, "suppressed": 0, "total": 6})
    );
}

async fn service_endpoints(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    assert_eq!(app.get_text("/healthz").await.0, 200);

    app.api_subscribe(&json!({"email": "m@example.com", "topics": ["llm"]}))
        .await;
    let (status, metrics) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("paperboy_subscribers{status=\"pending\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("paperboy_http_requests_total"));

    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{token}",
        "/api/v1/topics",
        "/api/v1/admin/subscribers",
        "/api/v1/admin/counts",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["SubscriptionInput"].is_object());

    assert_eq!(app.get_text("/no/such/page").await.0, 404);
    let css = app
        .client
        .get(app.url("/static/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css");
}

/// What the OpenAPI document promises is what the service does: required fields, limits,
/// the token's shape and every field's pattern, tried through HTTP.
async fn the_document_is_the_contract(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);

    // `{}` is not a subscription by the document, and the service says which fields are missing.
    let input = &doc["components"]["schemas"]["SubscriptionInput"];
    assert_eq!(input["required"], json!(["email"]));
    let r = app.api_subscribe(&json!({})).await;
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["fields"]["email"], "enter your email address");
    assert!(
        err["fields"]["topics"]
            .as_str()
            .unwrap()
            .contains("at least one topic")
    );
    // An update may leave the address out.
    assert_eq!(
        doc["components"]["schemas"]["SubscriptionUpdate"]["required"],
        json!([])
    );

    // The topic ids are the catalogue's.
    let (status, topics) = app.get_json("/api/v1/topics").await;
    assert_eq!(status, 200);
    let mut ids: Vec<Value> = topics
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    ids.push(json!(""));
    assert_eq!(
        input["properties"]["topics"]["items"]["enum"],
        Value::Array(ids)
    );

    // Every status an operation can answer is documented; a few that once were not.
    let statuses = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses("/api/v1/subscriptions", "post"),
        ["202", "400", "413", "415", "422", "429", "500"]
    );
    assert_eq!(
        statuses("/api/v1/subscriptions/{token}", "put"),
        ["200", "400", "404", "410", "413", "415", "422", "500"]
    );
    // A token of the documented shape that this service did not sign names nothing: 404.
    for (path, methods) in [
        (
            "/api/v1/subscriptions/{token}",
            &["get", "put", "delete"][..],
        ),
        (
            "/api/v1/subscriptions/{token}/ratings/{arxiv_id}",
            &["put", "delete"][..],
        ),
    ] {
        for method in methods {
            let documented = statuses(path, method);
            assert!(
                documented.contains(&"404".to_string()) && documented.contains(&"410".to_string()),
                "{method} {path}: {documented:?}"
            );
        }
    }
    assert_eq!(
        statuses("/api/v1/admin/subscribers", "get"),
        ["200", "400", "401", "404", "500"]
    );
    assert_eq!(
        statuses("/api/v1/admin/suppressions/{email}", "put"),
        ["200", "400", "401", "404", "413", "415", "422", "500"]
    );

    // `limit` is a query parameter of 1 to 1000, and one above is refused, not capped.
    let limit = doc["paths"]["/api/v1/admin/subscribers"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            &limit["in"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&json!("query"), &json!(1), &json!(1000))
    );
    let list = |q: &str| {
        app.client
            .get(app.url(&format!("/api/v1/admin/subscribers{q}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    assert_eq!(list("?limit=1000").await.unwrap().status(), 200);
    for q in ["?limit=1001", "?limit=9223372036854775807", "?limit=-1"] {
        let r = list(q).await.unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"], "limit must be from 1 to 1000", "{q}");
    }
    let r = list("?limit=99999999999999999999").await.unwrap();
    assert_eq!(r.status(), 400);

    // The token's pattern: the shape every token has. A token of that shape that this service
    // did not sign names nothing here (404); one of another shape is refused as damaged (400).
    let pattern =
        doc["paths"]["/api/v1/subscriptions/{token}"]["get"]["parameters"][0]["schema"]["pattern"]
            .as_str()
            .unwrap();
    assert_eq!(pattern, paperboy::tokens::TOKEN_PATTERN);
    let pattern = regex::Regex::new(pattern).unwrap();
    let page = app
        .subscribe_and_confirm("contract@example.com", &[("topics", "llm")])
        .await;
    let manage = link_in(&page, "/preferences/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(pattern.is_match(&manage), "{manage}");
    let unsigned = format!("{}w", "A".repeat(65));
    let last_bits_set = format!("{}B", &manage[..65]);
    for (token, says) in [
        (unsigned.as_str(), "not issued by this service"),
        (last_bits_set.as_str(), "incomplete or damaged"),
        (&manage[..65], "incomplete or damaged"),
        ("A", "incomplete or damaged"),
    ] {
        assert_eq!(pattern.is_match(token), token == unsigned, "{token}");
        let (status, err) = app
            .get_json(&format!("/api/v1/subscriptions/{token}"))
            .await;
        let want = if token == unsigned { 404 } else { 400 };
        assert_eq!(status, want, "{token}");
        assert!(
            err["error"].as_str().unwrap().contains(says),
            "{token}: {err}"
        );
    }
    // So for every operation on it, whatever else the request holds.
    let rating = format!("{unsigned}/ratings/2605.05242");
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            unsigned.as_str(),
            Some(json!({"topics": ["llm"]})),
        ),
        (reqwest::Method::DELETE, unsigned.as_str(), None),
        (
            reqwest::Method::PUT,
            rating.as_str(),
            Some(json!({"rating": "more"})),
        ),
        (reqwest::Method::DELETE, rating.as_str(), None),
    ] {
        let mut r = app.client.request(
            method.clone(),
            app.url(&format!("/api/v1/subscriptions/{path}")),
        );
        if let Some(body) = &body {
            r = r.json(body);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let err: Value = r.json().await.unwrap();
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains("not issued by this service"),
            "{method} {path}: {err}"
        );
    }

    // Each field's pattern or list of values says yes exactly where the service does.
    let url = app.url(&format!("/api/v1/subscriptions/{manage}"));
    let samples: &[(&str, &[&str])] = &[
        (
            "keywords",
            &[
                "a \"b c\" -d",
                "\"unclosed",
                "-\"x",
                "a\"b \"c",
                "ab\"",
                "x\u{1}y",
                "x\ty",
                "\"a\"\"b",
                "--\"x",
                "a,b\r\nc",
            ],
        ),
        (
            "liked",
            &[
                "2405.01234v2.pdf",
                "hep-th/9901001",
                "https://arxiv.org/abs/2310.06825 2405.01234",
                "2405.123",
                "x",
                "2405.01234;2405.01235",
            ],
        ),
        (
            "categories",
            &[
                "cs.RO;hep-th",
                "c",
                "cs.toolongclass",
                "-cs",
                "CS.ro stat.ML",
            ],
        ),
        (
            "authors",
            &["Ada Lovelace; Alan Turing", "A\u{1}", "A\u{b}B", "A\u{85}B"],
        ),
        ("trending", &[" 100 ", "+7", "101", "-1", "", "0"]),
        ("delivery_hour", &["23", "24", "007", "x"]),
        ("papers_per_digest", &["50", "0", "51", "1"]),
        ("timezone", &["Europe/Berlin", "Mars/Base", ""]),
        ("frequency", &["daily", "hourly", " daily "]),
    ];
    for (field, values) in samples {
        let schema = &input["properties"][*field];
        for value in *values {
            let by_schema = match (schema["pattern"].as_str(), schema["enum"].as_array()) {
                (Some(p), _) => regex::Regex::new(p).unwrap().is_match(value),
                (None, Some(values)) => values.contains(&json!(value)),
                _ => panic!("{field} has neither a pattern nor a list of values"),
            };
            let r = app
                .client
                .put(&url)
                .json(&json!({"topics": ["llm"], *field: value}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            if by_schema {
                assert_eq!(status, 200, "{field} {value:?}: {body}");
            } else {
                assert_eq!(status, 422, "{field} {value:?}: {body}");
                assert!(
                    body["fields"][*field].is_string(),
                    "{field} {value:?}: {body}"
                );
            }
        }
    }
}

/// The paper search behind the sign-up form's "Papers you liked": by arXiv id or link, or by
/// words of the title; hostile and oversized queries answered clearly; rate-limited.
async fn papers_by_id_link_or_title_words(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("limits.posts_per_minute", 60.into()),
            ("limits.post_burst", 30.into()),
        ],
    )
    .await
    else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    let find = |q: &str| {
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let request = app
            .client
            .get(format!("{}/api/v1/papers?q={encoded}", app.base));
        async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let titles = |v: &serde_json::Value| -> Vec<String> {
        v["papers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_string())
            .collect()
    };
    // Words of a title: every hit holds each word, case aside, at most 10.
    let (status, body) = find("Agentic SEARCH").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hits = titles(&body);
    assert!(!hits.is_empty() && hits.len() <= 10, "{body}");
    assert!(hits.iter().all(|t| {
        let t = t.to_lowercase();
        t.contains("agentic") && t.contains("search")
    }));
    assert!(hits.contains(
        &"Beyond Semantic Similarity: Rethinking Retrieval for Agentic Search via Direct Corpus Interaction"
            .to_string()
    ));
    // The id or a link to it: that paper alone, with its link.
    for q in [
        "2605.05242",
        "https://arxiv.org/abs/2605.05242v1",
        "https://huggingface.co/papers/2605.05242",
    ] {
        let (status, body) = find(q).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["papers"].as_array().unwrap().len(), 1, "{q}: {body}");
        assert_eq!(body["papers"][0]["id"], "2605.05242");
        assert_eq!(
            body["papers"][0]["link"],
            "https://arxiv.org/abs/2605.05242"
        );
    }
    // Nothing stored by that id, no title with every word, or no word at all (what a box
    // sends as typing starts; LIKE's wildcards are no words): an empty list.
    for q in [
        "2101.00001",
        "agentic galaxies",
        "' OR 1=1; DROP TABLE papers --",
        "%_%",
        "",
        " - ",
        "a",
    ] {
        let (status, body) = find(q).await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        assert_eq!(titles(&body), Vec::<String>::new(), "{q}");
    }
    // The quote was a word separator, nothing more: every paper is still there.
    assert_eq!(app.ctx.store.paper_count().await.unwrap(), 37);
    // A short word is looked for inside words ("or" in "Kolmogorov"): never more than 10.
    let (_, body) = find("or").await;
    assert_eq!(titles(&body).len(), 10);
    // Markup is searched as words and comes back as JSON data, never as a page.
    let r = app
        .client
        .get(format!(
            "{}/api/v1/papers?q=%3Cscript%3Ealert(1)%3C/script%3E",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // Missing, too long, or unknown parameters: 400 saying what to do.
    for (path, says) in [
        ("/api/v1/papers", "q"),
        ("/api/v1/papers?q=diffusion&limit=5", "limit"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }
    let (status, body) = find(&"diffusion ".repeat(1000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("200 at most"),
        "{body}"
    );
    // A form that searched on every keystroke, without end: refused after the burst.
    let mut refused = 0;
    for _ in 0..40 {
        let r = app
            .client
            .get(format!("{}/api/v1/papers?q=diffusion", app.base))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            refused += 1;
        }
    }
    assert!(refused > 0, "40 searches at once were all answered");
}
