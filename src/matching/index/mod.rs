//! A day's papers analysed once: vocabulary, document frequencies, and inverted lists that
//! let a reader's interests touch only the papers that share a word with them. Matching a
//! million readers streams each through these lists instead of scoring every paper.

use std::collections::HashMap;

use super::bm25::length_norm;
use super::day_stats::DayStats;
use super::learned::LearnedTopics;
use super::text::Analyzer;
use super::vector::{Postings, Vector};
use super::weights::Weights;
use crate::domain::TopicCatalogue;

mod analyse;
mod profiles;
mod terms;

use analyse::{
    Words, authors, by_trend, categories, freshness, idf, places, popularity, tfidf_vectors, trend,
};

/// A paper as the matcher sees it.
#[derive(Clone, Copy, Debug)]
pub struct Doc<'a> {
    pub title: &'a str,
    pub abstract_text: &'a str,
    pub keywords: &'a [String],
    pub authors: &'a [String],
    pub upvotes: i64,
    pub comments: i64,
    pub stars: i64,
    /// Days since the paper was first published, when known.
    pub age_days: Option<u32>,
    /// The organisation the source credits; readers pin or mute it like an author.
    pub organization: Option<&'a str>,
    /// arXiv categories.
    pub categories: &'a [String],
}

impl<'a> Doc<'a> {
    /// A paper known by its title and abstract only; the rest empty.
    pub fn text(title: &'a str, abstract_text: &'a str) -> Self {
        Self {
            title,
            abstract_text,
            keywords: &[],
            authors: &[],
            upvotes: 0,
            comments: 0,
            stars: 0,
            age_days: None,
            organization: None,
            categories: &[],
        }
    }
}

/// One keyword or phrase compiled against the day: the papers it occurs in and its
/// weighted BM25 contribution in each.
#[derive(Clone, Debug)]
pub(crate) struct Term {
    pub text: String,
    pub hits: Postings,
    /// Its term ids (`None` where a stop word stands), weight and idf, to score texts that
    /// are not among the day's papers (a reader's liked papers).
    pub pattern: Vec<Option<u32>>,
    pub weight: f32,
    pub idf: f32,
}

/// A catalogue topic compiled against the day.
#[derive(Clone, Debug)]
pub(crate) struct CompiledTopic {
    pub name: String,
    pub terms: Vec<Term>,
    /// The sum of its terms' contributions per paper.
    pub total: Postings,
    /// What a topic reader gets per paper: `total` plus the learned profile's share (equal
    /// to `total` when the topic has no learned profile).
    pub reader: Postings,
    /// For each entry of `total`, the terms (indices into `terms`) that occur in that paper:
    /// explaining a match is one lookup.
    pub terms_in: Vec<Vec<u16>>,
    /// The rows of the day's `Fields` its arXiv categories have, and what each counts: 1
    /// for its primary category, [`SECONDARY`](super::learned::SECONDARY) for the others.
    pub fields: Vec<(u32, f32)>,
    /// Its keywords' mean score over the papers they occur in (1 when none does): what one
    /// standard deviation of learned closeness adds.
    pub keyword_mean: f32,
}

/// A day of papers, analysed once and matched against any number of readers.
pub struct Day {
    pub(crate) analyzer: Analyzer,
    pub(crate) weights: Weights,
    pub(crate) vocab: HashMap<String, u32>,
    pub(crate) idf: Vec<f32>,
    /// Field token streams with stop-word gaps, per paper, for phrases.
    streams: Vec<[Vec<Option<u32>>; 3]>,
    /// term → (paper, field-weighted term frequency).
    tf: Vec<Postings>,
    /// term → every place it stands: (paper, field, position), in paper order; phrases
    /// are checked only where their rarest word stands.
    places: Vec<Vec<(u32, u8, u32)>>,
    /// K1 · (1 − B + B · len / avg_len) per paper.
    len_norm: Vec<f32>,
    avg_len: f32,
    /// term → (paper, weight in the paper's L2-normalised TF-IDF vector).
    pub(crate) vectors: Vec<Postings>,
    /// Each paper's TF-IDF vector, for explaining a match.
    pub(crate) doc_vectors: Vec<Vector>,
    /// Popularity scaled to 0..=1.
    pub(crate) popularity: Vec<f32>,
    /// What a paper's score is multiplied by for its age: 1 for a new paper.
    pub(crate) freshness: Vec<f32>,
    /// Papers by popularity, most popular first (ties by paper order).
    pub(crate) by_popularity: Vec<u32>,
    /// Lower-cased author (or organisation) name → papers.
    pub(crate) authors: HashMap<String, Vec<u32>>,
    pub(crate) topics: HashMap<String, CompiledTopic>,
    /// Lower-cased arXiv category, and archive alone (`cs`, `hep-th`) → papers.
    pub(crate) categories: HashMap<String, Vec<u32>>,
    /// Catalogue topic ids in catalogue order.
    pub(crate) topic_order: Vec<String>,
    /// The learned topics against the day, for "more like these": each paper's closeness to
    /// each profile in standard deviations over the day, profile-major (profiles × papers),
    /// and which profiles stand for an arXiv category (lower-cased).
    pub(crate) fields: Fields,
    pub(crate) similar: DayStats,
}

