//! Tools that measure: `paperboy bench matching` (`paperboy eval` is in `eval.rs`).

use std::path::PathBuf;

use crate::config::Config;
use anyhow::{Context, Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Match and rank a population of readers against a day of real papers; prints the
    /// time and the peak memory.
    Matching {
        /// How many readers.
        #[arg(long, default_value_t = 1_000_000)]
        readers: usize,
        /// Papers in the day, drawn from the records.
        #[arg(long, default_value_t = 2000)]
        papers: usize,
        /// Real paper records: JSON lines (title, abstract[, authors, upvotes]) or a JSON
        /// object of records keyed by arXiv id.
        #[arg(long, num_args = 1.., default_values = ["benches/data/hf_daily_papers_2024-01_to_04.json", "benches/data/dev.jsonl"])]
        data: Vec<PathBuf>,
        /// Worker threads; default one per core.
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also time learning the topics from this many labelled papers (the records with
        /// categories, repeated as often as it takes), as `ingest` does over the store.
        #[arg(long)]
        learn_corpus: Option<usize>,
    },
}

pub fn bench(config: &Config, cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Matching {
            readers,
            papers,
            data,
            threads,
            seed,
            learn_corpus,
        } => bench_matching(config, readers, papers, &data, threads, seed, learn_corpus),
    }
}

/// Paper records for the benchmark, from JSON lines or a JSON object keyed by id.
fn bench_records(files: &[PathBuf]) -> Result<Vec<crate::matching::bench::Record>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        title: String,
        #[serde(rename = "abstract")]
        abstract_text: String,
        #[serde(default)]
        authors: Vec<String>,
        #[serde(default)]
        upvotes: i64,
        #[serde(default)]
        categories: Vec<String>,
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let raws: Vec<Raw> = if text.trim_start().starts_with('{') && !text.contains("}\n{") {
            let map: std::collections::BTreeMap<String, Raw> = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON object of records", file.display()))?;
            map.into_values().collect()
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(n, l)| {
                    serde_json::from_str(l)
                        .with_context(|| format!("{}:{}: not a record", file.display(), n + 1))
                })
                .collect::<Result<_>>()?
        };
        out.extend(raws.into_iter().map(|r| crate::matching::bench::Record {
            title: r.title,
            abstract_text: r.abstract_text,
            authors: r.authors,
            upvotes: r.upvotes,
            categories: r.categories,
        }));
    }
    Ok(out)
}

