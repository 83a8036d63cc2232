//! The console's import (`/admin/import`): an uploaded CSV file is run as a dry run and its
//! report shown, changing nothing; a button imports that same file for real, once, in the
//! audit log as the operator's. Bad files, posts without the form token and uploads over
//! the limit are refused with what to do, and change nothing.

use reqwest::StatusCode;

use paperboy::domain::SubscriberStatus;

use crate::console::{PASSWORD, set_password, sign_in};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, between, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    an_upload_is_dry_run_then_imported_as_shown,
    bad_uploads_are_refused_and_change_nothing
);

/// A part of a multipart form: its name, a file name for a file, and its bytes.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// POST `parts` to `path` as a browser's multipart form, with `client`'s cookies.
async fn post_parts(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let boundary = "----paperboy-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    client
        .post(app.url(path))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The upload form as the page sends it: the form token first, then the file and options.
async fn upload(
    app: &TestApp,
    csv: &[u8],
    mode: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, String) {
    let token = app.form_token("/admin/import").await;
    let mut parts: Vec<Part<'_>> = vec![
        ("form_token", None, token.as_bytes()),
        ("file", Some("list.csv"), csv),
        ("mode", None, mode.as_bytes()),
    ];
    parts.extend(extra.iter().map(|(k, v)| (*k, None, v.as_bytes())));
    let r = post_parts(app, &app.client, "/admin/import", &parts).await;
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// The report's table: (outcome, rows), in order; and the refused rows' lines.
fn table(page: &str) -> (Vec<(String, u64)>, Vec<u64>) {
    let body = between(page, "<tbody>", "</tbody>").unwrap_or_default();
    let outcomes = body
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let (label, rest) = row.split_once("</td><td>").unwrap();
            let n = rest.split('<').next().unwrap().parse().unwrap();
            (label.to_string(), n)
        })
        .collect();
    let refused = page
        .split("<li>line ")
        .skip(1)
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect();
    (outcomes, refused)
}

/// Every reader as (address, status), sorted.
async fn readers(app: &TestApp) -> Vec<(String, SubscriberStatus)> {
    let mut all: Vec<(String, SubscriberStatus)> = app
        .ctx
        .store
        .list(&paperboy::store::ListFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.email.as_str().to_string(), s.status))
        .collect();
    all.sort();
    all
}

/// The imports in the audit log, newest first: (actor, actor kind, subject, result).
fn imports(app: &TestApp) -> Vec<(String, String, String, String)> {
    crate::audit::audit(app, &["--action", "import"])
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("actor"), s("actor_kind"), s("subject"), s("after"))
        })
        .collect()
}

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

