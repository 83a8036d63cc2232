//! The measures of the evaluation: precision, recall and nDCG against a category, the
//! substring baseline, and the seeded generator every draw comes from.

use super::Record;

/// Precision@10, recall@50, nDCG@10.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Metrics {
    pub p10: f64,
    pub r50: f64,
    pub ndcg10: f64,
}

impl Metrics {
    pub(super) fn of(ranked_relevance: &[bool], relevant_total: usize) -> Self {
        let p10 = ranked_relevance.iter().take(10).filter(|r| **r).count() as f64 / 10.0;
        let r50 = if relevant_total == 0 {
            0.0
        } else {
            ranked_relevance.iter().take(50).filter(|r| **r).count() as f64 / relevant_total as f64
        };
        let dcg: f64 = ranked_relevance
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant_total.min(10))
            .map(|i| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        Self {
            p10,
            r50,
            ndcg10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
        }
    }

    pub(super) fn mean(all: &[Metrics]) -> Self {
        let n = all.len().max(1) as f64;
        Self {
            p10: all.iter().map(|m| m.p10).sum::<f64>() / n,
            r50: all.iter().map(|m| m.r50).sum::<f64>() / n,
            ndcg10: all.iter().map(|m| m.ndcg10).sum::<f64>() / n,
        }
    }
}

/// SplitMix64: a small, seeded, reproducible generator (no dependency for a shuffle).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `k` distinct indices of `0..n` (partial Fisher–Yates).
    pub(crate) fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + (self.next() % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k.min(n));
        idx
    }
}

pub(super) fn substring_rank(day: &[&Record], keywords: &[String]) -> Vec<usize> {
    let lowered: Vec<String> = keywords
        .iter()
        .map(|k| k.to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    let mut scored: Vec<(usize, usize)> = day
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = format!("{} {}", r.title, r.abstract_text).to_lowercase();
            (
                i,
                lowered
                    .iter()
                    .map(|k| text.matches(k.as_str()).count())
                    .sum(),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().map(|(i, _)| i).collect()
}

pub(super) fn metrics_for(order: &[usize], day: &[&Record], category: &str) -> Metrics {
    let rel: Vec<bool> = order
        .iter()
        .map(|&i| day[i].categories.iter().any(|c| c == category))
        .collect();
    let total = day
        .iter()
        .filter(|r| r.categories.iter().any(|c| c == category))
        .count();
    Metrics::of(&rel, total)
}

/// FNV-1a: a trial's seed from its name.
pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The baseline's keywords for a liked-paper reader: the liked titles' words.
pub(super) fn title_words(liked: &[&Record]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for r in liked {
        for w in r
            .title
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3)
        {
            let w = w.to_lowercase();
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // Relevant at ranks 1 and 3; 4 relevant in all.
        let m = Metrics::of(&[true, false, true, false], 4);
        assert!((m.p10 - 0.2).abs() < 1e-9);
        assert!((m.r50 - 0.5).abs() < 1e-9);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2() + 1.0 / 5f64.log2();
        assert!((m.ndcg10 - dcg / ideal).abs() < 1e-9);
        assert_eq!(Metrics::of(&[false; 20], 0), Metrics::default());
    }

    #[test]
    fn sampling_is_reproducible_and_distinct() {
        let a = Rng(7).sample(100, 10);
        assert_eq!(a, Rng(7).sample(100, 10));
        let mut d = a.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert_ne!(a, Rng(8).sample(100, 10));
    }
}
