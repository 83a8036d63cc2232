//! `paperboy eval matching` as an operator runs it.

use serde_json::Value;

use crate::cli::paperboy;

const ARGS: &[&str] = &[
    "eval",
    "matching",
    "--data",
    "tests/fixtures/eval/dev_first_400.jsonl",
    "--seed",
    "3",
];

#[test]
fn eval_matching_prints_the_table_and_a_json_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let (ok, out, err) = paperboy(&db, dir.path(), ARGS);
    assert!(ok, "{err}");
    assert!(out.starts_with("400 records, seed 3"));
    assert!(out.lines().any(|l| l.starts_with("cs.CV ")), "{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for reader in ["topic_readers", "liked_paper_readers"] {
        for metric in ["p@10", "r@50", "ndcg@10"] {
            let v = last[reader][metric].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{reader} {metric} {v}");
        }
        // On these CS records the matcher beats the substring baseline.
        assert!(
            last[reader]["ndcg@10"].as_f64() > last["baseline"][reader]["ndcg@10"].as_f64(),
            "{last}"
        );
    }
    // Rated readers: every day present, and the ratings teach the matcher something.
    let rated = &last["rated_readers"];
    for day in 1..=5 {
        for metric in ["p@10", "ndcg@10"] {
            let v = rated[format!("day{day}")][metric].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "day{day} {metric} {v}");
        }
    }
    assert!(
        rated["day5"]["ndcg@10"].as_f64() > rated["day1"]["ndcg@10"].as_f64(),
        "{rated}"
    );
    // The same seed gives the same figures.
    let (_, again, _) = paperboy(&db, dir.path(), ARGS);
    assert_eq!(again, out);

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"title\": \"x\", \"abstract\": \"y\", \"categories\": [\"cs.LG\"]}\nnot json\n",
    )
    .unwrap();
    let (ok, _, err) = paperboy(
        &db,
        dir.path(),
        &["eval", "matching", "--data", bad.to_str().unwrap()],
    );
    assert!(!ok && err.contains("bad.jsonl:2"), "{err}");
}
