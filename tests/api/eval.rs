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
    for day in 1..=10 {
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

    // Per category, inside each kind of reader; the macro average is their mean.
    let per = |reader: &str| last[reader]["per_category"].as_object().unwrap().clone();
    let topics = per("topic_readers");
    assert!(topics.len() >= 2, "{last}");
    let mean = topics
        .values()
        .map(|v| v["ndcg@10"].as_f64().unwrap())
        .sum::<f64>()
        / topics.len() as f64;
    assert!(
        (mean - last["topic_readers"]["ndcg@10"].as_f64().unwrap()).abs() < 1e-9,
        "{last}"
    );
    assert_eq!(per("liked_paper_readers").len(), topics.len());
    assert!(
        per("rated_readers")["cs.CV"]["day5"]["ndcg@10"].is_f64(),
        "{last}"
    );
    assert!(topics["cs.CV"]["topics"].is_array(), "{last}");
    // Only some categories: each has the figures it had in the run of all.
    let mut only = ARGS.to_vec();
    only.extend(["--categories", "cs.CV"]);
    let (ok, out, err) = paperboy(&db, dir.path(), &only);
    assert!(ok, "{err}");
    let some: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for reader in ["topic_readers", "liked_paper_readers", "rated_readers"] {
        let one = some[reader]["per_category"].as_object().unwrap();
        assert_eq!(one.len(), 1, "{some}");
        assert_eq!(one["cs.CV"], per(reader)["cs.CV"], "{reader}");
    }
    assert_eq!(
        some["liked_paper_readers"]["ndcg@10"],
        per("liked_paper_readers")["cs.CV"]["ndcg@10"]
    );
    // A category the records do not hold enough of is refused, with those they do.
    let mut wrong = ARGS.to_vec();
    wrong.extend(["--categories", "cs.CV,astro-ph"]);
    let (ok, _, err) = paperboy(&db, dir.path(), &wrong);
    assert!(
        !ok && err.contains("\"astro-ph\" is not a category"),
        "{err}"
    );
    assert!(err.contains("cs.CV"), "{err}");

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
