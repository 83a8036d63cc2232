//! Keywords and phrases compiled against the day: the papers each occurs in and its BM25
//! contribution there; and texts that are not among the day's papers (a reader's liked
//! papers) read in its vocabulary.

use std::collections::HashMap;

use super::{CompiledTopic, Day, Term};
use crate::domain::{Topic, TopicCatalogue};
use crate::matching::bm25::{bm25, length_norm, phrase_idf};
use crate::matching::vector::{Postings, Vector, normalise};

impl Day {
    /// Each catalogue topic's keywords and phrases compiled against the day, by topic id.
    pub(super) fn compile_topics(
        &self,
        catalogue: &TopicCatalogue,
    ) -> HashMap<String, CompiledTopic> {
        catalogue
            .topics()
            .iter()
            .map(|t| {
                let id = t.id.to_string();
                let compiled = self.compile_topic(t);
                (id, compiled)
            })
            .collect()
    }

    fn compile_topic(&self, topic: &Topic) -> CompiledTopic {
        let mut terms = Vec::new();
        for k in &topic.keywords {
            terms.extend(self.term(k, 1.0));
        }
        for p in &topic.phrases {
            terms.extend(self.term(p, self.weights.phrase));
        }
        let mut by_doc: HashMap<u32, (f32, Vec<u16>)> = HashMap::new();
        for (i, t) in terms.iter().enumerate() {
            for (d, s) in &t.hits {
                let e = by_doc.entry(*d).or_default();
                e.0 += s;
                e.1.push(i as u16);
            }
        }
        let mut by_doc: Vec<(u32, (f32, Vec<u16>))> = by_doc.into_iter().collect();
        by_doc.sort_unstable_by_key(|x| x.0);
        let (total, terms_in): (Postings, Vec<Vec<u16>>) =
            by_doc.into_iter().map(|(d, (s, t))| ((d, s), t)).unzip();
        let reader = total.clone();
        let keyword_mean = if total.is_empty() {
            1.0
        } else {
            total.iter().map(|x| x.1).sum::<f32>() / total.len() as f32
        };
        CompiledTopic {
            name: topic.name.clone(),
            terms,
            total,
            reader,
            terms_in,
            fields: Vec::new(),
            keyword_mean,
        }
    }

    /// The term pattern of a keyword or phrase, or `None` when it cannot match this day
    /// (a word no paper uses, or nothing but stop words).
    fn pattern(&self, text: &str) -> Option<Vec<Option<u32>>> {
        let toks = self.analyzer.tokens_with_gaps(text);
        let first = toks.iter().position(Option::is_some)?;
        let last = toks.iter().rposition(Option::is_some)?;
        toks[first..=last]
            .iter()
            .map(|t| match t {
                Some(t) => self.vocab.get(t).map(|id| Some(*id)),
                None => Some(None),
            })
            .collect()
    }

    /// The papers a keyword or phrase occurs in, with its BM25 contribution times `weight`;
    /// `None` when a word of it occurs in no paper of the day.
    pub(crate) fn term(&self, text: &str, weight: f32) -> Option<Term> {
        let pattern = self.pattern(text)?;
        let idf = match pattern.as_slice() {
            [Some(word)] => self.idf[*word as usize],
            phrase => {
                let words: Vec<u32> = phrase.iter().flatten().copied().collect();
                phrase_idf(words.iter().map(|w| self.idf[*w as usize]))
            }
        };
        let hits: Postings = match pattern.as_slice() {
            [Some(word)] => self.tf[*word as usize]
                .iter()
                .map(|&(d, tf)| (d, weight * self.bm25(d, tf, idf)))
                .collect(),
            phrase => {
                // The phrase can only stand where its rarest word stands.
                let (offset, rarest) = phrase
                    .iter()
                    .enumerate()
                    .filter_map(|(i, w)| w.map(|w| (i, w)))
                    .min_by_key(|(_, w)| self.places[*w as usize].len())?;
                let field_weight = [
                    self.weights.title,
                    self.weights.abstract_text,
                    self.weights.keywords,
                ];
                let mut hits: Postings = Vec::new();
                for &(d, f, pos) in &self.places[rarest as usize] {
                    let field = &self.streams[d as usize][f as usize];
                    let Some(start) = (pos as usize).checked_sub(offset) else {
                        continue;
                    };
                    if field.get(start..start + phrase.len()) != Some(phrase) {
                        continue;
                    }
                    match hits.last_mut() {
                        Some(last) if last.0 == d => last.1 += field_weight[f as usize],
                        _ => hits.push((d, field_weight[f as usize])),
                    }
                }
                for h in &mut hits {
                    h.1 = weight * self.bm25(h.0, h.1, idf);
                }
                hits
            }
        };
        Some(Term {
            text: text.to_string(),
            hits,
            pattern,
            weight,
            idf,
        })
    }

    fn bm25(&self, doc: u32, tf: f32, idf: f32) -> f32 {
        bm25(tf, idf, self.len_norm[doc as usize])
    }

    /// BM25's length normalisation for a text of this (field-weighted) length.
    pub(crate) fn len_norm_of(&self, len: f32) -> f32 {
        length_norm(len, self.avg_len)
    }

    /// The L2-normalised TF-IDF vector of field-weighted term frequencies, in this day's
    /// vocabulary: what "more like these" compares.
    pub(crate) fn tfidf(&self, tf: &HashMap<u32, f32>) -> Vector {
        let mut v: Vector = tf
            .iter()
            .map(|(t, f)| (*t, (1.0 + f.ln()) * self.idf[*t as usize]))
            .collect();
        normalise(&mut v);
        v
    }
}
