//! The real Hugging Face Daily Papers page (tests/fixtures/hf_html, 2026-09-28): exact values
//! read off the capture by hand, the card fallback on the same page with its data removed, the
//! page's day checked against the day asked for, hostile variants of it, and `ingest --file`
//! recognising it. The fetch path (served over HTTP) is in ingest_http.rs.

use chrono::NaiveDate;
use paperboy::domain::Paper;
use paperboy::ingest::huggingface::parse_page;
use paperboy::store::Store;

use crate::cli::paperboy;
use crate::helpers::{Backend, fresh_database};
use crate::on_both_databases;

pub const PAGE_FILE: &str = "tests/fixtures/hf_html/huggingface_papers_2026-09-28.html";
pub const PAGE: &str = include_str!("../fixtures/hf_html/huggingface_papers_2026-09-28.html");
/// The page's `dateString`.
pub const PAGE_DAY: NaiveDate = NaiveDate::from_ymd_opt(2026, 9, 28).unwrap();

/// Every paper on the page in page order: (id, upvotes, comments, authors), read off the
/// capture's `data-props` with Python's html.parser and json, not with paperboy. No author
/// is hidden. The cards show the same ids and upvotes in the same order (read with regexes).
pub const PAPERS: [(&str, i64, i64, usize); 28] = [
    ("2609.31620", 110, 2, 16),
    ("2609.18703", 42, 2, 16),
    ("2609.31093", 19, 1, 5),
    ("2609.31394", 17, 0, 48),
    ("2609.24385", 10, 1, 4),
    ("2609.31199", 8, 1, 5),
    ("2609.30216", 8, 1, 3),
    ("2609.25716", 7, 1, 5),
    ("2609.30222", 6, 1, 8),
    ("2609.31590", 5, 0, 10),
    ("2609.29050", 5, 1, 10),
    ("2601.06352", 4, 1, 10),
    ("2601.06362", 4, 1, 8),
    ("2609.31473", 4, 0, 62),
    ("2609.30192", 3, 1, 4),
    ("2609.29167", 3, 1, 7),
    ("2609.30670", 3, 1, 4),
    ("2609.04355", 2, 1, 11),
    ("2609.31002", 2, 1, 3),
    ("2609.28660", 2, 1, 8),
    ("2609.28327", 1, 1, 3),
    ("2609.29474", 1, 1, 5),
    ("2609.30837", 1, 1, 13),
    ("2609.30867", 1, 1, 4),
    ("2608.09444", 1, 1, 3),
    ("2609.23551", 1, 1, 1),
    ("2609.31291", 0, 1, 8),
    ("2604.02103", 0, 1, 3),
];

/// Some titles (by position on the page), read off the capture: a non-ASCII letter, an
/// apostrophe (entity-escaped in the data), a question mark, a missing space kept as is.
pub const TITLES: [(usize, &str); 6] = [
    (
        0,
        "FuseReg: Regularizing Layer Fusion Mitigates the Reconstruction-Generation Gap in \
         Representation Autoencoders",
    ),
    (
        3,
        "InternW0-Δ: A World Action Model Bridging Predictive Dynamics and Actions with 20K+ \
         Hours of Open Data",
    ),
    (
        6,
        "Jev in the Wild: A Data-Driven Analysis of the Jev Model's Functionality, Applications \
         and Ecosystem",
    ),
    (
        12,
        "Do Implicit Personalization and Explicit Styles Conflict? PsPLUG: A Lightweight Plug-in \
         for Balancing Personalization and Style in Customized LLMs",
    ),
    (
        25,
        "Paragraph Boundaries Are Not White Space:Compression Depth as the Signature of \
         Hierarchical Structure",
    ),
    (27, "BoundInk: Boundary-Aware Online Handwriting Generation"),
];

/// The start of a huge `data-props`: the right day, then papers nested 8 million deep.
pub const DEEP: &str = "{&quot;dateString&quot;:&quot;2026-09-28&quot;,&quot;dailyPapers&quot;:";

pub fn ids() -> Vec<&'static str> {
    PAPERS.iter().map(|p| p.0).collect()
}

/// `page` with `old` (which must occur exactly once) replaced: each variant is made from the
/// real page, so a changed capture fails here rather than testing nothing.
pub fn replace_once(page: &str, old: &str, new: &str) -> String {
    assert_eq!(page.matches(old).count(), 1, "{old}");
    page.replacen(old, new, 1)
}

