//! "More like this / fewer like this": the store's rules (latest wins, a bound per reader,
//! opposite ratings in quick succession cancel), the links of a digest received through a
//! real SMTP server (fetching them records nothing; the page's POST does), tokens that must
//! change nothing, the preferences page, the JSON API and the export, and a hidden paper
//! that is never sent.

use chrono::NaiveDate;
use paperboy::domain::{ArxivId, Rating, SubscriberStatus};
use paperboy::store::RateOutcome;
use paperboy::tokens::Purpose;
use reqwest::StatusCode;

use crate::cli::paperboy;
use crate::helpers::{Backend, TestApp, between, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    the_store_keeps_the_latest_rating_and_a_bounded_number,
    a_digest_carries_rating_links_that_only_a_post_follows,
    a_hidden_paper_is_never_sent,
    ratings_through_the_api_and_the_export,
    a_reason_names_the_liked_paper,
    papers_hidden_through_one_interest_offer_to_drop_it
);

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

/// A confirmed reader added as an operator would (no mail).
async fn reader(app: &TestApp, email: &str, keywords: &str) -> paperboy::domain::Subscriber {
    let input = paperboy::domain::SubscriptionInput {
        email: email.into(),
        keywords: keywords.into(),
        ..Default::default()
    };
    let new = app.subs.parse(&input).unwrap();
    app.subs
        .add_confirmed(&crate::helpers::operator(), &new)
        .await
        .unwrap();
    app.subscriber(email).await.unwrap()
}

async fn the_store_keeps_the_latest_rating_and_a_bounded_number(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let store = &app.ctx.store;
    let r = reader(&app, "rater@example.com", "agents").await;
    let paper = |i: usize| id(&format!("2605.{:05}", 10_000 + i));
    // Latest wins: one row per paper.
    let first = store
        .rate(r.id, &paper(0), Rating::More, 100, None, 200)
        .await
        .unwrap();
    assert_eq!(first, RateOutcome::Recorded { previous: None });
    let again = store
        .rate(r.id, &paper(0), Rating::Fewer, 101, None, 200)
        .await
        .unwrap();
    assert_eq!(
        again,
        RateOutcome::Recorded {
            previous: Some(Rating::More)
        }
    );
    let stored = store.ratings_of(r.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].rating, stored[0].at), (Rating::Fewer, 101));

    // From a mail link: the opposite rating within the window cancels both out.
    let cancelled = store
        .rate(r.id, &paper(0), Rating::More, 105, Some(10), 200)
        .await
        .unwrap();
    assert_eq!(cancelled, RateOutcome::Cancelled);
    assert!(store.ratings_of(r.id).await.unwrap().is_empty());
    // Outside the window, or the same rating again, it is recorded.
    store
        .rate(r.id, &paper(1), Rating::More, 200, Some(10), 200)
        .await
        .unwrap();
    let later = store
        .rate(r.id, &paper(1), Rating::Fewer, 210, Some(10), 200)
        .await
        .unwrap();
    assert_eq!(
        later,
        RateOutcome::Recorded {
            previous: Some(Rating::More)
        },
        "10 s apart: a change of mind, not a scanner"
    );
    let same = store
        .rate(r.id, &paper(1), Rating::Fewer, 211, Some(10), 200)
        .await
        .unwrap();
    assert_eq!(
        same,
        RateOutcome::Recorded {
            previous: Some(Rating::Fewer)
        }
    );

    // 1,000 ratings by one reader: only the latest 200 are kept.
    for i in 0..1000 {
        let rating = if i % 3 == 0 {
            Rating::Fewer
        } else {
            Rating::More
        };
        store
            .rate(r.id, &paper(i), rating, 1000 + i as i64, None, 200)
            .await
            .unwrap();
    }
    let kept = store.ratings_of(r.id).await.unwrap();
    assert_eq!(kept.len(), 200);
    assert_eq!(kept[0].paper, paper(999), "latest first");
    assert_eq!(kept[199].paper, paper(800));
    assert!(kept.windows(2).all(|w| w[0].at > w[1].at));
    // Several in the same second: the one just stored is never the one dropped.
    for i in 0..3 {
        store
            .rate(r.id, &paper(2000 + i), Rating::More, 5000, None, 200)
            .await
            .unwrap();
        let now = store.ratings_of(r.id).await.unwrap();
        assert_eq!(now.len(), 200);
        assert!(now.iter().any(|p| p.paper == paper(2000 + i)));
    }

    // Removing, and erasing the reader, leave nothing behind.
    assert!(store.remove_rating(r.id, &paper(999)).await.unwrap());
    assert!(!store.remove_rating(r.id, &paper(999)).await.unwrap());
    assert_eq!(store.ratings_of(r.id).await.unwrap().len(), 199);
    assert!(store.delete(r.id).await.unwrap());
    assert!(store.ratings_of(r.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .rate(r.id, &paper(0), Rating::More, 6000, None, 200)
            .await
            .unwrap(),
        RateOutcome::NoSubscriber
    );
}

