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
    // The run as one variant of a cross-validation: nothing to choose, so the held-out
    // estimate is the run's own mean over the categories.
    let run = dir.path().join("run.txt");
    std::fs::write(&run, &out).unwrap();
    let (ok, cv, err) = paperboy(
        &db,
        dir.path(),
        &[
            "eval",
            "cross-validate",
            "--figure",
            "topic",
            "--groups",
            "2",
            run.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let cv: Value = serde_json::from_str(cv.lines().last().unwrap()).unwrap();
    assert!(
        (cv["estimate"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{cv}"
    );
    // Only some categories: each has the figures it had in the run of all. A category with
    // fewer than 40 records is reported when asked, after the others and outside the
    // averages.
    let mut only = ARGS.to_vec();
    only.extend(["--categories", "cs.CV,cs.CL", "--report-from", "15"]);
    let (ok, out, err) = paperboy(&db, dir.path(), &only);
    assert!(ok, "{err}");
    let some: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for reader in ["topic_readers", "liked_paper_readers", "rated_readers"] {
        let one = some[reader]["per_category"].as_object().unwrap();
        assert_eq!(one.len(), 2, "{some}");
        assert_eq!(one["cs.CV"], per(reader)["cs.CV"], "{reader}");
        assert!(
            !per(reader).contains_key("cs.CL"),
            "17 records: not in a plain run"
        );
    }
    assert_eq!(some["outside_average"], serde_json::json!(["cs.CL"]));
    assert!(out.contains("cs.CL*"), "{out}");
    let cl = &some["liked_paper_readers"]["per_category"]["cs.CL"]["ndcg@10"];
    assert!((0.0..=1.0).contains(&cl.as_f64().unwrap()), "{some}");
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
    let mut tiny = ARGS.to_vec();
    tiny.extend(["--report-from", "5"]);
    let (ok, _, err) = paperboy(&db, dir.path(), &tiny);
    assert!(!ok && err.contains("at least 10 records"), "{err}");

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

/// One figure per category, as `eval matching` ends its output.
fn run_json(figures: &[(&str, f64)]) -> String {
    let per: serde_json::Map<String, Value> = figures
        .iter()
        .map(|(c, f)| (c.to_string(), serde_json::json!({"day5": {"ndcg@10": f}})))
        .collect();
    format!(
        "a table first\n{}\n",
        serde_json::json!({"rated_readers": {"per_category": per}})
    )
}

#[test]
fn cross_validation_chooses_on_the_other_groups_and_refuses_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let cats = ["cs.AI", "cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.RO"];
    let write = |name: &str, f: &dyn Fn(usize) -> f64| {
        let path = dir.path().join(name);
        let figures: Vec<(&str, f64)> = cats.iter().enumerate().map(|(i, c)| (*c, f(i))).collect();
        std::fs::write(&path, run_json(&figures)).unwrap();
        path.to_str().unwrap().to_string()
    };
    // "steady" is 0.5 everywhere; "spiky" is 0.9 on cs.AI and 0.45 elsewhere. The group
    // holding cs.AI out chooses "steady" (0.5 > 0.45 on the rest); the other two choose
    // "spiky" ((0.9 + 3 × 0.45) / 4 > 0.5 on theirs) and get 0.45 where they are judged.
    let steady = write("steady.txt", &|_| 0.5);
    let spiky = write("spiky.txt", &|i| if i == 0 { 0.9 } else { 0.45 });
    let args = |figure: &str, groups: &str, runs: &[&str]| {
        let mut a = vec![
            "eval",
            "cross-validate",
            "--figure",
            figure,
            "--groups",
            groups,
        ];
        a.extend_from_slice(runs);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        paperboy(&db, dir.path(), &a)
    };
    let (ok, out, err) = run(args("rated-day5", "3", &[&spiky, &steady]));
    assert!(ok, "{err}");
    assert!(
        out.starts_with("rated-day5 (nDCG@10), 2 runs, 6 categories in 3 groups"),
        "{out}"
    );
    let cv: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    // On all six, "spiky" wins: (0.9 + 5 × 0.45) / 6 = 0.525 > 0.5; held out, it falls
    // below either: (2 × 0.5 + 4 × 0.45) / 6.
    assert!(
        cv["best_on_all"]["run"]
            .as_str()
            .unwrap()
            .ends_with("spiky.txt"),
        "{cv}"
    );
    assert!((cv["best_on_all"]["ndcg@10"].as_f64().unwrap() - 0.525).abs() < 1e-9);
    let held_out = (2.0 * 0.5 + 4.0 * 0.45) / 6.0;
    assert!(
        (cv["estimate"].as_f64().unwrap() - held_out).abs() < 1e-9,
        "{cv}"
    );
    let groups = cv["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    let with_spike = groups
        .iter()
        .find(|g| {
            g["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "cs.AI")
        })
        .unwrap();
    assert!(
        with_spike["chosen"]
            .as_str()
            .unwrap()
            .ends_with("steady.txt"),
        "{cv}"
    );
    assert!(
        with_spike["best_here"]
            .as_str()
            .unwrap()
            .ends_with("spiky.txt"),
        "{cv}"
    );

    // What it cannot use is refused with what to do.
    let refused = |a: Vec<String>, says: &str| {
        let (ok, out, err) = run(a);
        assert!(!ok, "{out}");
        assert!(err.contains(says), "{says:?} not in {err}");
    };
    refused(
        args("liked", "3", &[&steady]),
        "no liked_paper_readers.per_category",
    );
    refused(
        args("rated-day11", "3", &[&steady]),
        "rated-dayN with N from 1 to 10",
    );
    refused(
        args("rated-day5", "7", &[&steady]),
        "7 groups of 6 categories: say from 2 to 6",
    );
    refused(
        args("rated-day5", "3", &["/nonexistent/run.txt"]),
        "cannot read /nonexistent/run.txt",
    );
    let table = dir.path().join("table.txt");
    std::fs::write(&table, "cs.AI 0.5\n").unwrap();
    refused(
        args("rated-day5", "3", &[table.to_str().unwrap()]),
        "its last line is not JSON",
    );
    let fewer = dir.path().join("fewer.txt");
    std::fs::write(&fewer, run_json(&[("cs.AI", 0.5), ("cs.LG", 0.5)])).unwrap();
    refused(
        args("rated-day5", "2", &[&steady, fewer.to_str().unwrap()]),
        "is in one only",
    );
    let text = dir.path().join("text.txt");
    std::fs::write(
        &text,
        run_json(&[("cs.AI", 0.5)]).replace("0.5", "\"high\""),
    )
    .unwrap();
    refused(
        args("rated-day5", "2", &[text.to_str().unwrap()]),
        "cs.AI.day5.ndcg@10 is not a number",
    );
    let huge = dir.path().join("huge.txt");
    std::fs::write(&huge, "x".repeat(5_000_000)).unwrap();
    refused(
        args("topic", "2", &[huge.to_str().unwrap()]),
        "its last line is not JSON",
    );
}
