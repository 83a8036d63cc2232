//! A reader population for the scale benchmark, drawn from real material: topics from the
//! catalogue with a skewed popularity, keywords and phrases from real abstracts (common words
//! picked more often), pinned and muted authors and liked papers from real records. Pure and
//! deterministic for a seed; the timing lives in the CLI.

use std::collections::HashMap;

use super::eval::Rng;
use super::taste::{Rated, Rating};
use crate::domain::{Interests, Keyword, TopicCatalogue, TopicId};

/// A real paper record: the day is drawn from these, and readers like some of them.
#[derive(Clone, Debug)]
pub struct Record {
    pub title: String,
    pub abstract_text: String,
    pub authors: Vec<String>,
    pub upvotes: i64,
    /// arXiv categories, when the record has them: topics are learned from these.
    pub categories: Vec<String>,
}

/// One synthetic reader.
#[derive(Clone, Debug)]
pub struct Reader {
    pub interests: Interests,
    /// Indices into the records: the papers this reader liked.
    pub liked: Vec<u32>,
    /// Papers rated from past digests (one reader in ten holds 5 to 40).
    pub ratings: Vec<Rated<u32>>,
    pub papers: usize,
    pub trending_when_empty: bool,
}

/// Draws rank `r` of `n` with probability ∝ 1 / (r + 1)^s: a few things are very popular,
/// most are rare.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                acc += 1.0 / ((r + 1) as f64).powf(s);
                acc
            })
            .collect();
        Self { cumulative }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative
            .partition_point(|c| *c < u)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
}

/// `k` distinct indices of `0..n`, for drawing a day from the records.
pub(crate) fn sample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    Rng(seed).sample(n, k)
}

