//! Ingest through the CLI and the store, on both databases, from the real captures.

use chrono::NaiveDate;
use paperboy::domain::{ArxivId, Paper, PaperSource};
use paperboy::ingest::huggingface::{parse_api, parse_page};
use paperboy::store::Store;

use crate::cli::paperboy;
use crate::helpers::{Backend, fresh_database, hf_page};
use crate::on_both_databases;

on_both_databases!(
    import_files_and_rerun,
    import_a_saved_page,
    sources_merge_without_losing_fields
);

const HF_DAY: &str = "tests/fixtures/hf_json/daily_papers_2026-05-08.json";

async fn import_files_and_rerun(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);

    let (ok, out, err) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-08"]);
    assert!(ok, "{err}");
    assert!(out.contains("37 papers read, 37 new, 0 updated"), "{out}");
    // Re-ingesting updates in place: no duplicates.
    let (ok, out, _) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-08"]);
    assert!(ok);
    assert!(out.contains("37 papers read, 0 new, 37 updated"), "{out}");

    let (ok, out, _) = run(&["papers", "list", "--date", "2026-05-08"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 37);
    assert!(
        lines[0].starts_with("2605.05242\t86\t\tBeyond Semantic Similarity"),
        "{}",
        lines[0]
    );
    let (_, out, _) = run(&["papers", "list", "--date", "2026-05-09"]);
    assert!(out.is_empty());

    // An arXiv feed: format guessed from the content.
    let (ok, out, err) = run(&[
        "ingest",
        "--file",
        "tests/fixtures/arxiv_rss/distill_rss_cs.LG_2026-04-27.xml",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("3 papers read, 3 new"), "{out}");

    // A broken file: a clear error, a failed run recorded, nothing stored changed.
    let store = Store::connect(&url).await.unwrap();
    let before = store.paper_count().await.unwrap();
    let truncated = dir.path().join("truncated.json");
    let bytes = std::fs::read(HF_DAY).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let (ok, _, err) = run(&[
        "ingest",
        "--file",
        truncated.to_str().unwrap(),
        "--date",
        "2026-05-10",
    ]);
    assert!(!ok);
    assert!(
        err.contains("Hugging Face daily papers response: not valid JSON"),
        "{err}"
    );
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<html><body>Service Unavailable</body></html>").unwrap();
    let (ok, _, err) = run(&["ingest", "--file", html.to_str().unwrap()]);
    assert!(!ok && err.contains("cannot tell what"), "{err}");
    let (ok, _, err) = run(&[
        "ingest",
        "--file",
        html.to_str().unwrap(),
        "--format",
        "arxiv-rss",
    ]);
    assert!(!ok && err.contains("arXiv RSS feed"), "{err}");
    let (ok, _, err) = run(&["ingest", "--file", "/no/such/file.json"]);
    assert!(!ok && err.contains("cannot read"), "{err}");
    assert_eq!(store.paper_count().await.unwrap(), before);

    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 5, "{runs:?}");
    let failed = &runs[1];
    assert_eq!(failed.source, "hugging_face");
    assert_eq!(failed.day.as_deref(), Some("2026-05-10"));
    assert!(failed.error.as_deref().unwrap().contains("not valid JSON"));
    assert!(failed.finished_at.is_some());
    let first = runs.last().unwrap();
    assert_eq!(
        (
            first.new_papers,
            first.updated_papers,
            first.error.as_deref()
        ),
        (37, 0, None)
    );
}

async fn sources_merge_without_losing_fields(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let store = Store::connect(&url).await.unwrap();
    let id = ArxivId::parse("2605.05242").unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 5, 8);

    // Hugging Face: popularity, links, no categories.
    let mut hf = Paper::new(
        id.clone(),
        "Beyond Semantic Similarity".into(),
        "Abstract from HF.".into(),
        PaperSource::HuggingFace,
    );
    hf.upvotes = Some(86);
    hf.comments = Some(3);
    hf.github_repo = Some("https://github.com/DCI-Agent/DCI-Agent-Lite".into());
    hf.github_stars = Some(101);
    hf.keywords = vec!["retrieval systems".into()];
    hf.featured_on = day;
    hf.authors = vec!["Zhuofeng Li".into()];
    store.upsert_papers(&[hf], 1000).await.unwrap();

    // arXiv API: categories, a version, no popularity, no links.
    let mut ax = Paper::new(
        id.clone(),
        "Beyond Semantic Similarity".into(),
        "Abstract from arXiv.".into(),
        PaperSource::ArxivApi,
    );
    ax.categories = vec!["cs.IR".into(), "cs.CL".into()];
    ax.version = Some(2);
    ax.published = NaiveDate::from_ymd_opt(2026, 5, 3);
    let counts = store.upsert_papers(&[ax], 2000).await.unwrap();
    assert_eq!((counts.new, counts.updated), (0, 1));

    // Later Hugging Face numbers replace the old ones.
    let mut later = Paper::new(
        id.clone(),
        String::new(),
        String::new(),
        PaperSource::HuggingFace,
    );
    later.upvotes = Some(120);
    store.upsert_papers(&[later], 3000).await.unwrap();

    let stored = store.papers(day, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    let p = &s.paper;
    assert_eq!(p.title, "Beyond Semantic Similarity");
    assert_eq!(p.abstract_text, "Abstract from arXiv.");
    assert_eq!(p.categories, ["cs.IR", "cs.CL"]);
    assert_eq!(
        (p.upvotes, p.comments, p.github_stars),
        (Some(120), Some(3), Some(101))
    );
    assert_eq!(
        p.github_repo.as_deref(),
        Some("https://github.com/DCI-Agent/DCI-Agent-Lite")
    );
    assert_eq!(p.keywords, ["retrieval systems"]);
    assert_eq!(p.authors, ["Zhuofeng Li"]);
    assert_eq!(p.version, Some(2));
    assert_eq!(p.published, NaiveDate::from_ymd_opt(2026, 5, 3));
    assert_eq!(s.sources, ["hugging_face", "arxiv_api"]);
    assert_eq!(s.popularity_seen_at, Some(3000));
    assert_eq!(s.first_seen_at, 1000);
}