/// The `DailyPapers` component's `data-props="…"`, entity-escaped as on the page.
pub fn data_props(page: &str) -> &str {
    let start = page
        .find(r#"data-target="DailyPapers" data-props=""#)
        .expect("the DailyPapers component")
        + r#"data-target="DailyPapers" "#.len();
    // Entity-escaped JSON holds no raw quote: the value ends at the next one.
    let len = page[start + r#"data-props=""#.len()..].find('"').unwrap();
    &page[start..start + r#"data-props=""#.len() + len + 1]
}

/// The real page without its `DailyPapers` data: what the server-rendered cards give.
pub fn without_data_props(page: &str) -> String {
    replace_once(page, data_props(page), "")
}

/// The real page without its cards (every `<article>`; they do not nest).
pub fn without_cards(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(start) = rest.find("<article") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</article>").unwrap() + "</article>".len();
        rest = &rest[start + end..];
    }
    out.push_str(rest);
    assert!(out.len() < page.len() && !out.contains("<article"));
    out
}

fn by_id<'a>(papers: &'a [Paper], id: &str) -> &'a Paper {
    papers.iter().find(|p| p.id.as_str() == id).unwrap()
}

#[test]
fn the_real_page_reads_exactly() {
    let papers = parse_page(PAGE.as_bytes(), Some(PAGE_DAY)).unwrap();
    assert_eq!(papers.len(), 28);
    assert_eq!(
        papers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ids()
    );
    for (p, &(id, upvotes, comments, authors)) in papers.iter().zip(&PAPERS) {
        assert_eq!(
            (p.upvotes, p.comments, p.authors.len()),
            (Some(upvotes), Some(comments), authors),
            "{id}"
        );
        assert!(!p.abstract_text.is_empty(), "{id}: the data has abstracts");
        assert_eq!(p.featured_on, Some(PAGE_DAY), "{id}");
    }
    for (i, title) in TITLES {
        assert_eq!(papers[i].title, title);
    }
    let first = &papers[0];
    assert!(
        first
            .abstract_text
            .starts_with("Representation autoencoders (RAEs) reuse features from a pretrained"),
        "{}",
        first.abstract_text
    );
    assert_eq!(
        (first.authors[0].as_str(), first.authors[15].as_str()),
        ("Hongyang Du", "Yue Wang")
    );
    assert_eq!(
        first.github_repo.as_deref(),
        Some("https://github.com/Hongyang-Du/FuseReg")
    );
    assert_eq!(first.github_stars, Some(12));
    assert_eq!(
        first.project_page.as_deref(),
        Some("https://hongyang-du.github.io/FuseReg/")
    );
    assert_eq!(
        first.organization.as_deref(),
        Some("USC Physical Superintelligence (PSI) Lab")
    );
    assert_eq!(first.published, NaiveDate::from_ymd_opt(2026, 9, 25));
    assert_eq!(by_id(&papers, "2609.31473").authors.len(), 62);

    // Without a day asked, the page's own date.
    let undated = parse_page(PAGE.as_bytes(), None).unwrap();
    assert_eq!(undated, papers);
}

