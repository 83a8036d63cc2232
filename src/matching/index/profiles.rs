//! The learned topic and category profiles against the day: what closeness to a topic's
//! profile adds to a topic reader's lists, and the day's closeness to each category's.

use super::{Day, Fields};
use crate::domain::TopicCatalogue;
use crate::matching::learned::{LearnedTopic, LearnedTopics, SECONDARY};
use crate::matching::vector::{Postings, Vector, dot};

/// One standard deviation of closeness to a topic's learned profile weighs the topic's mean
/// keyword score of the day, up to this many standard deviations: like BM25's term
/// frequency, closeness saturates, so that one outlying paper does not swamp the keywords.
const LEARNED_CAP: f32 = 2.0;
/// A paper joins the lists of the learned topics it is closest to, this many.
const NEAREST: usize = 3;

/// A learned topic profile against the day: its centroid in the day's words, the mean and
/// standard deviation of the day's papers' closeness to it, and what one standard deviation
/// above the mean adds to a paper's score.
#[derive(Clone, Debug)]
pub(crate) struct LearnedDay {
    centroid: Vector,
    mean: f32,
    std: f32,
    scale: f32,
    /// Below this closeness a paper is not of the topic (the learned profile's floor).
    floor: f32,
}

impl LearnedDay {
    /// How close a paper with this TF-IDF vector is, in standard deviations over the day;
    /// `None` below the topic's floor.
    fn z(&self, v: &Vector) -> Option<f32> {
        let close = dot(&self.centroid, v);
        (close >= self.floor).then(|| (close - self.mean) / self.std)
    }

    /// How close, in standard deviations over the day, floor or not.
    fn raw_z(&self, v: &Vector) -> f32 {
        (dot(&self.centroid, v) - self.mean) / self.std
    }
}

impl Day {
    /// Each topic's category rows of the day's `Fields`: 1 for its primary category,
    /// [`SECONDARY`] for the others.
    pub(super) fn add_topic_fields(&mut self, catalogue: &TopicCatalogue) {
        for t in catalogue.topics() {
            let mut rows: Vec<(u32, f32)> = Vec::new();
            for (i, c) in t.categories.iter().enumerate() {
                if let Some(&r) = self.fields.of_category.get(&c.to_lowercase())
                    && !rows.iter().any(|x| x.0 == r)
                {
                    rows.push((r, if i == 0 { 1.0 } else { SECONDARY }));
                }
            }
            if let Some(topic) = self.topics.get_mut(t.id.as_str()) {
                topic.fields = rows;
            }
        }
    }

    /// Topic readers' lists with the learned profiles: each paper goes to the
    /// [`NEAREST`] topics it is closest to (in standard deviations over the day, above the
    /// day's mean), and adds to those topics' lists only. A reader of many topics then gets
    /// the papers that belong to one of them, not every paper near a broad field.
    pub(super) fn add_learned(&mut self, learned: &LearnedTopics) {
        let close = self.closeness_to_topics(learned);
        self.fields = self.category_fields(learned);
        if close.is_empty() {
            return;
        }
        self.add_nearest_topics(&close);
    }

    /// For each catalogue topic with a learned profile: its index in `topic_order`, what one
    /// standard deviation of closeness adds, and each paper's closeness to the profile in
    /// standard deviations over the day (0 below the profile's floor).
    fn closeness_to_topics(&self, learned: &LearnedTopics) -> Vec<(usize, f32, Vec<f32>)> {
        let mut close: Vec<(usize, f32, Vec<f32>)> = Vec::new();
        for (i, id) in self.topic_order.iter().enumerate() {
            let (Some(l), Some(topic)) = (learned.topics.get(id), self.topics.get(id)) else {
                continue;
            };
            if let Some(day) = self.learn_topic(l, &topic.total) {
                let z = self
                    .doc_vectors
                    .iter()
                    .map(|v| day.z(v).unwrap_or(0.0))
                    .collect();
                close.push((i, day.scale, z));
            }
        }
        close
    }

