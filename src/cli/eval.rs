//! `paperboy eval`: matching quality on labelled records, and choosing among variants of
//! the matcher by cross-validation over category groups.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::config::Config;
use crate::matching::eval;

#[derive(Subcommand)]
pub(crate) enum EvalCommand {
    /// Matching quality on labelled records (JSON lines: title, abstract, categories).
    Matching {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Evaluate only these arXiv categories (comma-separated, e.g. cs.AI,cs.LG): each
        /// gets the figures it gets in the run of all.
        #[arg(long, value_delimiter = ',')]
        categories: Vec<String>,
        /// Also report categories with at least this many records (fewer than 40), each on
        /// its own after the others, outside the averages (whose figures stay the same).
        #[arg(long, default_value_t = eval::MIN_RECORDS)]
        report_from: usize,
    },
    /// Choose among variants by cross-validation over category groups: for each group of
    /// categories, the variant best on the other groups, judged on this one. Give one
    /// output of `eval matching` per variant (a build or a configuration), made on the same
    /// records with the same seed.
    CrossValidate {
        /// The figure to choose on: topic, liked, or rated-dayN (nDCG@10).
        #[arg(long)]
        figure: eval::Figure,
        /// How many groups the categories are dealt into.
        #[arg(long, default_value_t = 5)]
        groups: usize,
        /// The runs, one file each (its last line, the JSON, is read; categories outside
        /// its averages are left out); ties go to the first.
        #[arg(required = true, num_args = 1..)]
        runs: Vec<PathBuf>,
    },
}

pub fn eval(config: &Config, cmd: EvalCommand) -> Result<()> {
    match cmd {
        EvalCommand::Matching {
            data,
            seed,
            categories,
            report_from,
        } => eval_matching(config, &data, seed, &categories, report_from),
        EvalCommand::CrossValidate {
            figure,
            groups,
            runs,
        } => cross_validate(figure, groups, &runs),
    }
}