#[test]
fn the_cards_of_the_real_page() {
    let page = without_data_props(PAGE);
    assert!(page.contains(r#"data-target="DailyPapers""#) && !page.contains("dateString"));
    let papers = parse_page(page.as_bytes(), Some(PAGE_DAY)).unwrap();
    assert_eq!(
        papers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ids()
    );
    for (p, &(id, upvotes, comments, _)) in papers.iter().zip(&PAPERS) {
        // A card shows no upvotes as "-", and has no comment link when there are none.
        let comments = (comments > 0).then_some(comments);
        assert_eq!((p.upvotes, p.comments), (Some(upvotes), comments), "{id}");
        assert!(p.abstract_text.is_empty() && p.authors.is_empty(), "{id}");
        assert_eq!(p.featured_on, Some(PAGE_DAY));
    }
    for (i, title) in TITLES {
        assert_eq!(papers[i].title, title);
    }
    // The cards carry no year: without a day asked, none.
    let undated = parse_page(page.as_bytes(), None).unwrap();
    assert!(undated.iter().all(|p| p.featured_on.is_none()));
}

#[test]
fn a_page_for_another_day_is_refused() {
    let asked = NaiveDate::from_ymd_opt(2026, 9, 27);
    let e = parse_page(PAGE.as_bytes(), asked).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Hugging Face Daily Papers page: the page is for 2026-09-28 (its dateString), \
         not for 2026-09-27 as asked"
    );
    // A dateString that is no date: the day cannot be checked, and the cards are not read.
    let odd = replace_once(
        PAGE,
        "&quot;dateString&quot;:&quot;2026-09-28&quot;",
        "&quot;dateString&quot;:&quot;28 Sep&quot;",
    );
    for day in [Some(PAGE_DAY), None] {
        let e = parse_page(odd.as_bytes(), day).unwrap_err();
        assert!(
            e.detail.contains(r#"dateString "28 Sep" is not a date"#),
            "{e}"
        );
    }
}

#[test]
fn hostile_variants_of_the_real_page() {
    let day = Some(PAGE_DAY);
    let bare = without_cards(PAGE);
    let malformed = replace_once(
        &bare,
        "&quot;dailyPapers&quot;:[",
        "&quot;dailyPapers&quot;:[}",
    );
    let missing = replace_once(&bare, "&quot;dailyPapers&quot;:", "&quot;papers&quot;:");
    let huge = replace_once(
        &bare,
        data_props(&bare),
        &format!(r#"data-props="{DEEP}{}""#, "[".repeat(8_000_000)),
    );
    let truncated = &PAGE[..PAGE.len() / 2];
    for (name, page, expected) in [
        ("malformed", malformed.as_str(), "not the expected JSON"),
        ("missing", &missing, "missing field `dailyPapers`"),
        ("huge", &huge, "recursion limit exceeded"),
        // Cut inside the attribute: the parser drops the unfinished tag.
        ("truncated", truncated, "no div.SVELTE_HYDRATER"),
    ] {
        let e = parse_page(page.as_bytes(), day).unwrap_err();
        assert!(
            e.detail.contains(expected) && e.detail.contains("no paper cards"),
            "{name}: {e}"
        );
    }
    // With its cards, a page whose data is broken is read from them.
    let malformed = replace_once(
        PAGE,
        "&quot;dailyPapers&quot;:[",
        "&quot;dailyPapers&quot;:[}",
    );
    let papers = parse_page(malformed.as_bytes(), day).unwrap();
    assert_eq!(
        papers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ids()
    );
    assert!(papers.iter().all(|p| p.abstract_text.is_empty()));
}

on_both_databases!(ingest_recognises_the_real_page);

async fn ingest_recognises_the_real_page(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);
    let store = Store::connect(&url).await.unwrap();

    // Another day than the page's: refused, named, recorded, nothing stored.
    let (ok, _, err) = run(&["ingest", "--file", PAGE_FILE, "--date", "2026-09-27"]);
    assert!(!ok);
    assert!(
        err.contains("the page is for 2026-09-28 (its dateString), not for 2026-09-27 as asked"),
        "{err}"
    );
    assert_eq!(store.paper_count().await.unwrap(), 0);
    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].source.as_str(), runs[0].day.as_deref()),
        ("hugging_face", Some("2026-09-27"))
    );
    assert!(runs[0].error.as_deref().unwrap().contains("2026-09-28"));
    assert!(runs[0].finished_at.is_some());

    // No --format and no --date: recognised, filed under the page's day.
    let (ok, out, err) = run(&["ingest", "--file", PAGE_FILE]);
    assert!(ok, "{err}");
    assert!(out.contains("28 papers read, 28 new, 0 updated"), "{out}");
    let (ok, out, _) = run(&["papers", "list", "--date", "2026-09-28"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 28);
    assert!(
        lines[0].starts_with("2609.31620\t110\t\tFuseReg: Regularizing Layer Fusion"),
        "{}",
        lines[0]
    );

    // The cards alone, also recognised: the stored abstracts stay.
    let cards = dir.path().join("cards.html");
    std::fs::write(&cards, without_data_props(PAGE)).unwrap();
    let (ok, out, err) = run(&[
        "ingest",
        "--file",
        cards.to_str().unwrap(),
        "--date",
        "2026-09-28",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("28 papers read, 0 new, 28 updated"), "{out}");
    let stored = store.papers(Some(PAGE_DAY), 100).await.unwrap();
    assert_eq!(stored.len(), 28);
    assert!(stored.iter().all(|s| !s.paper.abstract_text.is_empty()));

    // An HTML page that is no Daily Papers page is still not guessed.
    let other = dir.path().join("other.html");
    std::fs::write(
        &other,
        without_cards(&without_data_props(PAGE)).replace("DailyPapers", "X"),
    )
    .unwrap();
    let (ok, _, err) = run(&["ingest", "--file", other.to_str().unwrap()]);
    assert!(!ok && err.contains("cannot tell what"), "{err}");
    assert_eq!(store.paper_count().await.unwrap(), 28);
}
