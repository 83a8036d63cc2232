//! The steps of analysing a day's papers: their words, idf, TF-IDF vectors, popularity and
//! freshness, and the lists by author, category and word place.

use std::collections::HashMap;

use super::{Corpus, Doc, normalise_name};
use crate::matching::text::Analyzer;
use crate::matching::vector::{Postings, Vector, normalise};
use crate::matching::weights::Weights;

/// The day's papers tokenised, each word given an id in the order it is first met.
pub(super) struct Words {
    pub(super) vocab: HashMap<String, u32>,
    /// term → (paper, field-weighted term frequency).
    pub(super) tf: Vec<Postings>,
    /// Field token streams (title, abstract, keywords) with stop-word gaps, per paper.
    pub(super) streams: Vec<[Vec<Option<u32>>; 3]>,
    /// Each paper's field-weighted length.
    pub(super) lens: Vec<f32>,
    /// Each paper's field-weighted title and abstract term frequencies, for its TF-IDF
    /// vector.
    pub(super) doc_vectors: Vec<Vector>,
}

impl Words {
    pub(super) fn of(docs: &[Doc<'_>], analyzer: &Analyzer, weights: &Weights) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut tf: Vec<Postings> = Vec::new();
        let mut fields = Vec::with_capacity(docs.len());
        let mut lens = Vec::with_capacity(docs.len());
        let field_weight = [weights.title, weights.abstract_text, weights.keywords];
        let mut doc_tf: HashMap<u32, f32> = HashMap::new();
        // Title and abstract term frequencies per paper, for its TF-IDF vector.
        let mut doc_vectors: Vec<Vector> = Vec::with_capacity(docs.len());
        for (i, d) in docs.iter().enumerate() {
            let kw = d.keywords.join(" . ");
            let f: [Vec<Option<u32>>; 3] = [d.title, d.abstract_text, kw.as_str()].map(|text| {
                analyzer
                    .tokens_with_gaps(text)
                    .into_iter()
                    .map(|t| {
                        t.map(|t| {
                            let next = vocab.len() as u32;
                            let id = *vocab.entry(t).or_insert(next);
                            if id as usize == tf.len() {
                                tf.push(Vec::new());
                            }
                            id
                        })
                    })
                    .collect()
            });
            doc_tf.clear();
            let mut len = 0.0;
            for (field, w) in f.iter().zip(field_weight) {
                for t in field.iter().flatten() {
                    *doc_tf.entry(*t).or_default() += w;
                    len += w;
                }
            }
            for (t, f) in &doc_tf {
                tf[*t as usize].push((i as u32, *f));
            }
            doc_tf.clear();
            for (field, w) in f[..2].iter().zip(field_weight) {
                for t in field.iter().flatten() {
                    *doc_tf.entry(*t).or_default() += w;
                }
            }
            doc_vectors.push(doc_tf.iter().map(|(t, f)| (*t, *f)).collect());
            fields.push(f);
            lens.push(len);
        }
        Self {
            vocab,
            tf,
            streams: fields,
            lens,
            doc_vectors,
        }
    }
}

/// Each word's idf over the day's `papers` and the corpus.
pub(super) fn idf(
    tf: &[Postings],
    vocab: &HashMap<String, u32>,
    corpus: &Corpus,
    papers: usize,
) -> Vec<f32> {
    let n = (papers + corpus.papers) as f32;
    let mut df: Vec<f32> = tf.iter().map(|p| p.len() as f32).collect();
    for (w, id) in vocab {
        if let Some(c) = corpus.df.get(w) {
            df[*id as usize] += *c as f32;
        }
    }
    df.iter()
        .map(|&d| ((n - d + 0.5) / (d + 0.5)).ln_1p())
        .collect()
}

/// TF-IDF vectors over title and abstract, for "more like these": each paper's term
/// frequencies in `doc_vectors` become its L2-normalised TF-IDF vector, sorted by word;
/// returns each word's list of (paper, weight).
pub(super) fn tfidf_vectors(
    doc_vectors: &mut [Vector],
    vocab: &HashMap<String, u32>,
    idf: &[f32],
) -> Vec<Postings> {
    // Single letters (variable names, list markers) carry no topic; numbers may.
    let mut usable = vec![false; idf.len()];
    for (w, id) in vocab {
        usable[*id as usize] = w.chars().count() > 1 || w.chars().all(|c| c.is_ascii_digit());
    }
    for v in doc_vectors.iter_mut() {
        v.retain(|(t, _)| usable[*t as usize]);
        for (t, f) in v.iter_mut() {
            *f = (1.0 + f.ln()) * idf[*t as usize];
        }
    }
    let mut vectors: Vec<Postings> = vec![Vec::new(); idf.len()];
    for (d, v) in doc_vectors.iter_mut().enumerate() {
        normalise(v);
        for &(t, w) in v.iter() {
            vectors[t as usize].push((d as u32, w));
        }
    }
    vectors
}

/// Each paper's popularity (log upvotes, comments and stars, weighted) scaled to 0..=1.
pub(super) fn popularity(docs: &[Doc<'_>], weights: &Weights) -> Vec<f32> {
    let raw: Vec<f32> = docs
        .iter()
        .map(|d| {
            (d.upvotes.max(0) as f32).ln_1p()
                + weights.comments * (d.comments.max(0) as f32).ln_1p()
                + weights.stars * (d.stars.max(0) as f32).ln_1p()
        })
        .collect();
    let max_pop = raw.iter().copied().fold(0.0, f32::max).max(f32::EPSILON);
    raw.iter().map(|p| p / max_pop).collect()
}

/// What each paper's score is multiplied by for its age: 1 for a new paper.
pub(super) fn freshness(docs: &[Doc<'_>], weights: &Weights) -> Vec<f32> {
    docs.iter()
        .map(|d| {
            let kept = d.age_days.map_or(1.0, |age| {
                0.5f32.powf(age as f32 / weights.freshness_half_life_days.max(0.1))
            });
            1.0 - weights.freshness.clamp(0.0, 1.0) * (1.0 - kept)
        })
        .collect()
}

/// Trending: popular and fresh.
pub(super) fn trend(popularity: &[f32], freshness: &[f32]) -> Vec<f32> {
    popularity
        .iter()
        .zip(freshness)
        .map(|(p, f)| p * f)
        .collect()
}

/// Papers by trend, most trending first (ties by paper order).
pub(super) fn by_trend(trend: &[f32]) -> Vec<u32> {
    let mut by_popularity: Vec<u32> = (0..trend.len() as u32).collect();
    by_popularity.sort_by(|a, b| {
        trend[*b as usize]
            .total_cmp(&trend[*a as usize])
            .then(a.cmp(b))
    });
    by_popularity
}

/// Lower-cased author (or organisation) name → papers.
pub(super) fn authors(docs: &[Doc<'_>]) -> HashMap<String, Vec<u32>> {
    let mut authors: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        for a in d.authors.iter().map(String::as_str).chain(d.organization) {
            let list = authors.entry(normalise_name(a)).or_default();
            if list.last() != Some(&(i as u32)) {
                list.push(i as u32);
            }
        }
    }
    authors
}

/// term → every place it stands in `streams`: (paper, field, position), in paper order.
pub(super) fn places(streams: &[[Vec<Option<u32>>; 3]], words: usize) -> Vec<Vec<(u32, u8, u32)>> {
    let mut places: Vec<Vec<(u32, u8, u32)>> = vec![Vec::new(); words];
    for (d, f) in streams.iter().enumerate() {
        for (fi, field) in f.iter().enumerate() {
            for (pos, t) in field.iter().enumerate() {
                if let Some(t) = t {
                    places[*t as usize].push((d as u32, fi as u8, pos as u32));
                }
            }
        }
    }
    places
}

/// Lower-cased arXiv category, and archive alone (`cs`, `hep-th`) → papers.
pub(super) fn categories(docs: &[Doc<'_>]) -> HashMap<String, Vec<u32>> {
    let mut categories: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        for c in d.categories {
            let c = c.to_lowercase();
            let archive = c.split('.').next().unwrap_or_default().to_string();
            for key in [c, archive] {
                let list = categories.entry(key).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
    }
    categories
}