fn bench_matching(
    config: &Config,
    readers: usize,
    papers: usize,
    data: &[PathBuf],
    threads: Option<usize>,
    seed: u64,
    learn_corpus: Option<usize>,
) -> Result<()> {
    use crate::matching::{
        Corpus, Day, Doc, LabelledPaper, LikedPaper, Pick, Scratch, Taste, TopicLearner, bench,
    };
    use std::time::Instant;
    let records = bench_records(data)?;
    if records.is_empty() {
        bail!("no records in {data:?}");
    }
    let catalogue = crate::context::catalogue(config)?;
    let started = Instant::now();
    let population = bench::population(&catalogue, &records, readers, seed);
    let t_population = started.elapsed();
    let day_records = bench::sample(records.len(), papers, seed);
    let docs: Vec<Doc<'_>> = day_records
        .iter()
        .map(|&i| {
            let r = &records[i];
            Doc {
                authors: &r.authors,
                upvotes: r.upvotes,
                ..Doc::text(&r.title, &r.abstract_text)
            }
        })
        .collect();
    let corpus: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.title.as_str(), r.abstract_text.as_str()))
        .collect();
    // Every topic learned, as `ingest` learns them from the stored papers: here from the
    // records with categories outside the day.
    let in_day: std::collections::HashSet<usize> = day_records.iter().copied().collect();
    let labelled: Vec<LabelledPaper<'_>> = records
        .iter()
        .enumerate()
        .filter(|(i, r)| !r.categories.is_empty() && !in_day.contains(i))
        .map(|(_, r)| LabelledPaper {
            title: &r.title,
            abstract_text: &r.abstract_text,
            categories: &r.categories,
        })
        .collect();
    let started = Instant::now();
    let learned = TopicLearner::new(&labelled, &catalogue).learn(&catalogue, |_| true);
    let t_learn = started.elapsed();
    let started = Instant::now();
    let day = Day::with_corpus(
        &docs,
        &Corpus::new(&corpus),
        &catalogue,
        &learned,
        config.matching.clone(),
    );
    let t_day = started.elapsed();
    let started = Instant::now();
    // Each liked or rated paper is analysed once per run, however many readers have it.
    let mut liked: std::collections::HashMap<u32, LikedPaper> = Default::default();
    for r in &population {
        for &i in r.liked.iter().chain(r.ratings.iter().map(|x| &x.paper)) {
            liked.entry(i).or_insert_with(|| {
                let rec = &records[i as usize];
                day.liked_paper(&rec.title, &rec.abstract_text, &rec.categories)
            });
        }
    }
    let t_liked = started.elapsed();
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let chunk = population.len().div_ceil(threads).max(1);
    // personal, trending, nothing, papers chosen, checksum of the choices
    let totals = std::thread::scope(|s| {
        let workers: Vec<_> = population
            .chunks(chunk)
            .map(|part| {
                let (day, liked) = (&day, &liked);
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut t = [0u64; 6];
                    for r in part {
                        let tasted =
                            (!r.liked.is_empty() || !r.ratings.is_empty()).then(Instant::now);
                        // As composing does: the ratings through Taste (Rocchio).
                        let taste: Taste<&LikedPaper> =
                            Taste::learn(&r.liked, &r.ratings).map(|i| liked.get(i));
                        let profile = day.profile_with(&r.interests, &taste);
                        let chosen =
                            match day.pick(&profile, r.papers, r.trending_when_empty, &mut scratch)
                            {
                                Pick::Personal(m) => {
                                    t[0] += 1;
                                    m
                                }
                                Pick::Trending(m) => {
                                    t[1] += 1;
                                    m
                                }
                                Pick::Nothing => {
                                    t[2] += 1;
                                    Vec::new()
                                }
                            };
                        t[3] += chosen.len() as u64;
                        for m in &chosen {
                            t[4] = t[4].wrapping_mul(31).wrapping_add(m.paper as u64);
                        }
                        if let Some(since) = tasted {
                            t[5] += since.elapsed().as_nanos() as u64;
                        }
                    }
                    t
                })
            })
            .collect();
        let mut total = [0u64; 6];
        for w in workers {
            let t = w.join().expect("a matching thread panicked");
            for i in 0..4 {
                total[i] += t[i];
            }
            total[4] ^= t[4];
            total[5] += t[5];
        }
        total
    });
    let t_match = started.elapsed();
    println!(
        "readers {readers}, papers {}, corpus {}, threads {threads}, seed {seed}",
        day.len(),
        records.len()
    );
    println!(
        "build readers {:.2} s | learn topics {} of {} from {} papers {:.2} s | analyse day {:.3} s | liked and rated papers {} in {:.3} s",
        t_population.as_secs_f64(),
        learned.topics.len(),
        catalogue.topics().len(),
        labelled.len(),
        t_learn.as_secs_f64(),
        t_day.as_secs_f64(),
        liked.len(),
        t_liked.as_secs_f64()
    );
    println!(
        "readers with ratings {}",
        population.iter().filter(|r| !r.ratings.is_empty()).count()
    );
    if let Some(n) = learn_corpus {
        // The labelled records repeated to n papers: tokenising and summing cost the same
        // per paper (the vocabulary is smaller than n distinct papers would make).
        let many: Vec<LabelledPaper<'_>> = labelled.iter().copied().cycle().take(n).collect();
        let started = Instant::now();
        let learner = TopicLearner::new(&many, &catalogue);
        let t_analyse = started.elapsed();
        let started = Instant::now();
        let learned = learner.learn(&catalogue, |_| true);
        println!(
            "learn topics from {} papers: analyse {:.2} s + learn {} topics {:.2} s",
            many.len(),
            t_analyse.as_secs_f64(),
            learned.topics.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "match and rank {:.2} s = {:.0} readers/s ({:.1} µs a reader per thread)",
        t_match.as_secs_f64(),
        readers as f64 / t_match.as_secs_f64(),
        t_match.as_secs_f64() * 1e6 * threads as f64 / readers.max(1) as f64
    );
    let tasted = population
        .iter()
        .filter(|r| !r.liked.is_empty() || !r.ratings.is_empty())
        .count();
    println!(
        "of which the {tasted} readers with liked or rated papers {:.2} s of thread time ({:.1} µs each)",
        totals[5] as f64 / 1e9,
        totals[5] as f64 / 1e3 / tasted.max(1) as f64
    );
    println!(
        "personal {} | trending fallback {} | skipped {} | papers chosen {} | checksum {:016x}",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    );
    match crate::measure::peak_rss_mib() {
        Some(mib) => println!("peak memory {mib:.0} MiB"),
        None => println!("peak memory unknown (no /proc/self/status)"),
    }
    Ok(())
}
