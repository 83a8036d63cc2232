//! "Preview my papers" on the sign-up form and the preferences page: what the typed interests would have got from the
//! latest stored day, rendered by the server, nothing stored; hostile input escaped; a POST
//! with the form's token, rate-limited per client.

use reqwest::StatusCode;

use crate::helpers::{Backend, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(the_form_previews_the_papers_and_stores_nothing);

async fn the_form_previews_the_papers_and_stores_nothing(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("limits.posts_per_minute", 60.into()),
            ("limits.post_burst", 12.into()),
        ],
    )
    .await
    else {
        return;
    };
    let token = app.form_token("/").await;
    let preview = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![("form_token", token.clone())];
        form.extend(fields);
        let request = app.client.post(app.url("/preview")).form(&form);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.text().await.unwrap())
        }
    };
    let keywords = |k: &str| vec![("keywords", k.to_string()), ("trending", "0".into())];

    // No papers stored yet: said so.
    let (status, page) = preview(keywords("diffusion")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("No papers are stored"), "{page}");

    app.ingest_hf_day("2026-05-08");
    // The day's papers for these keywords, each with why; no address needed, none stored.
    let (status, page) = preview(keywords("diffusion")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Friday 8 May 2026"), "{page}");
    assert!(
        page.contains("Why: Matches your keywords: diffusion"),
        "{page}"
    );
    assert!(page.matches("<li>").count() >= 2, "{page}");
    assert_eq!(
        app.ctx
            .store
            .counts_by_status()
            .await
            .unwrap()
            .iter()
            .map(|c| c.1)
            .sum::<i64>(),
        0
    );
    // Interests nothing matches: said so, with what to do.
    let (status, page) = preview(keywords("galaxy")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Nothing matched"), "{page}");

    // Hostile input: markup is escaped wherever it is shown back.
    let (_, page) = preview(keywords("<script>alert(1)</script> diffusion")).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    // 10 KB of keywords and an unknown topic: the form again, 422, saying what is wrong.
    let many: Vec<String> = (0..1500).map(|i| format!("word{i}")).collect();
    let many = many.join(" ");
    assert!(many.len() > 10_000);
    let (status, page) = preview(keywords(&many)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"keywords-error\""), "{page}");
    let (status, page) = preview(vec![
        ("topics", "no-such-topic\"><script>x()</script>".into()),
        ("trending", "0".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"topics-error\""), "{page}");
    assert!(!page.contains("<script>x()"), "{page}");
    // No form token: refused, nothing done.
    let r = app
        .client
        .post(app.url("/preview"))
        .form(&[("keywords", "diffusion")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A script refreshing the preview without end: refused after the burst.
    let mut refused = 0;
    for _ in 0..20 {
        let (status, _) = preview(keywords("diffusion")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused > 0, "20 previews at once were all answered");
}

on_both_databases!(a_preview_keeps_up_with_what_is_stored);

/// Previews are answered from a composer kept between requests: a paper stored and featured
/// on the same day afterwards is in the next preview.
async fn a_preview_keeps_up_with_what_is_stored(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let token = app.form_token("/").await;
    let preview = |keywords: &str| {
        let form = [
            ("form_token", token.clone()),
            ("keywords", keywords.to_string()),
            ("trending", "0".into()),
        ];
        let request = app.client.post(app.url("/preview")).form(&form);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    app.ingest_hf_day("2026-05-08");
    let page = preview("zebrafish").await;
    assert!(page.contains("Nothing matched"), "{page}");
    let page = preview("diffusion").await;
    assert!(
        page.contains("Why: Matches your keywords: diffusion"),
        "{page}"
    );

    // The same day again, with one paper more (a copy of one, retitled).
    let title = "Zebrafish larvae swim by reinforcement";
    app.ingest_hf_copy("2605.05242", "2605.99999", Some(title), "2026-05-08");
    let page = preview("zebrafish").await;
    assert!(page.contains(title), "{page}");
    assert!(
        page.contains("Why: Matches your keywords: zebrafish"),
        "{page}"
    );
}

on_both_databases!(the_preferences_page_previews_for_its_reader);

/// The preferences page's "Preview my papers" posts to the reader's own preview: valid
/// interests give the papers, invalid ones the preferences page again (not the sign-up
/// form), saying what is wrong and saving nothing; a forged manage link changes nothing.
async fn the_preferences_page_previews_for_its_reader(backend: Backend) {
    use crate::helpers::link_in;
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let email = "prefs-preview@example.org";
    let confirmed = app
        .subscribe_and_confirm(email, &[("keywords", "galaxy"), ("trending", "0")])
        .await;
    let prefs = link_in(&confirmed, "/preferences/");
    let (_, page) = app.get_text(&prefs).await;
    let token = prefs.rsplit('/').next().unwrap().to_string();
    let action = format!("/preferences/{token}/preview");
    assert!(page.contains(&format!("formaction=\"{action}\"")), "{page}");
    app.ingest_hf_day("2026-05-08");
    let r = app
        .post_form_to(
            &prefs,
            &action,
            &[("keywords", "diffusion"), ("trending", "0")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Why: Matches your keywords: diffusion"),
        "{page}"
    );
    // Invalid: the preferences page, 422, with the field's error; nothing saved.
    let r = app
        .post_form_to(
            &prefs,
            &action,
            &[
                ("topics", "no-such-topic<script>x()</script>"),
                ("trending", "0"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("<h1>Your preferences</h1>"), "{page}");
    assert!(page.contains("id=\"topics-error\""), "{page}");
    assert!(!page.contains("<script>x()"), "{page}");
    // Neither preview saved anything: the reader still follows "galaxy" alone.
    let kept = format!("{:?}", app.subscriber(email).await.unwrap().interests);
    assert!(
        kept.contains("galaxy") && !kept.contains("diffusion"),
        "{kept}"
    );
    // A forged token: refused.
    let r = app
        .post_form_to(
            &prefs,
            "/preferences/forged/preview",
            &[("keywords", "diffusion")],
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
}