/// Every absolute link in a mail's text and HTML parts, in order of appearance, without
/// repeats.
fn links_of(text: &str, html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in [text, html] {
        for w in part.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>') {
            let w = w.replace("&amp;", "&");
            if (w.starts_with("http://") || w.starts_with("https://")) && !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// A client like a mail security scanner: no cookies kept between links, redirects followed.
fn scanner() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap()
}

/// GET a page with the app's browser-like client, then post its form as its script would;
/// the answer's status and body.
async fn follow_and_post(app: &TestApp, link: &str) -> (StatusCode, String) {
    let r = app.post_form(link, &[]).await;
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn a_digest_carries_rating_links_that_only_a_post_follows(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    app.subscribe_and_confirm(
        "reader@example.com",
        &[
            ("keywords", "diffusion agents reasoning"),
            ("papers_per_digest", "5"),
        ],
    )
    .await;
    let r = app.subscriber("reader@example.com").await.unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let composed = app.services.digests.compose(day, None).await.unwrap();
    assert_eq!(composed.composed, 1, "{composed:?}");
    let sent = app.services.deliver().await.unwrap();
    assert_eq!(sent.digests.sent, 1, "{sent:?}");
    let digest = app.ctx.store.digest_for(r.id, day).await.unwrap().unwrap();
    let papers: Vec<ArxivId> = digest
        .content
        .entries
        .iter()
        .map(|e| e.paper.clone())
        .collect();
    assert!(papers.len() >= 3, "{papers:?}");
    let mails = app.smtp.wait_for("reader@example.com", 2).await;
    let mail = mails.last().unwrap();
    let (text, html) = (mail.text(), mail.html());

    // Every paper carries both links, in both parts.
    let link_of = |part: &str, p: &ArxivId, rating: &str| {
        links_of(part, "")
            .into_iter()
            .find(|l| l.contains("/rate/") && l.ends_with(&format!("/{p}/{rating}")))
            .unwrap_or_else(|| panic!("no {rating} link for {p} in:\n{part}"))
    };
    for p in &papers {
        for rating in ["more", "fewer"] {
            assert_eq!(link_of(&text, p, rating), link_of(&html, p, rating));
        }
    }
    assert_eq!(html.matches(">More like this</a>").count(), papers.len());
    assert_eq!(html.matches(">Fewer like this</a>").count(), papers.len());
    assert_eq!(
        text.matches("   Fewer like this: http").count(),
        papers.len()
    );
    // The "view in browser" page has the same controls.
    let page = crate::helpers::link_in(&text, "/digests/");
    let (status, body) = app.get_text(&page).await;
    assert_eq!(status, 200);
    assert_eq!(body.matches(">Fewer like this</a>").count(), papers.len());

    // A scanner fetches every link of the mail to this service (the papers' own links go
    // elsewhere and are left alone: the tests stay off the network). Nothing is recorded.
    let links = links_of(&text, &html);
    let ours: Vec<&String> = links.iter().filter(|l| l.starts_with(&app.base)).collect();
    assert_eq!(
        ours.iter().filter(|l| l.contains("/rate/")).count(),
        2 * papers.len(),
        "{ours:#?}"
    );
    for path in ["/preferences/", "/unsubscribe/", "/digests/"] {
        assert!(ours.iter().any(|l| l.contains(path)), "{path} in {ours:#?}");
    }
    let scan = scanner();
    for l in &ours {
        let r = scan.get(l.as_str()).send().await.unwrap();
        assert!(r.status().is_success(), "{l}: {}", r.status());
        let body = r.text().await.unwrap();
        assert!(!body.contains("Noted"), "{l} recorded something:\n{body}");
        // A HEAD as some scanners send it.
        let head = scan.head(l.as_str()).send().await.unwrap();
        assert!(head.status().is_success() || head.status() == 405, "{l}");
    }
    assert!(app.ctx.store.ratings_of(r.id).await.unwrap().is_empty());
    assert_eq!(
        app.subscriber("reader@example.com").await.unwrap().status,
        SubscriberStatus::Active,
        "fetching the unsubscribe link unsubscribes no one either"
    );
    // A scanner that also runs the page's script posts both links of a paper at once:
    // they cancel out.
    let both = &papers[2];
    let (status, body) = follow_and_post(&app, &link_of(&text, both, "more")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = follow_and_post(&app, &link_of(&text, both, "fewer")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Nothing kept"), "{body}");
    assert!(app.ctx.store.ratings_of(r.id).await.unwrap().is_empty());

    // Following a link as a reader does (the page, then its form's POST) records it.
    let hidden = &papers[0];
    let fewer = link_of(&text, hidden, "fewer");
    let (status, page) = app.get_text(&fewer).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("data-autosubmit") && page.contains("method=\"post\""),
        "{page}"
    );
    let (status, body) = follow_and_post(&app, &fewer).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Noted") && body.contains("will not be sent to you again"),
        "{body}"
    );
    assert!(body.contains("/preferences/"), "a link to the preferences");
    let stored = app.ctx.store.ratings_of(r.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (&stored[0].paper, stored[0].rating),
        (hidden, Rating::Fewer)
    );

    // "More like this" shows similar papers of the last week, and an undo; among them one
    // stored since the last such page (a copy of the paper, under another id).
    let liked = &papers[1];
    app.ingest_hf_copy(liked.as_str(), "2605.99998", None, "2026-05-09");
    let (status, body) = follow_and_post(&app, &link_of(&text, liked, "more")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("You will get more papers like"), "{body}");
    let similar = between(&body, "<ul class=\"similar\">", "</ul>").expect("similar papers");
    let shown = similar.matches("<li>").count();
    assert!((1..=5).contains(&shown), "{similar}");
    assert!(
        !similar.contains(&format!("/{liked}\"")),
        "not the paper itself"
    );
    assert!(
        !similar.contains(&format!("/{hidden}\"")),
        "not a hidden paper"
    );
    assert!(similar.contains("Shares "), "{similar}");
    assert!(similar.contains("/2605.99998\""), "{similar}");
    assert_eq!(app.ctx.store.ratings_of(r.id).await.unwrap().len(), 2);
    let undo = between(&body, "action=\"", "\"")
        .unwrap()
        .replace("&#x2F;", "/");
    assert!(undo.ends_with("/undo"), "{undo}");
    let token = between(&body, "name=\"form_token\" value=\"", "\"").unwrap();
    let r2 = app
        .client
        .post(app.url(&undo))
        .form(&[("form_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 200);
    assert!(r2.text().await.unwrap().contains("Rating removed"));
    assert_eq!(app.ctx.store.ratings_of(r.id).await.unwrap().len(), 1);

    // Links that must change nothing. A form token from a real page, so that only the
    // link is wrong.
    let form_token = app.form_token(&fewer).await;
    let post = |url: String| {
        let form_token = form_token.clone();
        let client = app.client.clone();
        async move {
            let r = client
                .post(url)
                .form(&[("form_token", form_token.as_str())])
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.text().await.unwrap())
        }
    };
    let links = &app.ctx.links;
    let now = paperboy::clock::timestamp();
    let target = &papers[3];
    let token_of = |link: &str| {
        link.split("/rate/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    let real = token_of(&link_of(&text, target, "fewer"));
    let mut forged = real.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let other = reader(&app, "other@example.com", "agents").await;
    let expired = links.signer().sign_bound(
        Purpose::Rate,
        &r.public_id,
        target.as_str().as_bytes(),
        now - 400 * 86_400,
        60,
    );
    let manage = links.manage_token(&r, now);
    let cases = [
        (
            "forged",
            format!("{}/rate/{forged}/{target}/fewer", app.base),
            404,
        ),
        (
            "expired",
            format!("{}/rate/{expired}/{target}/fewer", app.base),
            410,
        ),
        (
            "other purpose",
            format!("{}/rate/{manage}/{target}/fewer", app.base),
            400,
        ),
        // Another paper's token: the token is bound to the paper, so it was not issued for
        // this one.
        (
            "other paper",
            format!("{}/rate/{real}/{}/fewer", app.base, papers[4]),
            404,
        ),
        (
            "not an id",
            format!("{}/rate/{real}/..%2F..%2Fetc/fewer", app.base),
            400,
        ),
        (
            "not a rating",
            format!("{}/rate/{real}/{target}/less", app.base),
            404,
        ),
        (
            "oversized",
            format!("{}/rate/{real}/{}/fewer", app.base, "9".repeat(10_000)),
            400,
        ),
    ];
    for (what, url, want) in cases {
        let (status, body) = post(url.clone()).await;
        assert_eq!(status.as_u16(), want, "{what}: {body}");
        assert!(
            body.contains("Nothing has been changed") || body.contains("expired"),
            "{what}: {body}"
        );
        let (status, _) = app.get_text(&url).await;
        assert_eq!(status.as_u16(), want, "GET {what}");
    }
    // Another reader's link rates for that reader only.
    let other_token = links.rate_token(&other, target, now);
    let (status, _) = post(links.rate_url(&other_token, target, Rating::More)).await;
    assert_eq!(status, 200);
    assert_eq!(app.ctx.store.ratings_of(other.id).await.unwrap().len(), 1);
    let mine = app.ctx.store.ratings_of(r.id).await.unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(&mine[0].paper, hidden);
    // A POST without the page's form token changes nothing either.
    let bare = reqwest::Client::new()
        .post(link_of(&text, target, "fewer"))
        .form(&[("form_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    assert_eq!(app.ctx.store.ratings_of(r.id).await.unwrap().len(), 1);

    // A link to a paper no longer stored gets a page that says so.
    let gone = id("2601.00001");
    let gone_link = links.rate_url(&links.rate_token(&r, &gone, now), &gone, Rating::More);
    let (status, body) = app.get_text(&gone_link).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("This paper is no longer here") && body.contains("2601.00001"),
        "{body}"
    );
    let (status, _) = post(gone_link).await;
    assert_eq!(status, 404);

    // The preferences page lists the ratings, and removes one.
    let prefs = links.preferences_url(&manage);
    let (_, page) = app.get_text(&prefs).await;
    // (The ratings' group headings: the form above also has a "Papers you liked" field.)
    assert!(page.contains("<h3>Papers you hid</h3>"), "{page}");
    assert!(!page.contains("<h3>Papers you liked</h3>"), "{page}");
    assert!(page.contains(&format!("value=\"{hidden}\"")), "{page}");
    let r3 = app
        .post_form(
            &format!("{}/preferences/{manage}/ratings", app.base),
            &[("paper", hidden.as_str())],
        )
        .await;
    // post_form GETs the target first for its token: the ratings path has no page, so take
    // the token from the preferences page instead.
    assert!(r3.status().is_client_error());
    let token = app.form_token(&prefs).await;
    let r3 = app
        .client
        .post(format!("{}/preferences/{manage}/ratings", app.base))
        .form(&[("form_token", token.as_str()), ("paper", hidden.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r3.status(), 200);
    let page = r3.text().await.unwrap();
    assert!(
        page.contains(&format!("Removed your rating of {hidden}")),
        "{page}"
    );
    assert!(app.ctx.store.ratings_of(r.id).await.unwrap().is_empty());
    let bad = app
        .client
        .post(format!("{}/preferences/{manage}/ratings", app.base))
        .form(&[("form_token", token.as_str()), ("paper", "<script>")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(!bad.text().await.unwrap().contains("<script>"));
}

async fn a_hidden_paper_is_never_sent(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    let keywords = "diffusion agents reasoning";
    let plain = reader(&app, "plain@example.com", keywords).await;
    let hider = reader(&app, "hider@example.com", keywords).await;
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    // What both would get: the same interests, so the same papers.
    let preview = |s: paperboy::domain::Subscriber| {
        let digests = app.services.digests.clone();
        async move {
            match digests.preview(&s, day).await.unwrap() {
                paperboy::digest::Preview::Digest(v) => {
                    v.papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
                }
                _ => panic!("a digest"),
            }
        }
    };
    let before = preview(hider.clone()).await;
    assert_eq!(before, preview(plain.clone()).await);
    let top = before[0].clone();
    let ratings = app.services.ratings.clone();
    ratings.rate(&hider, &top, Rating::Fewer).await.unwrap();
    // The preview and the composed digest leave it out; the other reader still gets it.
    let after = preview(hider.clone()).await;
    assert!(!after.contains(&top), "{after:?}");
    assert_eq!(after.len(), before.len(), "another paper takes its place");
    // The rating teaches the ranking: papers like the hidden one move down, so the rest do
    // not merely move up a place (matching::Taste, Rocchio with the "fewer" papers).
    assert_ne!(
        after[..before.len() - 1],
        before[1..],
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        preview(plain.clone()).await,
        before,
        "the other reader is unchanged"
    );
    // "More like this" on the last paper lifts papers like it: the order changes too.
    let fan = reader(&app, "fan@example.com", keywords).await;
    let last = before[before.len() - 1].clone();
    ratings.rate(&fan, &last, Rating::More).await.unwrap();
    let fan_sees = preview(fan.clone()).await;
    assert_ne!(fan_sees, before, "a 'more' rating changes the ranking");
    let up = |list: &[ArxivId]| list.iter().position(|p| *p == last);
    assert!(
        up(&fan_sees).is_some_and(|i| Some(i) < up(&before)),
        "the paper rated 'more' moves up: {before:?} -> {fan_sees:?}"
    );
    app.services.digests.compose(day, None).await.unwrap();
    let entries = |id: i64, day: NaiveDate| {
        let store = app.ctx.store.clone();
        async move {
            store
                .digest_for(id, day)
                .await
                .unwrap()
                .map(|d| {
                    d.content
                        .entries
                        .into_iter()
                        .map(|e| e.paper)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    assert!(entries(plain.id, day).await.contains(&top));
    assert!(!entries(hider.id, day).await.contains(&top));
    // The next day has the paper again; it stays hidden, for a reader who was never sent
    // it too, and even as a trending paper.
    app.ingest_hf_day("2026-05-09");
    let next = day.succ_opt().unwrap();
    let late = reader(&app, "late@example.com", "\"sea ice\"").await;
    let input = paperboy::domain::SubscriptionInput {
        keywords: "\"sea ice\"".into(),
        send_when_empty: Some(true),
        trending: Some("100".into()),
        ..Default::default()
    };
    let late = app.subs.update(&late, &input).await.unwrap();
    let trending_before = preview_on(&app, &late, next).await;
    assert!(trending_before.contains(&top), "{trending_before:?}");
    ratings.rate(&late, &top, Rating::Fewer).await.unwrap();
    app.services.digests.compose(next, None).await.unwrap();
    let got = entries(late.id, next).await;
    assert!(!got.is_empty() && !got.contains(&top), "{got:?}");
    assert!(!entries(hider.id, next).await.contains(&top));
}

/// A reader who liked a paper at sign-up, and one who rated a paper "more" through the API,
/// get digests whose reasons name that paper by its stored title, in the mail's text and
/// HTML parts and on the "view in browser" page.
async fn a_reason_names_the_liked_paper(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    let title_of = |p: &str| {
        let store = app.ctx.store.clone();
        let p = id(p);
        async move {
            store.papers_by_ids(&[p]).await.unwrap()[0]
                .paper
                .title
                .clone()
        }
    };
    // Read off the capture: a diffusion language model, and an agents paper.
    let (signed_up, rated) = (id("2605.06548"), id("2605.06614"));
    let signed_up_title = title_of(signed_up.as_str()).await;
    let rated_title = title_of(rated.as_str()).await;
    assert_eq!(
        signed_up_title,
        "Continuous Latent Diffusion Language Model"
    );
    app.subscribe_and_confirm(
        "liker@example.com",
        &[
            ("liked", signed_up.as_str()),
            ("trending", "0"),
            ("papers_per_digest", "5"),
        ],
    )
    .await;
    let liker = app.subscriber("liker@example.com").await.unwrap();
    let fan = reader(&app, "fan@example.com", "agents").await;
    let token = app
        .ctx
        .links
        .manage_token(&fan, paperboy::clock::timestamp());
    let r = app
        .client
        .put(format!(
            "{}/api/v1/subscriptions/{token}/ratings/{rated}",
            app.base
        ))
        .json(&serde_json::json!({"rating": "more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    app.services.digests.compose(day, None).await.unwrap();
    app.services.deliver().await.unwrap();
    for (who, email, liked, title) in [
        (&liker, "liker@example.com", &signed_up, &signed_up_title),
        (&fan, "fan@example.com", &rated, &rated_title),
    ] {
        // The outbox names it on the papers it brought, other than the liked paper itself.
        let digest = app
            .ctx
            .store
            .digest_for(who.id, day)
            .await
            .unwrap()
            .unwrap();
        let named: Vec<&ArxivId> = digest
            .content
            .entries
            .iter()
            .filter(|e| {
                e.reasons.iter().any(|r| {
                    r.interest == "papers you liked" && r.liked.as_deref() == Some(title.as_str())
                })
            })
            .map(|e| &e.paper)
            .collect();
        assert!(
            named.iter().any(|p| *p != liked),
            "{email}: {:#?}",
            digest.content
        );
        // Both parts of the mail, and the page, say so (the text part wraps its lines).
        let sentence = format!("Because you liked “{title}”");
        let mails = app.smtp.wait_for(email, 1).await;
        let mail = mails.last().unwrap();
        let text = mail.text().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&sentence), "{email}: {text}");
        // The HTML part writes what is not ASCII as numeric references.
        let in_html = format!("Because you liked &#8220;{title}&#8221;");
        assert!(mail.html().contains(&in_html), "{email}: {}", mail.html());
        let page = crate::helpers::link_in(&mail.text(), "/digests/");
        let (status, body) = app.get_text(&page).await;
        assert_eq!(status, 200);
        assert!(body.contains(&in_html), "{body}");
    }
}

/// HTML entities as the pages write them, back to text.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// A reader hides papers that came through one topic and through one (hostile) keyword:
/// the preferences page says so, escaped, and its button drops that interest; a form with a
/// forged, another reader's or no token changes nothing.
async fn papers_hidden_through_one_interest_offer_to_drop_it(backend: Backend) {
    use paperboy::domain::{Paper, PaperSource};
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let hostile = "<script>alert(1)</script>";
    let papers = [
        // Through the "agents" topic.
        (
            "2607.00001",
            "LLM agents for web navigation",
            "A web agent plans tool calls and browsing.",
        ),
        (
            "2607.00002",
            "Tool learning for language agents",
            "Function calling and task planning for an autonomous agent.",
        ),
        (
            "2607.00003",
            "A benchmark for GUI agents",
            "Agent benchmark of long horizon tasks with tool calls.",
        ),
        // Through the keyword, which the day's text holds as it was typed.
        (
            "2607.00004",
            "Cross-site scripting in notebooks",
            "The payload <script>alert(1)</script> runs in shared cells.",
        ),
        (
            "2607.00005",
            "Sanitising rendered markdown",
            "We find <script>alert(1)</script> survives three sanitisers.",
        ),
        // Through "diffusion": one hidden paper, below the threshold.
        (
            "2607.00006",
            "Diffusion models for weather",
            "A diffusion model forecasts rainfall.",
        ),
        (
            "2607.00007",
            "Galaxy clusters",
            "Dark matter and the cosmic web.",
        ),
        (
            "2607.00008",
            "Protein folding",
            "Predicting structure from amino acid sequences.",
        ),
    ];
    let stored: Vec<Paper> = papers
        .iter()
        .enumerate()
        .map(|(i, (p, title, abs))| {
            let mut paper = Paper::new(
                id(p),
                title.to_string(),
                abs.to_string(),
                PaperSource::HuggingFace,
            );
            paper.featured_on = Some(day);
            paper.upvotes = Some(10 - i as i64);
            paper
        })
        .collect();
    app.ctx.store.upsert_papers(&stored, 1000).await.unwrap();
    let keywords = format!("{hostile} diffusion");
    let fields = [
        ("topics", "agents"),
        ("keywords", keywords.as_str()),
        ("trending", "0"),
    ];
    app.subscribe_and_confirm("hider@example.com", &fields)
        .await;
    app.subscribe_and_confirm("bystander@example.com", &fields)
        .await;
    let r = app.subscriber("hider@example.com").await.unwrap();
    let bystander = app.subscriber("bystander@example.com").await.unwrap();
    app.services.digests.compose(day, None).await.unwrap();
    let digest = app.ctx.store.digest_for(r.id, day).await.unwrap().unwrap();
    let topic_name = app.ctx.catalogue.get("agents").unwrap().name.clone();
    let through = |paper: &str, interest: &str| {
        digest.content.entries.iter().any(|e| {
            e.paper.as_str() == paper
                && e.reasons
                    .iter()
                    .any(|r| r.interest == interest || r.words.iter().any(|w| w == interest))
        })
    };
    for (paper, interest) in [
        ("2607.00001", topic_name.as_str()),
        ("2607.00002", &topic_name),
        ("2607.00004", hostile),
        ("2607.00005", hostile),
        ("2607.00006", "diffusion"),
    ] {
        assert!(
            through(paper, interest),
            "{paper} through {interest}: {:#?}",
            digest.content
        );
    }

    // Hidden through the API, as the mail's links and the page record them too.
    let now = paperboy::clock::timestamp();
    let token = app.ctx.links.manage_token(&r, now);
    let prefs = app.ctx.links.preferences_url(&token);
    let hide = |paper: &'static str| {
        let (client, url) = (
            app.client.clone(),
            format!("{}/api/v1/subscriptions/{token}/ratings/{paper}", app.base),
        );
        async move {
            let r = client
                .put(url)
                .json(&serde_json::json!({"rating": "fewer"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    hide("2607.00001").await;
    let (_, page) = app.get_text(&prefs).await;
    assert!(
        !page.contains("papers you hid matched"),
        "one is no pattern: {page}"
    );
    for p in ["2607.00002", "2607.00004", "2607.00005", "2607.00006"] {
        hide(p).await;
    }
    let (status, page) = app.get_text(&prefs).await;
    assert_eq!(status, 200);
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    assert!(
        page.contains(&format!(
            "2 papers you hid matched the topic “{topic_name}”"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "2 papers you hid matched your keyword “{escaped}”"
        )),
        "{page}"
    );
    assert!(
        !page.contains(hostile),
        "the keyword is escaped everywhere: {page}"
    );
    assert!(!page.contains("matched your keyword “diffusion”"), "{page}");
    let forms = page.matches("action=\"/preferences/").count();
    assert!(page.contains("Stop following this topic") && page.contains("Remove this keyword"));

    // Forms that must change nothing: another reader's link, a forged one, no form token,
    // a form that names nothing or something that is not a topic.
    let form_token = app.form_token(&prefs).await;
    let post = |token: String, fields: Vec<(&'static str, String)>| {
        let (client, url) = (
            app.client.clone(),
            format!("{}/preferences/{token}/interests", app.base),
        );
        async move {
            let r = client.post(url).form(&fields).send().await.unwrap();
            let status = r.status();
            (status.as_u16(), r.text().await.unwrap())
        }
    };
    let with_token = |extra: (&'static str, &str)| {
        vec![
            ("form_token", form_token.clone()),
            (extra.0, extra.1.to_string()),
        ]
    };
    let mut forged = token.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let other = app.ctx.links.manage_token(&bystander, now);
    let unsubscribe = app.ctx.links.unsubscribe_url(&r, now);
    let unsubscribe = unsubscribe.rsplit('/').next().unwrap().to_string();
    for (what, token, fields, want) in [
        ("forged", forged, with_token(("topic", "agents")), 404),
        (
            "other purpose",
            unsubscribe,
            with_token(("topic", "agents")),
            400,
        ),
        (
            "no form token",
            token.clone(),
            vec![("topic", "agents".to_string())],
            403,
        ),
        (
            "nothing named",
            token.clone(),
            with_token(("paper", "2607.00001")),
            400,
        ),
        (
            "not a topic",
            token.clone(),
            with_token(("topic", "../<b>x</b>")),
            400,
        ),
        (
            "both",
            token.clone(),
            vec![
                ("form_token", form_token.clone()),
                ("topic", "agents".into()),
                ("keyword", "diffusion".into()),
            ],
            400,
        ),
    ] {
        let (status, body) = post(token, fields).await;
        assert_eq!(status, want, "{what}: {body}");
        assert!(!body.contains("<b>x</b>"), "{what}: {body}");
    }
    // Another reader's own link acts for that reader only.
    let (status, body) = post(other, with_token(("topic", "agents"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        app.subscriber("bystander@example.com")
            .await
            .unwrap()
            .interests
            .topics
            .is_empty()
    );
    // A keyword that is not the reader's: said so, without repeating it.
    let (status, body) = post(token.clone(), with_token(("keyword", "<i>nope</i>"))).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("nothing has been changed") && !body.contains("<i>nope"),
        "{body}"
    );
    let unchanged = app.subscriber("hider@example.com").await.unwrap();
    assert_eq!(
        unchanged.interests, r.interests,
        "nothing changed for the reader"
    );

    // The page's own buttons: the topic, then the keyword (its value read off the form).
    let (status, page) = post(token.clone(), with_token(("topic", "agents"))).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("Removed the topic “{topic_name}”")),
        "{page}"
    );
    assert!(!page.contains("matched the topic"), "{page}");
    assert_eq!(page.matches("action=\"/preferences/").count(), forms - 1);
    let after = app.subscriber("hider@example.com").await.unwrap();
    assert!(after.interests.topics.is_empty());
    assert_eq!(after.interests.keywords, r.interests.keywords);
    let value =
        unescape(&between(&page, "name=\"keyword\" value=\"", "\"").expect("the keyword's form"));
    assert_eq!(value, hostile);
    let (status, page) = post(token.clone(), with_token(("keyword", &value))).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("Removed the keyword “{escaped}”")),
        "{page}"
    );
    assert!(!page.contains("papers you hid matched"), "{page}");
    assert_eq!(
        app.subscriber("hider@example.com")
            .await
            .unwrap()
            .interests
            .keywords,
        ["diffusion"]
    );
    // The last interest stays.
    let (status, page) = post(token.clone(), with_token(("keyword", "diffusion"))).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("is the only interest"), "{page}");
    assert_eq!(
        app.subscriber("hider@example.com")
            .await
            .unwrap()
            .interests
            .keywords,
        ["diffusion"]
    );
    // The bystander kept their keywords.
    assert_eq!(
        app.subscriber("bystander@example.com")
            .await
            .unwrap()
            .interests
            .keywords,
        r.interests.keywords
    );
}

async fn preview_on(
    app: &TestApp,
    s: &paperboy::domain::Subscriber,
    day: NaiveDate,
) -> Vec<ArxivId> {
    match app.services.digests.preview(s, day).await.unwrap() {
        paperboy::digest::Preview::Digest(v) => v.papers.iter().map(|p| p.id.clone()).collect(),
        _ => Vec::new(),
    }
}

async fn ratings_through_the_api_and_the_export(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    app.ingest_hf_day("2026-05-08");
    let r = reader(&app, "api@example.com", "agents").await;
    let papers = app.ctx.store.papers(None, 3).await.unwrap();
    let (p1, p2) = (&papers[0].paper.id, &papers[1].paper.id);
    let token = app.ctx.links.manage_token(&r, paperboy::clock::timestamp());
    let url = |p: &str| format!("{}/api/v1/subscriptions/{token}/ratings/{p}", app.base);
    let put = |p: String, body: serde_json::Value| {
        let client = app.client.clone();
        async move {
            let r = client.put(p).json(&body).send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|_| panic!("not JSON: {text}")),
            )
        }
    };
    let (status, body) = put(url(p1.as_str()), serde_json::json!({"rating": "fewer"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paper"], p1.as_str());
    assert_eq!(body["rating"], "fewer");
    assert!(body["at"].as_i64().unwrap() > 0);
    let (status, _) = put(url(p2.as_str()), serde_json::json!({"rating": "more"})).await;
    assert_eq!(status, 200);
    // A PUT is what the reader means: the opposite at once replaces, it does not cancel.
    let (status, body) = put(url(p2.as_str()), serde_json::json!({"rating": "fewer"})).await;
    assert_eq!(
        (status.as_u16(), body["rating"].as_str()),
        (200, Some("fewer"))
    );
    let (status, body) = put(url(p2.as_str()), serde_json::json!({"rating": "more"})).await;
    assert_eq!(
        (status.as_u16(), body["rating"].as_str()),
        (200, Some("more"))
    );

    let (status, view) = app
        .get_json(&format!("/api/v1/subscriptions/{token}"))
        .await;
    assert_eq!(status, 200);
    let listed: Vec<(String, String)> = view["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["paper"].as_str().unwrap().to_string(),
                r["rating"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2, "{view}");
    assert!(listed.contains(&(p1.to_string(), "fewer".into())));
    assert!(listed.contains(&(p2.to_string(), "more".into())));

    // Hostile and wrong input: clear errors, nothing stored.
    let cases: Vec<(String, serde_json::Value, u16, &str)> = vec![
        (
            url("2605.1"),
            serde_json::json!({"rating": "more"}),
            400,
            "not an arXiv identifier",
        ),
        (
            url("2605.01234v2"),
            serde_json::json!({"rating": "more"}),
            400,
            "bare arXiv id",
        ),
        (
            url("%3Cscript%3E"),
            serde_json::json!({"rating": "more"}),
            400,
            "not an arXiv identifier",
        ),
        (
            url(&"1".repeat(5000)),
            serde_json::json!({"rating": "more"}),
            400,
            "not an arXiv identifier",
        ),
        (
            url("2601.00001"),
            serde_json::json!({"rating": "more"}),
            404,
            "is not among the papers",
        ),
        (
            url(p1.as_str()),
            serde_json::json!({"rating": "less"}),
            422,
            "rating",
        ),
        (
            url(p1.as_str()),
            serde_json::json!({"rating": "more", "x": 1}),
            422,
            "unknown field",
        ),
        (url(p1.as_str()), serde_json::json!({}), 422, "rating"),
        (
            url(p1.as_str()),
            serde_json::json!(["more"]),
            422,
            "expected a JSON object",
        ),
        (
            url(p1.as_str()),
            serde_json::json!({"rating": "m".repeat(200_000)}),
            413,
            "length limit exceeded",
        ),
        (
            format!(
                "{}/api/v1/subscriptions/{}/ratings/{p1}",
                app.base,
                "A".repeat(66)
            ),
            serde_json::json!({"rating": "more"}),
            404,
            "not issued by this service",
        ),
    ];
    for (u, body, want, says) in cases {
        let r = app.client.put(&u).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{u}: {text}");
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{u}: {text}"));
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(says), "{u}: {error}");
    }
    assert_eq!(app.ctx.store.ratings_of(r.id).await.unwrap().len(), 2);

    // The export holds them.
    let (ok, out, err) = paperboy(
        &app.ctx.config.database_url,
        dir.path(),
        &["subscribers", "export", "--email", "api@example.com"],
    );
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let exported = json[0]["ratings"].as_array().unwrap();
    assert_eq!(exported.len(), 2, "{out}");
    assert!(
        exported
            .iter()
            .any(|r| r["paper"] == p1.as_str() && r["rating"] == "fewer" && r["at"].is_i64())
    );

    // DELETE removes; a second DELETE finds nothing.
    let del = |p: String| {
        let client = app.client.clone();
        async move { client.delete(p).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(del(url(p1.as_str())).await, 204);
    assert_eq!(del(url(p1.as_str())).await, 404);
    assert_eq!(del(url("nope")).await, 400);
    assert_eq!(app.ctx.store.ratings_of(r.id).await.unwrap().len(), 1);
}

/// A reader in headless Chromium follows "Fewer like this" from the mail received through
/// the SMTP server: the page's script posts it at once and the rating is recorded. The next
/// day, received the same way, that reader's digest ranks the hidden paper's close
/// neighbours lower than a control reader's with the same interests, and neither mail has
/// the hidden paper though it is featured again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_follows_fewer_like_this() {
    let Some(driver) = crate::helpers::start_driver() else {
        return;
    };
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The first day is the Hugging Face API capture, featured on the eve of the page
    // capture's day (the importer holds a page to its own date, 2026-09-28).
    app.ingest_hf_day("2026-09-27");
    let keywords = "diffusion agents reasoning";
    let r = reader(&app, "chromium@example.com", keywords).await;
    let control = reader(&app, "control@example.com", keywords).await;
    let day = NaiveDate::from_ymd_opt(2026, 9, 27).unwrap();
    app.services.digests.compose(day, None).await.unwrap();
    app.services.deliver().await.unwrap();
    let text = nth_mail(&app, "chromium@example.com", 1).await.0;
    let first = papers_in(&text);
    assert!(first.len() >= 5, "{text}");
    assert_eq!(
        papers_in(&nth_mail(&app, "control@example.com", 1).await.0),
        first,
        "the same interests, the same first digest"
    );
    let fewer = crate::helpers::link_in(&text, "/fewer");
    let hidden = id(fewer.rsplit('/').nth(1).unwrap());
    assert_eq!(hidden, first[0], "the mail's first paper");
    let c = crate::helpers::browser(&driver).await;
    let result = async {
        c.goto(&fewer).await?;
        crate::helpers::wait_for_heading(&c, "Noted").await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.expect("browser steps");
    let stored = app.ctx.store.ratings_of(r.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (&stored[0].paper, stored[0].rating),
        (&hidden, Rating::Fewer)
    );
    assert!(
        app.ctx
            .store
            .ratings_of(control.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The next day: the page capture, and the first day's papers featured again, the
    // hidden one among them.
    app.ingest_hf_day("2026-09-28");
    let (ok, _, err) = paperboy(
        &app.ctx.config.database_url,
        dir.path(),
        &["ingest", "--file", crate::hf_page::PAGE_FILE],
    );
    assert!(ok, "{err}");
    let next = day.succ_opt().unwrap();
    let featured = app
        .ctx
        .store
        .papers_featured(next, next, 1000)
        .await
        .unwrap();
    assert!(featured.iter().any(|p| p.paper.id == hidden));
    app.services.digests.compose(next, None).await.unwrap();
    app.services.deliver().await.unwrap();
    let rated_mail = nth_mail(&app, "chromium@example.com", 2).await;
    let control_mail = nth_mail(&app, "control@example.com", 2).await;
    let (rated, controls) = (papers_in(&rated_mail.0), papers_in(&control_mail.0));
    assert_eq!(rated.len(), controls.len(), "{rated:?} {controls:?}");

    // Never the hidden paper, in any part of either mail (nor, say, as the day's top
    // trending paper). For the rater both the hiding and "sent before" keep it out; the
    // control, who got none of the first day's papers again, shows that "sent before"
    // alone would. That the hiding alone keeps a paper out, for a reader never sent it, is
    // `a_hidden_paper_is_never_sent`.
    let title = &featured
        .iter()
        .find(|p| p.paper.id == hidden)
        .unwrap()
        .paper
        .title;
    for (who, (text, html)) in [("rater", &rated_mail), ("control", &control_mail)] {
        for part in [text, html] {
            assert!(
                !part.contains(hidden.as_str()) && !part.contains(title.as_str()),
                "{who}: {part}"
            );
        }
    }
    assert!(!controls.iter().any(|p| first.contains(p)), "{controls:?}");

    // How close each of the day's papers is to the hidden one, by the matcher's own "more
    // like these" (the measure the "fewer" rating pushes away from): 0 is the closest.
    let close = closeness(&app, next, &hidden).await;
    assert_eq!(close.len(), featured.len() - 1);
    let rank = |p: &ArxivId| close.iter().position(|q| q == p).unwrap();
    let at = |list: &[ArxivId], p: &ArxivId| list.iter().position(|q| q == p);
    let shown = |list: &[ArxivId]| {
        list.iter()
            .map(|p| format!("{p} (closeness rank {})", rank(p)))
            .collect::<Vec<_>>()
    };
    let (rated_shown, control_shown) = (shown(&rated), shown(&controls));
    // The rating changed the digest: without it the two readers are alike.
    assert_ne!(rated, controls, "the rating changed nothing");
    // The control's papers among the day's closest quarter to the hidden paper: the
    // closest of them comes later for the rater or not at all, and together they lose
    // ground (a paper left out counts as one past the end; one of them may move up a place
    // when a closer one above it leaves). This fails if the rating teaches nothing (the
    // lists are the same) or pulls papers like the hidden one up.
    let neighbours: Vec<&ArxivId> = controls
        .iter()
        .filter(|p| rank(p) < close.len() / 4)
        .collect();
    assert!(
        !neighbours.is_empty(),
        "no close neighbour to watch: {control_shown:?}"
    );
    let place = |list: &[ArxivId], p: &ArxivId| at(list, p).unwrap_or(list.len());
    let closest = neighbours.iter().min_by_key(|p| rank(p)).unwrap();
    assert!(
        place(&rated, closest) > place(&controls, closest),
        "{closest}, the closest, did not move down: {control_shown:#?} -> {rated_shown:#?}"
    );
    let sum = |list: &[ArxivId]| neighbours.iter().map(|p| place(list, p)).sum::<usize>();
    assert!(
        sum(&rated) > sum(&controls),
        "the neighbours kept their places: {control_shown:#?} -> {rated_shown:#?}"
    );
    // What the rater got instead is further from the hidden paper than everything it
    // replaced: papers like it make way for papers unlike it.
    let gained: Vec<usize> = rated
        .iter()
        .filter(|p| !controls.contains(p))
        .map(rank)
        .collect();
    let lost: Vec<usize> = controls
        .iter()
        .filter(|p| !rated.contains(p))
        .map(rank)
        .collect();
    assert!(
        !gained.is_empty(),
        "the same papers: {control_shown:#?} -> {rated_shown:#?}"
    );
    assert!(
        gained.iter().min() > lost.iter().max(),
        "gained {gained:?}, lost {lost:?}: {control_shown:#?} -> {rated_shown:#?}"
    );
}

/// The text and HTML parts of the `n`th mail (from 1) received for `email`.
async fn nth_mail(app: &TestApp, email: &str, n: usize) -> (String, String) {
    let mails = app.smtp.wait_for(email, n).await;
    assert_eq!(mails.len(), n, "one mail a day");
    (mails[n - 1].text(), mails[n - 1].html())
}

/// The day's papers other than `paper`, closest to it first by the matcher's own "more like
/// these" (words, topics and fields, see `matching/similar.rs`) as the "more like this" page ranks
/// them, here over that day's papers alone and with no freshness or popularity.
async fn closeness(app: &TestApp, day: NaiveDate, paper: &ArxivId) -> Vec<ArxivId> {
    use paperboy::matching::{Corpus, Day, Doc, Scratch};
    let papers = app.ctx.store.papers_featured(day, day, 1000).await.unwrap();
    let of = app
        .ctx
        .store
        .papers_by_ids(std::slice::from_ref(paper))
        .await
        .unwrap();
    let of = &of[0].paper;
    let docs: Vec<Doc<'_>> = papers
        .iter()
        .map(|p| Doc::text(&p.paper.title, &p.paper.abstract_text))
        .collect();
    let learned = app.ctx.store.learned_topics().await.unwrap();
    let index = Day::with_corpus(
        &docs,
        &Corpus::new(&[]),
        &app.ctx.catalogue,
        &learned,
        app.ctx.config.matching.clone(),
    );
    let liked = index.liked_paper(&of.title, &of.abstract_text, &of.categories);
    let interests = paperboy::domain::Interests {
        trending: 0,
        ..Default::default()
    };
    let mut profile = index.profile(&interests, &[&liked]);
    profile.exclude(
        papers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| (p.paper.id == *paper).then_some(i as u32)),
    );
    index
        .rank_with(&profile, papers.len(), &mut Scratch::default())
        .into_iter()
        .map(|m| papers[m.paper].paper.id.clone())
        .collect()
}

/// The papers a digest's text part lists, in order, read off their "fewer like this" links.
fn papers_in(text: &str) -> Vec<ArxivId> {
    links_of(text, "")
        .iter()
        .filter(|l| l.contains("/rate/") && l.ends_with("/fewer"))
        .map(|l| id(l.rsplit('/').nth(1).unwrap()))
        .collect()
}
