//! What "more like these" needs of a day, computed once when the day is analysed: each
//! catalogue topic's spread of scores over the day's papers, and the day's mean TF-IDF
//! vector.

use super::vector::{Postings, Vector};

/// What the day contributes, computed once per day.
pub(crate) struct DayStats {
    /// Per catalogue topic (in `Day::topic_order`): mean and standard deviation of its score
    /// over the day's papers.
    pub(super) topic_stats: Vec<(f32, f32)>,
    /// Its papers' topic scores standardised, topic-major (topics × papers): a reader's
    /// topical closeness to every paper is then one contiguous multiply-add per topic, which
    /// vectorises, where a short dot product per paper does not.
    pub(super) topic_z: Vec<f32>,
    pub(super) topic_norm: Vec<f32>,
    /// The day's mean TF-IDF vector (dense by term), and each paper's dot product with it.
    pub(super) mean: Vec<f32>,
    pub(super) mean_dot: Vec<f32>,
}

impl DayStats {
    /// Before the day is analysed.
    pub(crate) fn empty() -> Self {
        Self {
            topic_stats: Vec::new(),
            topic_z: Vec::new(),
            topic_norm: Vec::new(),
            mean: Vec::new(),
            mean_dot: Vec::new(),
        }
    }

    /// From each catalogue topic's keyword scores (`CompiledTopic::total`, in
    /// `Day::topic_order`), the size of the day's vocabulary and its papers' TF-IDF vectors.
    pub(crate) fn new<'a>(
        topic_totals: impl ExactSizeIterator<Item = &'a Postings>,
        words: usize,
        doc_vectors: &[Vector],
    ) -> Self {
        let n = doc_vectors.len();
        let topics = topic_totals.len();
        let mut topic_stats = Vec::with_capacity(topics);
        let mut topic_z = vec![0.0; n * topics];
        for (t, total) in topic_totals.enumerate() {
            let mut raw = vec![0.0; n];
            for &(d, s) in total {
                raw[d as usize] = s;
            }
            let (mean, std) = mean_std(&raw);
            for (d, r) in raw.iter().enumerate() {
                topic_z[t * n + d] = (r - mean) / std;
            }
            topic_stats.push((mean, std));
        }
        let topic_norm = (0..n)
            .map(|d| {
                (0..topics)
                    .map(|t| topic_z[t * n + d] * topic_z[t * n + d])
                    .sum::<f32>()
                    .sqrt()
                    .max(1e-3)
            })
            .collect();
        let mut mean = vec![0.0; words];
        for v in doc_vectors {
            for (t, x) in v {
                mean[*t as usize] += x / n.max(1) as f32;
            }
        }
        let mean_dot = doc_vectors
            .iter()
            .map(|v| v.iter().map(|(t, x)| x * mean[*t as usize]).sum())
            .collect();
        Self {
            topic_stats,
            topic_z,
            topic_norm,
            mean,
            mean_dot,
        }
    }
}

/// The mean of `v` and its standard deviation (at least 10⁻³).
pub(crate) fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt().max(1e-3))
}
