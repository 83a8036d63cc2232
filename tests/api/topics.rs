//! Topics learned from the stored papers: each ingest rebuilds the profiles from the papers'
//! arXiv categories and keeps them in the store; `status` tells; composing uses them, and a
//! profile learned from papers of another field does not pull a day's unrelated papers in.

use paperboy::store::Store;

use crate::cli::{paperboy, paperboy_with};
use crate::helpers::{Backend, fresh_database};
use crate::on_both_databases;

on_both_databases!(each_ingest_learns_the_topics_and_composing_uses_them);

const HF_DAY: &str = "tests/fixtures/hf_json/daily_papers_2026-05-08.json";
/// 100 papers from arXiv's API, each with its categories (69 in cs.SE).
const ATOM: &str = "tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s0_m100_cfe7536492ca.xml";

async fn each_ingest_learns_the_topics_and_composing_uses_them(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);

    // Hugging Face's day carries no arXiv categories: nothing to learn from yet.
    let (ok, out, err) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-08"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("topics: 0 of 91 learned from 0 papers with arXiv categories"),
        "{out}"
    );
    let (ok, out, _) = run(&["status"]);
    assert!(ok && out.contains("learned topics: none yet"), "{out}");
    // A reader of a field the day's papers are not in gets nothing.
    let (ok, _, err) = run(&[
        "subscribers",
        "add",
        "evo@example.org",
        "--topics",
        "evolutionary-computation",
        "--trending",
        "0",
    ]);
    assert!(ok, "{err}");
    let preview = [
        "preview",
        "--email",
        "evo@example.org",
        "--date",
        "2026-05-08",
    ];
    let (ok, _, err) = run(&preview);
    assert!(!ok && err.contains("nothing matched"), "{err}");

    // 100 papers with categories: the topics they cover are learned and stored.
    let (ok, out, err) = run(&["ingest", "--file", ATOM]);
    assert!(ok, "{err}");
    assert!(
        out.contains("topics: 35 of 91 learned from 100 papers with arXiv categories"),
        "{out}"
    );
    let (ok, out, _) = run(&["status"]);
    assert!(ok && out.contains("learned topics: 35 of 91, at "), "{out}");
    let store = Store::connect(&url).await.unwrap();
    let learned = store.learned_topics().await.unwrap();
    assert_eq!(learned.topics.len(), 35);
    // Software engineering (cs.SE) is among code generation's categories.
    let code = &learned.topics["code-generation"];
    assert!(code.papers >= 69, "{}", code.papers);
    assert!(code.terms.iter().any(|(w, _)| w == "softwar"), "{code:?}");
    // And each arXiv category with ten papers or more has its own, kept beside them.
    let se = &learned.categories["cs.se"];
    assert!(
        se.papers >= 69 && se.terms.iter().any(|(w, _)| w == "softwar"),
        "{se:?}"
    );
    assert!(learned.categories.values().all(|c| c.papers >= 10));
    // Each is also kept set against the papers of other categories nearest it, for "more
    // like these": from the same papers, weighing the near misses' words down.
    let zone = &learned.zones["cs.se"];
    assert_eq!(zone.papers, se.papers);
    assert_ne!(zone.terms, se.terms);
    assert!(
        learned
            .zones
            .keys()
            .all(|c| learned.categories.contains_key(c))
    );
    assert!(code.floor > 0.0 && code.floor < 1.0, "{}", code.floor);
    // Evolutionary computation is learned from the 16 neuroevolution and search-based
    // testing papers; none of the day's language-model papers is close enough to those to
    // be of the topic, however they compare with each other (without the floor, four were
    // sent, each "Matches Evolutionary and neural computation").
    assert!(learned.topics.contains_key("evolutionary-computation"));
    let (ok, _, err) = run(&preview);
    assert!(!ok && err.contains("nothing matched"), "{err}");

    // A catalogue of the operator's own: relearned by hand, and a topic without enough
    // papers keeps its keywords.
    let topics = dir.path().join("topics.toml");
    std::fs::write(
        &topics,
        r#"
[[topic]]
id = "testing"
name = "Software testing"
group = "Software"
description = "Test generation, fuzzing, metamorphic testing."
categories = ["cs.SE"]
keywords = ["fuzzing"]
phrases = ["test generation"]

[[topic]]
id = "galaxies"
name = "Galaxies"
group = "Astronomy"
description = "Galaxy formation and evolution."
categories = ["astro-ph.GA"]
keywords = ["galaxy"]
phrases = []
"#,
    )
    .unwrap();
    let (ok, out, err) = paperboy_with(
        &url,
        dir.path(),
        &["papers", "learn-topics"],
        &[("PAPERBOY_TOPICS_FILE", topics.display().to_string())],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("topics: 1 of 2 learned from 100 papers"),
        "{out}"
    );
    let learned = store.learned_topics().await.unwrap();
    assert_eq!(
        learned.topics.keys().collect::<Vec<_>>(),
        vec!["testing"],
        "galaxies has no paper: keywords alone"
    );
    store.close().await;
}