/// (id, title, upvotes, comments) of the capture's first three papers, for card markup.
fn cards_of(papers: &[Paper]) -> Vec<(&str, &str, i64, i64)> {
    papers[..3]
        .iter()
        .map(|p| {
            let (up, comm) = (p.upvotes.unwrap(), p.comments.unwrap());
            (p.id.as_str(), p.title.as_str(), up, comm)
        })
        .collect()
}

#[test]
fn hf_page_yields_the_api_papers() {
    let json = std::fs::read_to_string(HF_DAY).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 5, 8);
    let api = parse_api(json.as_bytes(), day).unwrap();
    // A real page has both the embedded data and the cards: the data (with abstracts) wins.
    let page = hf_page(Some(&json), &cards_of(&api));
    let from_page = parse_page(page.as_bytes(), day).unwrap();
    assert_eq!(from_page.len(), 37);
    let key = |p: &Paper| {
        let github = p.github_repo.clone();
        (
            p.id.clone(),
            p.title.clone(),
            p.upvotes,
            p.authors.len(),
            github,
        )
    };
    assert_eq!(
        from_page.iter().map(key).collect::<Vec<_>>(),
        api.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(from_page, api, "every field, abstracts included");
    assert_eq!(
        (
            from_page[0].id.as_str(),
            from_page[0].upvotes,
            from_page[0].authors.len()
        ),
        ("2605.05242", Some(86), 19)
    );
    // Without --date, the page's own date.
    let undated = parse_page(page.as_bytes(), None).unwrap();
    assert!(undated.iter().all(|p| p.featured_on == day));
}

#[test]
fn hf_page_falls_back_to_cards() {
    let json = std::fs::read_to_string(HF_DAY).unwrap();
    let api = parse_api(json.as_bytes(), None).unwrap();
    let cards = cards_of(&api);
    let day = NaiveDate::from_ymd_opt(2026, 5, 8);
    // No DailyPapers component; then one whose JSON is cut short.
    for page in [
        hf_page(None, &cards),
        hf_page(Some(r#"[{"paper":"#), &cards),
    ] {
        let papers = parse_page(page.as_bytes(), day).unwrap();
        let got: Vec<_> = papers
            .iter()
            .map(|p| {
                (
                    p.id.as_str(),
                    p.title.as_str(),
                    p.upvotes.unwrap(),
                    p.comments.unwrap(),
                )
            })
            .collect();
        assert_eq!(got, cards);
        assert_eq!((got[0].0, got[0].2, got[0].3), ("2605.05242", 86, 3));
        assert!(
            papers
                .iter()
                .all(|p| p.abstract_text.is_empty() && p.featured_on == day)
        );
    }
}

async fn import_a_saved_page(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let json = std::fs::read_to_string(HF_DAY).unwrap();
    let page = dir.path().join("papers.html");
    std::fs::write(&page, hf_page(Some(&json), &[])).unwrap();
    let page = page.to_str().unwrap();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);

    let (ok, out, err) = run(&["ingest", "--file", page, "--format", "hf-page"]);
    assert!(ok, "{err}");
    assert!(out.contains("37 papers read, 37 new, 0 updated"), "{out}");
    // A Daily Papers page is recognised without --format (it once was not).
    let (ok, out, err) = run(&["ingest", "--file", page]);
    assert!(ok, "{err}");
    assert!(out.contains("37 papers read, 0 new, 37 updated"), "{out}");
    let (_, out, _) = run(&["papers", "list", "--date", "2026-05-08"]);
    assert_eq!(out.lines().count(), 37);
}
