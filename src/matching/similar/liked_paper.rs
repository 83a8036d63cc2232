//! A liked paper analysed against the day: its TF-IDF vector, its place among the catalogue
//! topics, how its words are spelled, and its arXiv categories' profiles.

use std::collections::HashMap;

use super::LikedPaper;
use crate::matching::bm25::bm25;
use crate::matching::index::Day;

impl Day {
    /// Analyse a paper a reader liked (its title and abstract).
    pub fn liked_paper(
        &self,
        title: &str,
        abstract_text: &str,
        categories: &[String],
    ) -> LikedPaper {
        let texts = [title, abstract_text];
        let (tf, len) = self.term_frequencies(texts);
        let topic_z = self.topic_z(texts, &tf, len);
        LikedPaper {
            title: title.to_string(),
            vector: self.tfidf(&tf),
            topic_z,
            surface: self.spellings(texts),
            fields: self.category_rows(categories),
        }
    }

    /// The texts' field-weighted frequencies of the day's words, and their field-weighted
    /// length (every word counted, the day's or not).
    fn term_frequencies(&self, texts: [&str; 2]) -> (HashMap<u32, f32>, f32) {
        let field_weight = [self.weights.title, self.weights.abstract_text];
        let mut tf: HashMap<u32, f32> = HashMap::new();
        let mut len = 0.0;
        for (text, w) in texts.iter().zip(field_weight) {
            for t in self.analyzer.tokens(text) {
                len += w;
                if let Some(id) = self.vocab.get(&t) {
                    *tf.entry(*id).or_default() += w;
                }
            }
        }
        (tf, len)
    }

    /// The texts' standardised score for each catalogue topic (in `topic_order`), as a
    /// topic reader's BM25 would score them among the day's papers.
    fn topic_z(&self, texts: [&str; 2], tf: &HashMap<u32, f32>, len: f32) -> Vec<f32> {
        let (fields, present) = self.phrase_streams(texts);
        let field_weight = [self.weights.title, self.weights.abstract_text];
        let len_norm = self.len_norm_of(len);
        self.topic_order
            .iter()
            .zip(&self.similar.topic_stats)
            .map(|(id, (mean, std))| {
                let mut score = 0.0;
                for term in &self.topics[id].terms {
                    let f = match term.pattern.as_slice() {
                        [Some(word)] => tf.get(word).copied().unwrap_or(0.0),
                        // A phrase with a word the paper lacks is not in it (a gap, `None`,
                        // stands for a stop word).
                        phrase
                            if phrase
                                .iter()
                                .any(|w| w.is_some_and(|w| present.binary_search(&w).is_err())) =>
                        {
                            0.0
                        }
                        phrase => fields
                            .iter()
                            .zip(field_weight)
                            .map(|(field, w)| {
                                w * field.windows(phrase.len()).filter(|x| *x == phrase).count()
                                    as f32
                            })
                            .sum(),
                    };
                    if f > 0.0 {
                        score += term.weight * bm25(f, term.idf, len_norm);
                    }
                }
                (score - mean) / std
            })
            .collect()
    }

    /// Each text's words as the day's term ids with stop-word gaps, for phrases, and every
    /// id in them, sorted.
    fn phrase_streams(&self, texts: [&str; 2]) -> (Vec<Vec<Option<u32>>>, Vec<u32>) {
        let fields: Vec<Vec<Option<u32>>> = texts
            .iter()
            .map(|text| {
                self.analyzer
                    .tokens_with_gaps(text)
                    .into_iter()
                    // A word the day does not have can never complete a pattern.
                    .map(|t| t.map(|t| self.vocab.get(&t).copied().unwrap_or(u32::MAX)))
                    .collect()
            })
            .collect();
        // Every word a phrase could match, to pass over the phrases that cannot.
        let mut present: Vec<u32> = fields.iter().flatten().flatten().copied().collect();
        present.sort_unstable();
        present.dedup();
        (fields, present)
    }

    /// How the texts spell each of the day's words they have (the first spelling), by term.
    fn spellings(&self, texts: [&str; 2]) -> Vec<(u32, String)> {
        let mut surface: Vec<(u32, String)> = Vec::new();
        for text in texts {
            for word in text.split(|c: char| !c.is_alphanumeric()) {
                for t in self.analyzer.tokens(word) {
                    if let Some(id) = self.vocab.get(&t)
                        && !surface.iter().any(|s| s.0 == *id)
                    {
                        surface.push((*id, word.to_lowercase()));
                    }
                }
            }
        }
        // By term, to be looked up: each word's first spelling was kept above.
        surface.sort_unstable_by_key(|s| s.0);
        surface
    }

    /// The rows of the day's `Fields` of these arXiv categories that have a profile, sorted.
    fn category_rows(&self, categories: &[String]) -> Vec<u32> {
        let mut fields: Vec<u32> = categories
            .iter()
            .filter_map(|c| self.fields.of_category.get(&c.to_lowercase()).copied())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        fields
    }
}
