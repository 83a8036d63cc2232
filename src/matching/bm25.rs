//! BM25 scoring, shared by the day's index and topic learning.

/// BM25 saturation and length normalisation.
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A phrase is rarer than its words: its idf is their mean times this.
const PHRASE_IDF: f32 = 1.5;

/// A phrase's idf from its words' (stop words left out).
pub(crate) fn phrase_idf(words: impl ExactSizeIterator<Item = f32>) -> f32 {
    let n = words.len().max(1) as f32;
    PHRASE_IDF * words.sum::<f32>() / n
}

/// BM25's length normalisation of a text of this (field-weighted) length among texts of
/// this mean length.
pub(crate) fn length_norm(len: f32, avg_len: f32) -> f32 {
    K1 * (1.0 - B + B * len / avg_len)
}

pub(crate) fn bm25(tf: f32, idf: f32, len_norm: f32) -> f32 {
    idf * tf * (K1 + 1.0) / (tf + len_norm)
}