async fn an_upload_is_dry_run_then_imported_as_shown(backend: Backend) {
    let Some(app) = signed_in(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = crate::cli::paperboy(
        &app.ctx.config.database_url,
        dir.path(),
        &[
            "subscribers",
            "add",
            "here@example.com",
            "--keywords",
            "agents",
        ],
    );
    assert!(ok, "{out}{err}");
    let (status, page) = app.get_text("/admin/import").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<a href=\"/admin/import\">Import</a>"),
        "{page}"
    );
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");

    let before = readers(&app).await;
    let csv = "email,keywords,consented_at,name\n\
               new@example.com,graph neural networks,2026-01-02,New\n\
               Here@Example.com,diffusion,2026-01-02,Here\n\
               formula@example.com,=HYPERLINK(\"http://x\"),2026-01-02,F\n\
               noconsent@example.com,agents,,N\n\
               asked@example.com,,2026-01-02,A\n";
    let (status, dry) = upload(
        &app,
        csv.as_bytes(),
        "confirmed",
        &[("source", "the lab's sheet"), ("default_topics", "llm")],
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert!(dry.contains("Dry run: nothing changed yet"), "{dry}");
    assert!(
        dry.contains("email, keywords, consented_at, name (ignored)"),
        "{dry}"
    );
    let (outcomes, refused) = table(&dry);
    assert_eq!(
        outcomes,
        [
            ("new, active".to_string(), 2),
            ("already here, active: left as it is".to_string(), 1),
            ("refused (below, by line)".to_string(), 2),
        ],
        "{dry}"
    );
    assert_eq!(refused, [4, 5], "{dry}");
    assert!(
        dry.contains("line 4: column keywords starts like a spreadsheet formula"),
        "{dry}"
    );
    assert!(dry.contains("line 5: no consented_at"), "{dry}");
    // The cell is shown as text, never as markup.
    assert!(!dry.contains("HYPERLINK(\"http"), "{dry}");
    assert_eq!(readers(&app).await, before, "the dry run changed readers");
    assert!(imports(&app).is_empty(), "a dry run is in the audit log");
    let upload_id = between(&dry, "name=\"upload\" value=\"", "\"").expect("an import button");

    // The real run needs the form token.
    let r = app
        .client
        .post(app.url("/admin/import/confirm"))
        .form(&[("upload", upload_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(readers(&app).await, before);

    // Another operator cannot run ada's upload; it stays hers.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let page = other.get(app.url("/admin/sign-in")).send().await.unwrap();
    let token = between(
        &page.text().await.unwrap(),
        "name=\"form_token\" value=\"",
        "\"",
    )
    .unwrap();
    let r = other
        .post(app.url("/admin/sign-in"))
        .form(&[
            ("form_token", token.as_str()),
            ("name", ""),
            ("password", ADMIN_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = other.get(app.url("/admin/import")).send().await.unwrap();
    let token = between(
        &page.text().await.unwrap(),
        "name=\"form_token\" value=\"",
        "\"",
    )
    .unwrap();
    let r = other
        .post(app.url("/admin/import/confirm"))
        .form(&[
            ("form_token", token.as_str()),
            ("upload", upload_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("another operator"));
    assert_eq!(readers(&app).await, before);

    // Imported for real: what the dry run said, with its options.
    let token = app.form_token("/admin/import").await;
    let confirm = [
        ("form_token", token.as_str()),
        ("upload", upload_id.as_str()),
    ];
    let r = app
        .client
        .post(app.url("/admin/import/confirm"))
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.text().await.unwrap();
    assert!(done.contains("<h2>Imported</h2>"), "{done}");
    assert_eq!(
        table(&done),
        table(&dry),
        "the dry run said otherwise:\n{done}"
    );
    assert!(!done.contains("name=\"upload\""), "{done}");
    let new = app.subscriber("new@example.com").await.unwrap();
    assert_eq!(new.status, SubscriberStatus::Active);
    assert_eq!(
        new.consent_source.as_deref(),
        Some("import of the lab's sheet")
    );
    let asked = app.subscriber("asked@example.com").await.unwrap();
    assert_eq!(asked.interests.topics.len(), 1, "the default topic");
    assert!(app.subscriber("formula@example.com").await.is_none());
    assert_eq!(
        imports(&app),
        [(
            "ada".to_string(),
            "console".to_string(),
            "the lab's sheet".to_string(),
            imports(&app)[0].3.clone()
        )]
    );
    assert!(
        imports(&app)[0].3.contains("5 rows as confirmed"),
        "{:?}",
        imports(&app)
    );

    // Once: the button again imports nothing twice.
    let r = app
        .client
        .post(app.url("/admin/import/confirm"))
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.text().await.unwrap().contains("upload the file again"));
    assert_eq!(imports(&app).len(), 1);
    assert_eq!(
        std::fs::read_dir(app.ctx.config.data_dir.join("imports"))
            .unwrap()
            .count(),
        0,
        "the upload is left on the server"
    );
}

async fn bad_uploads_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = signed_in(backend).await else {
        return;
    };
    let before = readers(&app).await;
    let good = b"email,keywords,consented_at\nada@example.com,graphs,2026-01-02\n";

    // Without the form token, with a forged one, or with it after the file: refused first.
    let token = app.form_token("/admin/import").await;
    for parts in [
        vec![
            ("file", Some("a.csv"), &good[..]),
            ("mode", None, b"confirmed"),
        ],
        vec![
            ("form_token", None, &b"forged"[..]),
            ("file", Some("a.csv"), good),
            ("mode", None, b"confirmed"),
        ],
        vec![
            ("file", Some("a.csv"), good),
            ("form_token", None, token.as_bytes()),
            ("mode", None, b"confirmed"),
        ],
    ] {
        let r = post_parts(&app, &app.client, "/admin/import", &parts).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // Not a multipart body at all.
    let r = app
        .client
        .post(app.url("/admin/import"))
        .form(&[("form_token", token.as_str()), ("mode", "confirmed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Files that cannot be read, parts missing, a mode that is none: the form again, with why.
    let mut formula_only = b"email,keywords\n".to_vec();
    formula_only.extend_from_slice(b"=cmd|' /C calc'!A0,x\n");
    for (csv, mode, says) in [
        (&b""[..], "confirmed", "the file is empty"),
        (
            b"em\xffail,keywords\nada@example.com,x\n",
            "confirmed",
            "not UTF-8",
        ),
        (
            b"ada@example.com,graphs\nbob@example.com,agents\n",
            "confirmed",
            "no column of addresses",
        ),
        (good, "later", "unknown import mode"),
        (good, "", "unknown import mode"),
    ] {
        let (status, page) = upload(&app, csv, mode, &[]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{says}: {page}");
        assert!(page.contains(says), "{says}: {page}");
        assert!(page.contains("class=\"error\" role=\"alert\""), "{page}");
        assert!(!page.contains("name=\"upload\""), "{page}");
    }
    let token = app.form_token("/admin/import").await;
    for (parts, says) in [
        (
            vec![
                ("form_token", None, token.as_bytes()),
                ("mode", None, &b"confirmed"[..]),
            ],
            "No file was sent",
        ),
        (
            vec![
                ("form_token", None, token.as_bytes()),
                ("file", Some("a.csv"), good),
            ],
            "Choose what the file is",
        ),
    ] {
        let r = post_parts(&app, &app.client, "/admin/import", &parts).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(page.contains(says), "{says}: {page}");
    }
    // A file of refused rows only: the report, and nothing to import.
    let (status, page) = upload(&app, &formula_only, "suppressed", &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Nothing to import: every row is refused"),
        "{page}"
    );
    assert!(!page.contains("name=\"upload\""), "{page}");

    // A 10 MB line and a Latin-1 row: refused by line, the good row still counted.
    let mut csv = b"email,keywords,consented_at\nz\xfcrich@example.com,graph,2026-01-02\n".to_vec();
    csv.extend_from_slice(b"big@example.com,");
    csv.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    csv.extend_from_slice(b",2026-01-02\ngood@example.com,graph,2026-01-02\n");
    let (status, page) = upload(&app, &csv, "confirmed", &[]).await;
    assert_eq!(status, 200);
    assert!(
        page.len() < 100_000,
        "the page repeats the row: {} bytes",
        page.len()
    );
    let (outcomes, refused) = table(&page);
    assert_eq!(refused, [2, 3], "{page}");
    assert_eq!(outcomes[0], ("new, active".to_string(), 1), "{page}");
    assert!(page.contains("bytes long"), "{page}");

    // Over the limit: 413, with what to do.
    let mut huge = b"email,keywords\n".to_vec();
    while huge.len() <= 21 * 1024 * 1024 {
        huge.extend_from_slice(b"someone@example.com,graph neural networks and agents\n");
    }
    let token = app.form_token("/admin/import").await;
    let r = post_parts(
        &app,
        &app.client,
        "/admin/import",
        &[
            ("form_token", None, token.as_bytes()),
            ("mode", None, b"confirmed"),
            ("file", Some("huge.csv"), &huge),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = r.text().await.unwrap();
    assert!(page.contains("larger than 20 MB"), "{page}");
    assert!(page.contains("paperboy subscribers import"), "{page}");

    // A kept upload's id that is no upload.
    let token = app.form_token("/admin/import").await;
    for id in ["../../secret", "", "AAAAAAAAAAAAAAAAAAAAAA"] {
        let r = app
            .client
            .post(app.url("/admin/import/confirm"))
            .form(&[("form_token", token.as_str()), ("upload", id)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::GONE, "{id}");
    }

    assert_eq!(
        readers(&app).await,
        before,
        "a refused upload changed readers"
    );
    assert!(imports(&app).is_empty());
}