/// Build `n` readers. Same seed, same readers.
pub fn population(
    catalogue: &TopicCatalogue,
    records: &[Record],
    n: usize,
    seed: u64,
) -> Vec<Reader> {
    let mut rng = Rng(seed);
    // Topics in a seeded random order, then Zipf over that order.
    let topic_order: Vec<TopicId> = rng
        .sample(catalogue.topics().len(), catalogue.topics().len())
        .into_iter()
        .filter_map(|i| TopicId::parse(catalogue.topics()[i].id.as_str()).ok())
        .collect();
    let topic_zipf = Zipf::new(topic_order.len(), 1.0);
    // Abstract words by frequency; the 100 most common are too generic to be anyone's
    // interest.
    let mut freq: HashMap<String, u32> = HashMap::new();
    for r in records {
        for w in words(&r.abstract_text) {
            *freq.entry(w).or_default() += 1;
        }
    }
    let mut vocabulary: Vec<(String, u32)> = freq.into_iter().filter(|(_, f)| *f >= 3).collect();
    vocabulary.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let common = (vocabulary.len() / 10).min(100);
    let vocabulary: Vec<String> = vocabulary.into_iter().skip(common).map(|w| w.0).collect();
    let word_zipf = Zipf::new(vocabulary.len(), 0.9);
    let record_zipf = Zipf::new(records.len(), 0.8);
    let pick = |rng: &mut Rng, k: u64| rng.next() % k;

    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut topics: Vec<TopicId> = Vec::new();
        for _ in 0..pick(&mut rng, 4) {
            let t = topic_order[topic_zipf.draw(&mut rng)].clone();
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        let mut keywords: Vec<Keyword> = Vec::new();
        for _ in 0..pick(&mut rng, 5).min(vocabulary.len() as u64) {
            keywords.push(Keyword {
                text: vocabulary[word_zipf.draw(&mut rng)].clone(),
                phrase: false,
                excluded: false,
            });
        }
        if pick(&mut rng, 10) == 0 {
            // Two neighbouring words of a real abstract.
            let r = &records[pick(&mut rng, records.len() as u64) as usize];
            let ws: Vec<String> = words(&r.abstract_text).collect();
            if ws.len() >= 2 {
                let i = pick(&mut rng, ws.len() as u64 - 1) as usize;
                keywords.push(Keyword {
                    text: format!("{} {}", ws[i], ws[i + 1]),
                    phrase: true,
                    excluded: false,
                });
            }
        }
        if pick(&mut rng, 10) == 0 && !vocabulary.is_empty() {
            keywords.push(Keyword {
                text: vocabulary[word_zipf.draw(&mut rng)].clone(),
                phrase: false,
                excluded: true,
            });
        }
        let author = |rng: &mut Rng| {
            let r = &records[record_zipf.draw(rng)];
            r.authors
                .get(pick(rng, r.authors.len().max(1) as u64) as usize)
                .cloned()
        };
        let authors: Vec<String> = if pick(&mut rng, 20) == 0 {
            author(&mut rng).into_iter().collect()
        } else {
            Vec::new()
        };
        let muted_authors: Vec<String> = if pick(&mut rng, 50) == 0 {
            author(&mut rng).into_iter().collect()
        } else {
            Vec::new()
        };
        let liked: Vec<u32> = if pick(&mut rng, 30) == 0 {
            (0..1 + pick(&mut rng, 5))
                .map(|_| record_zipf.draw(&mut rng) as u32)
                .collect()
        } else {
            Vec::new()
        };
        if topics.is_empty() && liked.is_empty() && keywords.iter().all(|k| k.excluded) {
            topics.push(topic_order[topic_zipf.draw(&mut rng)].clone());
        }
        // One reader in ten rated 5 to 40 papers of past digests, "fewer" more often than
        // "more" (a digest holds more papers one skims past than one wants more of).
        let ratings: Vec<Rated<u32>> = if pick(&mut rng, 10) == 0 {
            (0..5 + pick(&mut rng, 36) as i64)
                .map(|at| Rated {
                    paper: record_zipf.draw(&mut rng) as u32,
                    rating: if pick(&mut rng, 5) < 2 {
                        Rating::More
                    } else {
                        Rating::Fewer
                    },
                    at,
                })
                .collect()
        } else {
            Vec::new()
        };
        const DIAL: [u8; 8] = [0, 10, 20, 20, 20, 30, 50, 100];
        readers.push(Reader {
            interests: Interests {
                topics,
                keywords: keywords.iter().map(Keyword::canonical).collect(),
                authors,
                liked: Vec::new(),
                muted_authors,
                categories: Vec::new(),
                trending: DIAL[pick(&mut rng, DIAL.len() as u64) as usize],
            },
            liked,
            ratings,
            papers: [5, 10, 10, 10, 20][pick(&mut rng, 5) as usize],
            trending_when_empty: pick(&mut rng, 2) == 0,
        });
    }
    readers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_is_reproducible_and_skewed() {
        let catalogue =
            TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
        let records: Vec<Record> = (0..50)
            .map(|i| Record {
                title: format!("Paper {i}"),
                abstract_text: format!(
                    "graphs networks learning robots vision language speech topic{} topic{}",
                    i % 7,
                    i % 3
                ),
                authors: vec![format!("Author {i}")],
                upvotes: i,
                categories: Vec::new(),
            })
            .collect();
        let a = population(&catalogue, &records, 2000, 1);
        let b = population(&catalogue, &records, 2000, 1);
        assert_eq!(
            a.iter().map(|r| &r.interests).collect::<Vec<_>>(),
            b.iter().map(|r| &r.interests).collect::<Vec<_>>()
        );
        let mut by_topic: HashMap<&str, usize> = HashMap::new();
        for r in &a {
            for t in &r.interests.topics {
                *by_topic.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut counts: Vec<usize> = by_topic.values().copied().collect();
        counts.sort_unstable();
        assert!(
            counts[counts.len() - 1] > 10 * counts[0],
            "the most popular topic is far more common than the rarest: {counts:?}"
        );
        assert!(a.iter().all(|r| !r.interests.topics.is_empty()
            || !r.liked.is_empty()
            || r.interests.keywords.iter().any(|k| !k.starts_with('-'))));
        assert!(a.iter().any(|r| !r.liked.is_empty()));
        assert!(a.iter().any(|r| !r.interests.authors.is_empty()));
        let rated = a.iter().filter(|r| !r.ratings.is_empty()).count();
        assert!((150..250).contains(&rated), "about one in ten: {rated}");
        assert!(
            a.iter()
                .all(|r| r.ratings.is_empty() || (5..=40).contains(&r.ratings.len()))
        );
    }
}