/// The day's closeness to the learned profiles, and the profiles of each arXiv category.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    /// Each paper's closeness to each category's profile set against its zone
    /// (`LearnedTopics::zones`, the plain profile when it has none), for the field view of
    /// "more like these", in standard deviations over the day, row-major.
    pub z: Vec<f32>,
    /// Category (lower-cased) → its profile's row.
    pub of_category: HashMap<String, u32>,
    /// Per row, the papers whose nearest category it is (in standard deviations over the
    /// day, above the day's mean and the category's floor), with that closeness capped at
    /// [`LEARNED_CAP`](profiles::LEARNED_CAP): what a topic reader's common field adds. Each
    /// paper is in one list at most, so a reader pays for a category's own papers only.
    pub postings: Vec<Postings>,
}

/// Document frequencies over other stored papers (title and abstract), by analysed word:
/// analyse a corpus once and build many days on it.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    papers: usize,
    df: HashMap<String, u32>,
}

impl Corpus {
    pub fn new(texts: &[(&str, &str)]) -> Self {
        let analyzer = Analyzer::default();
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        for (title, abs) in texts {
            seen.clear();
            seen.extend(
                analyzer
                    .tokens(title)
                    .into_iter()
                    .chain(analyzer.tokens(abs)),
            );
            seen.sort_unstable();
            seen.dedup();
            for t in seen.drain(..) {
                *df.entry(t).or_default() += 1;
            }
        }
        Self {
            papers: texts.len(),
            df,
        }
    }
}

impl Day {
    /// Analyse the day's papers. `corpus` (other stored papers' title and abstract) only
    /// sharpens the document frequencies.
    pub fn new(
        docs: &[Doc<'_>],
        corpus: &[(&str, &str)],
        catalogue: &TopicCatalogue,
        weights: Weights,
    ) -> Self {
        Self::with_corpus(
            docs,
            &Corpus::new(corpus),
            catalogue,
            &LearnedTopics::default(),
            weights,
        )
    }

    /// [`new`](Self::new) on a corpus analysed beforehand, with topic profiles learned from
    /// papers (a topic without one matches by its keywords alone).
    pub fn with_corpus(
        docs: &[Doc<'_>],
        corpus: &Corpus,
        catalogue: &TopicCatalogue,
        learned: &LearnedTopics,
        weights: Weights,
    ) -> Self {
        let analyzer = Analyzer::default();
        let Words {
            vocab,
            tf,
            streams,
            lens,
            mut doc_vectors,
        } = Words::of(docs, &analyzer, &weights);
        let idf = idf(&tf, &vocab, corpus, docs.len());
        let avg_len = (lens.iter().sum::<f32>() / lens.len().max(1) as f32).max(1.0);
        let len_norm = lens.iter().map(|l| length_norm(*l, avg_len)).collect();
        let vectors = tfidf_vectors(&mut doc_vectors, &vocab, &idf);
        let popularity = popularity(docs, &weights);
        let freshness = freshness(docs, &weights);
        let trend = trend(&popularity, &freshness);
        let by_popularity = by_trend(&trend);
        let authors = authors(docs);
        let places = places(&streams, tf.len());
        let categories = categories(docs);
        let mut day = Self {
            analyzer,
            weights,
            vocab,
            idf,
            streams,
            tf,
            places,
            len_norm,
            avg_len,
            vectors,
            doc_vectors,
            popularity: trend,
            freshness,
            by_popularity,
            authors,
            topics: HashMap::new(),
            categories,
            topic_order: catalogue
                .topics()
                .iter()
                .map(|t| t.id.to_string())
                .collect(),
            fields: Fields::default(),
            similar: DayStats::empty(),
        };
        day.topics = day.compile_topics(catalogue);
        day.add_learned(learned);
        day.add_topic_fields(catalogue);
        day.similar = DayStats::new(
            day.topic_order.iter().map(|id| &day.topics[id].total),
            day.idf.len(),
            &day.doc_vectors,
        );
        day
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

/// Author names compare case- and space-insensitively.
pub(crate) fn normalise_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corpus_analysed_once_gives_the_same_day() {
        let catalogue =
            TopicCatalogue::from_toml(include_str!("../../../config/topics.toml")).unwrap();
        let docs = [Doc::text(
            "Graph neural networks",
            "Message passing on graphs.",
        )];
        let texts = [
            ("Graphs", "Spectral graph theory."),
            ("Networks of neurons", "Spiking networks and graphs."),
        ];
        let a = Day::new(&docs, &texts, &catalogue, Weights::default());
        let b = Day::with_corpus(
            &docs,
            &Corpus::new(&texts),
            &catalogue,
            &LearnedTopics::default(),
            Weights::default(),
        );
        assert_eq!(a.idf, b.idf);
        assert_eq!(a.vocab, b.vocab);
        let alone = Day::new(&docs, &[], &catalogue, Weights::default());
        assert_ne!(
            a.idf, alone.idf,
            "the corpus changes the document frequencies"
        );
    }
}