    /// The day against each arXiv category's learned profile (and its zone's), and each
    /// paper in the list of the one category it is nearest to.
    fn category_fields(&self, learned: &LearnedTopics) -> Fields {
        let n = self.len();
        let mut fields = Fields::default();
        // Per row, whether each paper is above the day's mean and the category's floor.
        let mut passes: Vec<Vec<bool>> = Vec::new();
        // Per row, each paper's closeness to the category's plain profile.
        let mut plain: Vec<f32> = Vec::new();
        for (c, l) in &learned.categories {
            if let Some(day) = self.learn_topic(l, &Vec::new()) {
                let row = fields.of_category.len() as u32;
                fields.of_category.insert(c.clone(), row);
                let z: Vec<f32> = self.doc_vectors.iter().map(|v| day.raw_z(v)).collect();
                passes.push(
                    z.iter()
                        .map(|z| *z > 0.0 && day.mean + *z * day.std >= day.floor)
                        .collect(),
                );
                let zone = learned
                    .zones
                    .get(c)
                    .and_then(|l| self.learn_topic(l, &Vec::new()));
                match zone {
                    Some(day) => fields
                        .z
                        .extend(self.doc_vectors.iter().map(|v| day.raw_z(v))),
                    None => fields.z.extend_from_slice(&z),
                }
                plain.extend(z);
            }
        }
        // Each paper to the one category it is nearest to (ties to the first row): as a
        // paper joins its nearest topics, a reader's field then brings that field's papers,
        // not every paper near it.
        fields.postings = vec![Vec::new(); passes.len()];
        for d in 0..n {
            let nearest = (0..passes.len())
                .filter(|r| passes[*r][d])
                .map(|r| (r, plain[r * n + d]))
                .reduce(|a, b| if b.1 > a.1 { b } else { a });
            if let Some((r, z)) = nearest {
                fields.postings[r].push((d as u32, z.min(LEARNED_CAP)));
            }
        }
        fields
    }

    /// Each paper added to the reader lists of the [`NEAREST`] topics in `close` (from
    /// [`closeness_to_topics`](Self::closeness_to_topics)) it is closest to.
    fn add_nearest_topics(&mut self, close: &[(usize, f32, Vec<f32>)]) {
        let n = self.len();
        let mut added: Vec<Postings> = vec![Vec::new(); close.len()];
        let mut best: Vec<(usize, f32)> = Vec::new();
        for d in 0..n {
            best.clear();
            best.extend(
                close
                    .iter()
                    .enumerate()
                    .map(|(k, c)| (k, c.2[d]))
                    .filter(|x| x.1 > 0.0),
            );
            best.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for &(k, z) in best.iter().take(NEAREST) {
                added[k].push((d as u32, close[k].1 * z.min(LEARNED_CAP)));
            }
        }
        for ((i, _, _), add) in close.iter().zip(added) {
            let id = &self.topic_order[*i];
            let Some(topic) = self.topics.get_mut(id) else {
                continue;
            };
            let mut all = vec![0.0f32; n];
            for &(d, s) in &topic.total {
                all[d as usize] = s;
            }
            for (d, s) in add {
                all[d as usize] += s;
            }
            topic.reader = all
                .into_iter()
                .enumerate()
                .filter(|(_, s)| *s > 0.0)
                .map(|(d, s)| (d as u32, s))
                .collect();
        }
    }

    /// A learned profile against the day. One standard deviation of closeness weighs the
    /// topic's mean keyword score of the day (1 when no paper of the day has a keyword), up
    /// to [`LEARNED_CAP`].
    fn learn_topic(&self, l: &LearnedTopic, keyword_scores: &Postings) -> Option<LearnedDay> {
        let mut centroid: Vector = l
            .terms
            .iter()
            .filter_map(|(w, x)| Some((*self.vocab.get(w)?, *x)))
            .collect();
        if centroid.is_empty() || self.is_empty() {
            return None;
        }
        centroid.sort_unstable_by_key(|x| x.0);
        let mut close = vec![0.0f32; self.len()];
        for (t, q) in &centroid {
            for &(d, w) in &self.vectors[*t as usize] {
                close[d as usize] += q * w;
            }
        }
        let n = close.len() as f32;
        let mean = close.iter().sum::<f32>() / n;
        let std = (close.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n)
            .sqrt()
            .max(1e-3);
        let keyword_mean = if keyword_scores.is_empty() {
            1.0
        } else {
            keyword_scores.iter().map(|x| x.1).sum::<f32>() / keyword_scores.len() as f32
        };
        Some(LearnedDay {
            centroid,
            mean,
            std,
            scale: keyword_mean,
            floor: l.floor,
        })
    }
}
