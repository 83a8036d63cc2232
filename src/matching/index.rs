//! A day's papers analysed once: vocabulary, document frequencies, and inverted lists that
//! let a reader's interests touch only the papers that share a word with them. Matching a
//! million readers streams each through these lists instead of scoring every paper.

use std::collections::HashMap;

use super::bm25::{bm25, length_norm, phrase_idf};
use super::day_stats::DayStats;
use super::learned::{LearnedTopic, LearnedTopics, SECONDARY};
use super::text::Analyzer;
use super::vector::{Postings, Vector, dot, normalise};
use super::weights::Weights;
use crate::domain::{Topic, TopicCatalogue};

/// One standard deviation of closeness to a topic's learned profile weighs the topic's mean
/// keyword score of the day, up to this many standard deviations: like BM25's term
/// frequency, closeness saturates, so that one outlying paper does not swamp the keywords.
const LEARNED_CAP: f32 = 2.0;
/// A paper joins the lists of the learned topics it is closest to, this many.
const NEAREST: usize = 3;

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
    /// for its primary category, [`SECONDARY`] for the others.
    pub fields: Vec<(u32, f32)>,
    /// Its keywords' mean score over the papers they occur in (1 when none does): what one
    /// standard deviation of learned closeness adds.
    pub keyword_mean: f32,
}

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
    /// [`LEARNED_CAP`]: what a topic reader's common field adds. Each paper is in one list
    /// at most, so a reader pays for a category's own papers only.
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

    /// Each catalogue topic's keywords and phrases compiled against the day, by topic id.
    fn compile_topics(&self, catalogue: &TopicCatalogue) -> HashMap<String, CompiledTopic> {
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

    /// Each topic's category rows of the day's `Fields`: 1 for its primary category,
    /// [`SECONDARY`] for the others.
    fn add_topic_fields(&mut self, catalogue: &TopicCatalogue) {
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

    /// Topic readers' lists with the learned profiles: each paper goes to the
    /// [`NEAREST`] topics it is closest to (in standard deviations over the day, above the
    /// day's mean), and adds to those topics' lists only. A reader of many topics then gets
    /// the papers that belong to one of them, not every paper near a broad field.
    fn add_learned(&mut self, learned: &LearnedTopics) {
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

/// The day's papers tokenised, each word given an id in the order it is first met.
struct Words {
    vocab: HashMap<String, u32>,
    /// term → (paper, field-weighted term frequency).
    tf: Vec<Postings>,
    /// Field token streams (title, abstract, keywords) with stop-word gaps, per paper.
    streams: Vec<[Vec<Option<u32>>; 3]>,
    /// Each paper's field-weighted length.
    lens: Vec<f32>,
    /// Each paper's field-weighted title and abstract term frequencies, for its TF-IDF
    /// vector.
    doc_vectors: Vec<Vector>,
}

impl Words {
    fn of(docs: &[Doc<'_>], analyzer: &Analyzer, weights: &Weights) -> Self {
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
fn idf(tf: &[Postings], vocab: &HashMap<String, u32>, corpus: &Corpus, papers: usize) -> Vec<f32> {
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
fn tfidf_vectors(
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
fn popularity(docs: &[Doc<'_>], weights: &Weights) -> Vec<f32> {
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
fn freshness(docs: &[Doc<'_>], weights: &Weights) -> Vec<f32> {
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
fn trend(popularity: &[f32], freshness: &[f32]) -> Vec<f32> {
    popularity
        .iter()
        .zip(freshness)
        .map(|(p, f)| p * f)
        .collect()
}

/// Papers by trend, most trending first (ties by paper order).
fn by_trend(trend: &[f32]) -> Vec<u32> {
    let mut by_popularity: Vec<u32> = (0..trend.len() as u32).collect();
    by_popularity.sort_by(|a, b| {
        trend[*b as usize]
            .total_cmp(&trend[*a as usize])
            .then(a.cmp(b))
    });
    by_popularity
}

/// Lower-cased author (or organisation) name → papers.
fn authors(docs: &[Doc<'_>]) -> HashMap<String, Vec<u32>> {
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
fn places(streams: &[[Vec<Option<u32>>; 3]], words: usize) -> Vec<Vec<(u32, u8, u32)>> {
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
fn categories(docs: &[Doc<'_>]) -> HashMap<String, Vec<u32>> {
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
            TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
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