fn eval_matching(
    config: &Config,
    data: &std::path::Path,
    seed: u64,
    only: &[String],
    report_from: usize,
) -> Result<()> {
    if report_from < eval::REPORT_FROM_AT_LEAST {
        anyhow::bail!(
            "--report-from {report_from}: a category needs at least {} records to be evaluated",
            eval::REPORT_FROM_AT_LEAST
        );
    }
    let text =
        std::fs::read_to_string(data).with_context(|| format!("cannot read {}", data.display()))?;
    let mut records = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: eval::Record = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: not a record with title, abstract, categories",
                data.display(),
                n + 1
            )
        })?;
        records.push(r);
    }
    let catalogue = crate::context::catalogue(config)?;
    let eligible = eval::eligible_categories(&records, report_from);
    let only: Vec<String> = only
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if let Some(c) = only.iter().find(|c| !eligible.contains(c)) {
        anyhow::bail!(
            "{c:?} is not a category of {} with at least {} records; these are: {}",
            data.display(),
            report_from.min(eval::MIN_RECORDS),
            eligible.join(", ")
        );
    }
    let only = (!only.is_empty()).then_some(&only[..]);
    let report = eval::evaluate(
        &records,
        &catalogue,
        seed,
        &config.matching,
        only,
        report_from,
    );
    // `+ 0.0` turns a -0.0 into 0.0 for printing.
    let f = |m: &eval::Metrics| {
        format!(
            "{:.3} {:.3} {:.3}",
            m.p10 + 0.0,
            m.r50 + 0.0,
            m.ndcg10 + 0.0
        )
    };
    // A category outside the averages is marked, and said so under the table.
    let marked = |c: &eval::CategoryResult| {
        if c.in_average {
            c.category.clone()
        } else {
            format!("{}*", c.category)
        }
    };
    println!(
        "{} records, seed {seed}; per category: p@10 r@50 nDCG@10",
        records.len()
    );
    println!(
        "{:<20} {:>5}  {:<17}  {:<17}  {:<17}  {:<17}  topics",
        "category", "n", "topic reader", "topic baseline", "liked reader", "liked baseline"
    );
    for c in &report.categories {
        let topic = if c.topics.is_empty() {
            "uncovered        ".to_string()
        } else {
            f(&c.topic_reader)
        };
        println!(
            "{:<20} {:>5}  {:<17}  {:<17}  {:<17}  {:<17}  {}",
            marked(c),
            c.records,
            topic,
            f(&c.topic_baseline),
            f(&c.liked_reader),
            f(&c.liked_baseline),
            c.topics.join(",")
        );
    }
    let covered = report
        .categories
        .iter()
        .filter(|c| !c.topics.is_empty())
        .count();
    if report.categories.iter().any(|c| !c.in_average) {
        println!(
            "* fewer than {} records: reported, not averaged",
            eval::MIN_RECORDS
        );
    }
    println!(
        "coverage: {covered} of {} categories have a topic",
        report.categories.len()
    );
    println!(
        "macro average:  topic reader {}  baseline {}  |  liked reader {}  baseline {}",
        f(&report.topic_readers),
        f(&report.topic_baseline),
        f(&report.liked_paper_readers),
        f(&report.liked_baseline)
    );
    let days = |d: &[eval::Metrics]| {
        d.iter()
            .map(|m| format!("{:.3}", m.ndcg10 + 0.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "rated readers, nDCG@10 day 1 to {} (p@10):",
        eval::RATED_DAYS
    );
    for c in &report.categories {
        println!("{:<20} {:>5}  {}", marked(c), c.records, days(&c.rated));
    }
    println!(
        "macro average:  rated reader {}  (p@10 {})",
        days(&report.rated_readers),
        report
            .rated_readers
            .iter()
            .map(|m| format!("{:.3}", m.p10 + 0.0))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let m =
        |m: &eval::Metrics| serde_json::json!({"p@10": m.p10, "r@50": m.r50, "ndcg@10": m.ndcg10});
    // Rated readers' figures keyed day1 … dayN (recall@50 is not part of their protocol).
    let by_day = |days: &[eval::Metrics]| -> serde_json::Value {
        days.iter()
            .enumerate()
            .map(|(d, m)| {
                (
                    format!("day{}", d + 1),
                    serde_json::json!({"ndcg@10": m.ndcg10, "p@10": m.p10}),
                )
            })
            .collect::<serde_json::Map<String, serde_json::Value>>()
            .into()
    };
    // Per category, keyed by it: the weak fields in every run. A category no topic covers
    // counts as zero in the topic readers' average, and says so here.
    let per_category = |f: &dyn Fn(&eval::CategoryResult) -> serde_json::Value| {
        report
            .categories
            .iter()
            .map(|c| (c.category.clone(), f(c)))
            .collect::<serde_json::Map<String, serde_json::Value>>()
    };
    let mut topic_readers = m(&report.topic_readers);
    topic_readers["per_category"] = per_category(&|c| {
        let mut v = m(&c.topic_reader);
        v["topics"] = serde_json::json!(c.topics);
        v
    })
    .into();
    let mut liked_paper_readers = m(&report.liked_paper_readers);
    liked_paper_readers["per_category"] = per_category(&|c| m(&c.liked_reader)).into();
    let mut rated = by_day(&report.rated_readers);
    rated["per_category"] = per_category(&|c| by_day(&c.rated)).into();
    println!(
        "{}",
        serde_json::json!({
            "topic_readers": topic_readers,
            "liked_paper_readers": liked_paper_readers,
            "baseline": {"topic_readers": m(&report.topic_baseline), "liked_paper_readers": m(&report.liked_baseline)},
            "rated_readers": rated,
            "outside_average": report.categories.iter().filter(|c| !c.in_average).map(|c| &c.category).collect::<Vec<_>>(),
        })
    );
    Ok(())
}

/// One run's figure per category, from the JSON line `eval matching` ends with.
fn scored_run(path: &Path, figure: eval::Figure) -> Result<eval::ScoredRun> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let json: serde_json::Value = serde_json::from_str(last).with_context(|| {
        format!(
            "{}: its last line is not JSON: give the output of `paperboy eval matching`",
            path.display()
        )
    })?;
    let (reader, keys) = figure.json_path();
    let per = json[reader]["per_category"].as_object().with_context(|| {
        format!(
            "{}: no {reader}.per_category: run `paperboy eval matching` again with this build",
            path.display()
        )
    })?;
    // The averages' categories only: one reported from fewer records is too noisy to
    // choose on.
    let outside: Vec<&str> = json["outside_average"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    let mut per_category = std::collections::BTreeMap::new();
    for (category, entry) in per.iter().filter(|(c, _)| !outside.contains(&c.as_str())) {
        let value = keys
            .iter()
            .fold(entry, |v, k| &v[k.as_str()])
            .as_f64()
            .with_context(|| {
                format!(
                    "{}: {reader}.per_category.{category}.{} is not a number",
                    path.display(),
                    keys.join(".")
                )
            })?;
        per_category.insert(category.clone(), value);
    }
    Ok(eval::ScoredRun {
        name: path.display().to_string(),
        per_category,
    })
}

fn cross_validate(figure: eval::Figure, groups: usize, paths: &[PathBuf]) -> Result<()> {
    let runs = paths
        .iter()
        .map(|p| scored_run(p, figure))
        .collect::<Result<Vec<_>>>()?;
    let cv = eval::cross_validate(&runs, groups)?;
    let name = |i: usize| runs[i].name.as_str();
    println!(
        "{figure} (nDCG@10), {} runs, {} categories in {groups} groups; ties go to the first run",
        runs.len(),
        cv.groups.iter().map(|g| g.categories.len()).sum::<usize>()
    );
    for (i, g) in cv.groups.iter().enumerate() {
        println!(
            "group {}: {}\n  chosen on the rest: {} ({:.3} there), held out {:.3}; best here {} ({:.3})",
            i + 1,
            g.categories.join(" "),
            name(g.chosen),
            g.on_the_rest,
            g.held_out,
            name(g.best_here),
            g.best_here_figure
        );
    }
    for (run, mean) in runs.iter().zip(&cv.means) {
        println!("{:.3} on all categories: {}", mean, run.name);
    }
    println!(
        "held-out estimate {:.3}; the best on all categories, {}, reports {:.3}",
        cv.estimate,
        name(cv.best_on_all),
        cv.best_on_all_figure
    );
    let groups_json: Vec<serde_json::Value> = cv
        .groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "categories": g.categories,
                "chosen": name(g.chosen),
                "on_the_rest": g.on_the_rest,
                "held_out": g.held_out,
                "best_here": name(g.best_here),
                "best_here_figure": g.best_here_figure,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "figure": figure.to_string(),
            "groups": groups_json,
            "estimate": cv.estimate,
            "best_on_all": {"run": name(cv.best_on_all), "ndcg@10": cv.best_on_all_figure},
            "means": runs.iter().zip(&cv.means).map(|(r, m)| serde_json::json!({"run": r.name, "ndcg@10": m})).collect::<Vec<_>>(),
        })
    );
    Ok(())
}
