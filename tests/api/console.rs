//! The operator's console (`/admin`): no page without a session; sign-in by an operator's
//! password (set from the CLI) or the admin token, rate-limited; a session cookie that
//! scripts cannot read and other sites cannot send; every POST needs the form token.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, link_in, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    the_console_needs_a_session_and_every_post_a_form_token,
    an_operator_finds_a_reader_lifts_a_suppression_and_erases_one
);

/// Every address the console's router serves but the sign-in form, read from its source
/// (`{id}` as 1).
fn console_routes() -> Vec<String> {
    let source = include_str!("../../src/web/console/mod.rs");
    let consts = [("SIGN_IN", "/admin/sign-in")];
    let mut out = Vec::new();
    for part in source.split(".route(").skip(1) {
        let first = part.trim_start();
        let path = if let Some(rest) = first.strip_prefix('"') {
            rest.split('"').next().unwrap().to_string()
        } else {
            let name = first.split([',', ' ']).next().unwrap();
            let (_, path) = consts
                .iter()
                .find(|(c, _)| *c == name)
                .unwrap_or_else(|| panic!("a route under an unknown name {name}"));
            path.to_string()
        };
        if path != "/admin/sign-in" {
            out.push(path.replace("{id}", "1").replace("{day}", "2026-05-08"));
        }
    }
    out
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// `paperboy operator set-password NAME` with `password` on standard input.
pub(crate) fn set_password(app: &TestApp, name: &str, password: &str) -> (bool, String, String) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["operator", "set-password", name])
        .env("PAPERBOY_DATABASE_URL", &app.ctx.config.database_url)
        .env("PAPERBOY_DATA_DIR", dir.path())
        .env("PAPERBOY_SECRET", crate::helpers::SECRET)
        .env("PAPERBOY_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

pub(crate) async fn sign_in(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    let token = app.form_token("/admin/sign-in").await;
    app.client
        .post(app.url("/admin/sign-in"))
        .form(&[
            ("form_token", token.as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) fn location(r: &reqwest::Response) -> &str {
    r.headers()
        .get(LOCATION)
        .map_or("", |v| v.to_str().unwrap())
}

/// A client of its own (no cookies kept), sending `cookie` as it is.
async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn the_console_needs_a_session_and_every_post_a_form_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Without a session, every console address sends to the form, and changes nothing.
    // The addresses are read from the router's own source, so a new page is walked too.
    let routes = console_routes();
    assert!(routes.len() >= 10, "{routes:?}");
    for path in &routes {
        let mut redirected = 0;
        for method in ["GET", "POST"] {
            let r = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{method} {path}");
            assert_eq!(location(&r), "/admin/sign-in", "{method} {path}");
            redirected += 1;
        }
        assert!(redirected > 0, "{path} answers neither GET nor POST");
    }
    // A reader's manage token is not a session.
    app.subscribe_and_confirm("reader@example.com", &[("keywords", "agents")])
        .await;
    let mail = app.smtp.to("reader@example.com").last().unwrap().text();
    let manage = link_in(&mail, "/preferences/");
    let token = manage
        .trim_start_matches("/preferences/")
        .split(['/', '?'])
        .next()
        .unwrap();
    for cookie in [
        format!("pb_admin={token}"),
        format!("pb_admin={}", "A".repeat(43)),
    ] {
        let r = get_with_cookie(&app, "/admin", &cookie).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{cookie}");
    }

    // Operators are made on the server; a short password is refused.
    let (ok, _, err) = set_password(&app, "ada", "short");
    assert!(!ok && err.contains("at least 12 characters"), "{err}");
    let (ok, _, err) = set_password(&app, "admin token", PASSWORD);
    assert!(!ok && err.contains("operator name"), "{err}");
    let (ok, out, err) = set_password(&app, "ada", PASSWORD);
    assert!(ok, "{err}");
    assert!(out.contains("operator ada created"), "{out}");

    // A wrong password, or a name that does not exist, gets the same answer.
    for (name, password) in [("ada", "not the password!"), ("bob", PASSWORD)] {
        let r = sign_in(&app, name, password).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(r.text().await.unwrap().contains("Wrong name or password"));
    }
    // A sign-in without the form token (a cross-site POST) is refused before anything.
    let r = app
        .client
        .post(app.url("/admin/sign-in"))
        .form(&[("name", "ada"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin");
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("pb_admin="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    // Plain http here: a base URL with https makes it Secure too.
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The dashboard reads the figures the daily job counts.
    app.services
        .stats
        .refresh(paperboy::clock::timestamp())
        .await
        .unwrap();
    let (status, page) = app.get_text("/admin").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in as ada"), "{page}");
    assert!(page.contains("<td>active</td><td>1</td>"), "{page}");

    // Signing out needs the form token too: without it the session stays.
    let r = app
        .client
        .post(app.url("/admin/sign-out"))
        .form(&[("form_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_text("/admin").await.0, 200);
    let token = app.form_token("/admin").await;
    let r = app
        .client
        .post(app.url("/admin/sign-out"))
        .form(&[("form_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/sign-in");
    let r = get_with_cookie(&app, "/admin", &cookie).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the old cookie still opens the console"
    );

    // The admin token signs in with no name.
    let r = sign_in(&app, "", ADMIN_TOKEN).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get_text("/admin").await;
    assert!(page.contains("Signed in as admin token"), "{page}");

    // Each step is in the audit log, with where it came from.
    let log = crate::audit::audit(&app, &[]);
    let steps: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps[..4],
        [
            ("sign_in", "admin token"),
            ("sign_out", "ada"),
            ("sign_in", "ada"),
            ("set_password", steps[3].1),
        ],
        "{log:#?}"
    );
    assert_eq!(log[2]["actor_kind"], "console");
    assert_eq!(log[2]["origin"], "127.0.0.1");
}

/// Five attempts a minute from one address; then even the right password waits.
#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let (ok, _, err) = set_password(&app, "ada", PASSWORD);
    assert!(ok, "{err}");
    for i in 0..5 {
        let r = sign_in(&app, "ada", "not the password!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(r.text().await.unwrap().contains("Too many attempts"));
}

pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn an_operator_finds_a_reader_lifts_a_suppression_and_erases_one(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    let run = |args: &[&str]| {
        let (ok, out, err) = crate::cli::paperboy(&url, dir.path(), args);
        assert!(ok, "{args:?}: {out}{err}");
    };
    run(&[
        "subscribers",
        "add",
        "ada@example.com",
        "--keywords",
        "agents",
    ]);
    run(&["subscribers", "add", "bob@example.com", "--topics", "llm"]);
    run(&[
        "suppressions",
        "add",
        "bob@example.com",
        "--reason",
        "bounced twice",
    ]);
    // Enough readers for a second page.
    for i in 0..50 {
        let input = paperboy::domain::SubscriptionInput {
            email: format!("many{i:02}@example.org"),
            keywords: "graphs".into(),
            ..Default::default()
        };
        let new = app.subs.parse(&input).unwrap();
        app.subs
            .add_confirmed(&crate::helpers::operator(), &new)
            .await
            .unwrap();
    }
    let (ok, _, err) = set_password(&app, "ada", PASSWORD);
    assert!(ok, "{err}");
    assert_eq!(
        sign_in(&app, "ada", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let bob = app.subscriber("bob@example.com").await.unwrap();

    // Search by state and by address; page by page.
    let (status, page) = app.get_text("/admin/readers?status=suppressed").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("bob@example.com") && !page.contains("ada@example.com"),
        "{page}"
    );
    // The address by its start (its index serves it), in any case; not its middle.
    let (_, page) = app.get_text("/admin/readers?email=Many0").await;
    assert_eq!(
        page.matches("<tr><td><a href=\"/admin/readers/").count(),
        10,
        "{page}"
    );
    let (_, page) = app.get_text("/admin/readers?email=example.org").await;
    assert!(page.contains("No reader matches."), "{page}");
    let (_, page) = app.get_text("/admin/readers?email=ADA@").await;
    assert!(
        page.contains("ada@example.com") && !page.contains("bob@"),
        "{page}"
    );
    let (_, first) = app.get_text("/admin/readers").await;
    assert_eq!(
        first.matches("<tr><td><a href=\"/admin/readers/").count(),
        50,
        "{first}"
    );
    let next = first
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/admin/readers?email=&amp;status=&amp;topic=&amp;after="))
        .or_else(|| {
            first
                .split("href=\"")
                .find_map(|s| s.strip_prefix("/admin/readers?email=&status=&topic=&after="))
        })
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no next page link in {first}"));
    let (_, second) = app.get_text(&format!("/admin/readers?after={next}")).await;
    assert_eq!(
        second.matches("<tr><td><a href=\"/admin/readers/").count(),
        2,
        "{second}"
    );
    for bad in ["/admin/readers?status=gone", "/admin/readers?after=x"] {
        assert_eq!(app.get_text(bad).await.0, 400, "{bad}");
    }
    assert_eq!(app.get_text("/admin/readers/999999").await.0, 404);

    // A reader's page: their interests, consent and what happened to them.
    let path = format!("/admin/readers/{}", bob.id);
    let (status, page) = app.get_text(&path).await;
    assert_eq!(status, 200, "{page}");
    for says in [
        "signed up",
        "confirmed",
        "suppressed: by the operator: bounced twice",
        "llm",
    ] {
        assert!(page.contains(says), "{says} not on\n{page}");
    }
    // Lifting needs the form token; then bob is active again.
    let lift = format!("{path}/lift");
    assert_eq!(
        post_form(&app, &lift, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.subscriber("bob@example.com").await.unwrap().status,
        paperboy::domain::SubscriberStatus::Suppressed
    );
    let token = app.form_token(&path).await;
    let r = post_form(&app, &lift, &[("form_token", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), path);
    assert_eq!(
        app.subscriber("bob@example.com").await.unwrap().status,
        paperboy::domain::SubscriberStatus::Active
    );
    assert_eq!(
        post_form(&app, &lift, &[("form_token", &token)])
            .await
            .status(),
        StatusCode::CONFLICT
    );

    // Suppressing by hand, with a reason, as `paperboy suppressions add` does; twice is
    // refused and the first reason stays.
    let suppress = format!("{path}/suppress");
    let token = app.form_token(&path).await;
    assert_eq!(
        post_form(&app, &suppress, &[("reason", "x")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = post_form(
        &app,
        &suppress,
        &[("form_token", &token), ("reason", "spam trap")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let now = app.subscriber("bob@example.com").await.unwrap();
    assert_eq!(now.status, paperboy::domain::SubscriberStatus::Suppressed);
    assert_eq!(
        now.suppression_reason.as_deref(),
        Some("by the operator: spam trap")
    );
    let r = post_form(
        &app,
        &suppress,
        &[("form_token", &token), ("reason", "again")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Adding a reader the operator vouches for: only with the consent ticked, a valid
    // address, not one already there.
    let token = app.form_token("/admin/readers").await;
    for (fields, status) in [
        (
            vec![("email", "cy@example.com"), ("topics", "llm")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![("email", "not an address"), ("consent", "yes")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![
                ("email", "cy@example.com"),
                ("topics", "no-such-topic"),
                ("consent", "yes"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![
                ("email", "ADA@example.com"),
                ("keywords", "agents"),
                ("consent", "yes"),
            ],
            StatusCode::CONFLICT,
        ),
    ] {
        let mut all = vec![("form_token", token.as_str())];
        all.extend(fields.iter().copied());
        let r = post_form(&app, "/admin/readers", &all).await;
        assert_eq!(r.status(), status, "{fields:?}");
    }
    assert!(app.subscriber("cy@example.com").await.is_none());
    let r = post_form(
        &app,
        "/admin/readers",
        &[
            ("form_token", &token),
            ("email", "cy@example.com"),
            ("topics", "llm, robotics"),
            ("keywords", "\"world model\""),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cy = app.subscriber("cy@example.com").await.unwrap();
    assert_eq!(location(&r), format!("/admin/readers/{}", cy.id));
    assert_eq!(cy.status, paperboy::domain::SubscriberStatus::Active);
    assert_eq!(cy.interests.topics.len(), 2, "{:?}", cy.interests);
    assert!(
        app.smtp.to("cy@example.com").is_empty(),
        "a vouched-for reader is sent no confirmation"
    );

    // Erasing asks for the address typed out.
    let erase = format!("{path}/erase");
    let token = app.form_token(&path).await;
    let r = post_form(&app, &erase, &[("form_token", &token), ("confirm", "bob")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.subscriber("bob@example.com").await.is_some());
    let r = post_form(
        &app,
        &erase,
        &[("form_token", &token), ("confirm", " Bob@Example.com ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.subscriber("bob@example.com").await.is_none());
    assert_eq!(app.get_text(&path).await.0, 404);
    // An erased address is not added back by an operator.
    let token = app.form_token("/admin/readers").await;
    let r = post_form(
        &app,
        "/admin/readers",
        &[
            ("form_token", &token),
            ("email", "bob@example.com"),
            ("keywords", "agents"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(app.subscriber("bob@example.com").await.is_none());

    // Each is in the audit log as the console's, by the operator signed in.
    let log = crate::audit::audit(&app, &["--actor", "console"]);
    let steps: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("erase", "ada"),
            ("add", "ada"),
            ("suppress", "ada"),
            ("lift", "ada"),
            ("sign_in", "ada")
        ],
        "{log:#?}"
    );
    // And on the console's own page, filtered the same way.
    let (status, page) = app.get_text("/admin/audit?actor=console").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page.matches("<td>console ada (127.0.0.1)</td>").count(),
        5,
        "{page}"
    );
    assert!(page.contains(&format!("subscriber {}", bob.id)), "{page}");
    assert!(
        !page.contains("bob@example.com"),
        "the erased address is on the page: {page}"
    );
    let (_, lifts) = app.get_text("/admin/audit?action=lift").await;
    assert_eq!(lifts.matches("<td>lift</td>").count(), 1, "{lifts}");
    for bad in [
        "/admin/audit?action=delete",
        "/admin/audit?actor=root",
        "/admin/audit?before=x",
    ] {
        assert_eq!(app.get_text(bad).await.0, 400, "{bad}");
    }
}
