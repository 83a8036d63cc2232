use std::collections::HashMap;

use super::text::Analyzer;
use crate::domain::{Interests, TopicCatalogue};

/// BM25 saturation and length normalisation.
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// How much each part counts. Field weights multiply term frequencies (BM25F-style).
#[derive(Clone, Debug)]
pub struct Weights {
    pub title: f32,
    pub abstract_text: f32,
    pub keywords: f32,
    /// Weight of a reader's own keyword relative to a catalogue topic's.
    pub own_keyword: f32,
    /// Weight of a multi-word phrase relative to a single word.
    pub phrase: f32,
    /// 0 = all personal, 1 = all trending.
    pub trending_blend: f32,
    /// Weight of "more like these" similarity relative to keyword relevance.
    pub liked: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            title: 2.5,
            abstract_text: 1.0,
            keywords: 1.5,
            own_keyword: 2.0,
            phrase: 1.5,
            trending_blend: 0.2,
            liked: 1.0,
        }
    }
}

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
}

type Vector = Vec<(u32, f32)>;

struct DocTerms {
    /// Field token streams with stop-word gaps, for phrases.
    fields: [Vec<Option<u32>>; 3],
    /// Field-weighted term frequency.
    tf: HashMap<u32, f32>,
    len: f32,
    /// L2-normalised TF-IDF of title and abstract, sorted by term.
    vector: Vector,
    authors: Vec<String>,
    popularity: f32,
}

/// A day of papers, analysed once and scored against any number of profiles.
pub struct Day {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    docs: Vec<DocTerms>,
    avg_len: f32,
    max_popularity: f32,
    weights: Weights,
    analyzer: Analyzer,
}

/// Why a paper was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// The interest that matched: a topic's name, "your keywords", "your authors",
    /// "papers you liked".
    pub interest: String,
    /// The words it matched on.
    pub words: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// Index into the day's papers.
    pub paper: usize,
    pub score: f32,
    pub relevance: f32,
    pub reasons: Vec<Reason>,
}

/// What matched in one paper, before it becomes a [`Reason`].
enum Hit {
    Term { interest: usize, text: String },
    Liked,
    Author,
}

struct Scored {
    paper: usize,
    relevance: f32,
    hits: Vec<Hit>,
}

struct QueryTerm {
    /// Term ids in order; `None` where the phrase has a stop word, which must stand there too.
    tokens: Vec<Option<u32>>,
    weight: f32,
    interest: usize,
    text: String,
}

/// A reader's interests compiled against a day's vocabulary.
pub struct Profile {
    interests: Vec<String>,
    terms: Vec<QueryTerm>,
    excluded: Vec<Vec<Option<u32>>>,
    authors: Vec<String>,
    liked: Option<Vector>,
}

impl Day {
    /// Analyse the day's papers. `corpus` (other stored papers' title and abstract) only
    /// sharpens the document frequencies.
    pub fn new(docs: &[Doc<'_>], corpus: &[(&str, &str)], weights: Weights) -> Self {
        let analyzer = Analyzer::default();
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let intern = |t: String, vocab: &mut HashMap<String, u32>, df: &mut Vec<u32>| -> u32 {
            let next = vocab.len() as u32;
            let id = *vocab.entry(t).or_insert(next);
            if id as usize == df.len() {
                df.push(0);
            }
            id
        };
        let mut analysed = Vec::with_capacity(docs.len());
        for d in docs {
            let kw = d.keywords.join(" . ");
            let fields: [Vec<Option<u32>>; 3] =
                [d.title, d.abstract_text, kw.as_str()].map(|text| {
                    analyzer
                        .tokens_with_gaps(text)
                        .into_iter()
                        .map(|t| t.map(|t| intern(t, &mut vocab, &mut df)))
                        .collect()
                });
            let mut tf: HashMap<u32, f32> = HashMap::new();
            let field_weight = [weights.title, weights.abstract_text, weights.keywords];
            let mut len = 0.0;
            for (field, w) in fields.iter().zip(field_weight) {
                for t in field.iter().flatten() {
                    *tf.entry(*t).or_default() += w;
                    len += w;
                }
            }
            for t in tf.keys() {
                df[*t as usize] += 1;
            }
            let popularity = (d.upvotes.max(0) as f32).ln_1p()
                + 0.5 * (d.comments.max(0) as f32).ln_1p()
                + 0.3 * (d.stars.max(0) as f32).ln_1p();
            analysed.push(DocTerms {
                fields,
                tf,
                len,
                vector: Vec::new(),
                authors: d.authors.iter().map(|a| a.to_lowercase()).collect(),
                popularity,
            });
        }
        let mut n = docs.len() as f32;
        for (title, abs) in corpus {
            n += 1.0;
            let mut seen: Vec<u32> = analyzer
                .tokens(title)
                .into_iter()
                .chain(analyzer.tokens(abs))
                .filter_map(|t| vocab.get(&t).copied())
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                df[t as usize] += 1;
            }
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((n - d as f32 + 0.5) / (d as f32 + 0.5)).ln_1p())
            .collect();
        for d in &mut analysed {
            d.vector = tfidf(&d.tf, &idf);
        }
        let avg_len = analysed.iter().map(|d| d.len).sum::<f32>() / analysed.len().max(1) as f32;
        let max_popularity = analysed.iter().map(|d| d.popularity).fold(0.0, f32::max);
        Self {
            vocab,
            idf,
            docs: analysed,
            avg_len,
            max_popularity,
            weights,
            analyzer,
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The term pattern of a keyword or phrase, or `None` when it cannot match this day
    /// (a word no paper uses, or nothing but stop words).
    fn ids(&self, text: &str) -> Option<Vec<Option<u32>>> {
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

    /// Compile a reader's interests against this day. `liked` are the title and abstract of
    /// papers the reader liked ("more like these").
    pub fn profile(
        &self,
        interests: &Interests,
        catalogue: &TopicCatalogue,
        liked: &[(&str, &str)],
    ) -> Profile {
        let mut p = Profile {
            interests: Vec::new(),
            terms: Vec::new(),
            excluded: Vec::new(),
            authors: Vec::new(),
            liked: None,
        };
        for topic in interests
            .topics
            .iter()
            .filter_map(|t| catalogue.get(t.as_str()))
        {
            let i = p.interests.len();
            p.interests.push(topic.name.clone());
            for k in &topic.keywords {
                self.push_term(&mut p, k, 1.0, i);
            }
            for ph in &topic.phrases {
                self.push_term(&mut p, ph, self.weights.phrase, i);
            }
        }
        let own = p.interests.len();
        p.interests.push("your keywords".into());
        for k in interests.keyword_terms() {
            if k.excluded {
                if let Some(ids) = self.ids(&k.text) {
                    p.excluded.push(ids);
                }
            } else {
                let w = self.weights.own_keyword * if k.phrase { self.weights.phrase } else { 1.0 };
                self.push_term(&mut p, &k.text, w, own);
            }
        }
        p.authors = interests.authors.iter().map(|a| a.to_lowercase()).collect();
        if !liked.is_empty() {
            let mut centroid: HashMap<u32, f32> = HashMap::new();
            for (title, abs) in liked {
                let mut tf: HashMap<u32, f32> = HashMap::new();
                for (text, w) in [
                    (title, self.weights.title),
                    (abs, self.weights.abstract_text),
                ] {
                    for t in self.analyzer.tokens(text) {
                        if let Some(id) = self.vocab.get(&t) {
                            *tf.entry(*id).or_default() += w;
                        }
                    }
                }
                for (t, v) in tfidf(&tf, &self.idf) {
                    *centroid.entry(t).or_default() += v;
                }
            }
            p.liked = Some(normalise(centroid.into_iter().collect()));
        }
        p
    }

    fn push_term(&self, p: &mut Profile, text: &str, weight: f32, interest: usize) {
        if let Some(tokens) = self.ids(text) {
            p.terms.push(QueryTerm {
                tokens,
                weight,
                interest,
                text: text.to_string(),
            });
        }
    }

    fn phrase_tf(&self, doc: &DocTerms, phrase: &[Option<u32>]) -> f32 {
        let field_weight = [
            self.weights.title,
            self.weights.abstract_text,
            self.weights.keywords,
        ];
        let mut tf = 0.0;
        for (field, w) in doc.fields.iter().zip(field_weight) {
            if field.len() >= phrase.len() {
                let hits = field
                    .windows(phrase.len())
                    .filter(|win| win == &phrase)
                    .count();
                tf += hits as f32 * w;
            }
        }
        tf
    }

    fn bm25(&self, doc: &DocTerms, tf: f32, idf: f32) -> f32 {
        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * doc.len / self.avg_len.max(1.0)))
    }

    /// Score every paper for a profile; the top `n`, best first, ties by paper order.
    pub fn rank(&self, p: &Profile, n: usize) -> Vec<Match> {
        let mut scored: Vec<Scored> = Vec::with_capacity(self.docs.len());
        for (i, doc) in self.docs.iter().enumerate() {
            if p.excluded.iter().any(|ex| match ex.as_slice() {
                [Some(word)] => doc.tf.contains_key(word),
                phrase => self.phrase_tf(doc, phrase) > 0.0,
            }) {
                continue;
            }
            let mut rel = 0.0;
            let mut hits = Vec::new();
            for t in &p.terms {
                let (tf, idf) = match t.tokens.as_slice() {
                    [Some(word)] => (
                        doc.tf.get(word).copied().unwrap_or(0.0),
                        self.idf[*word as usize],
                    ),
                    phrase => {
                        let words: Vec<f32> = phrase
                            .iter()
                            .flatten()
                            .map(|w| self.idf[*w as usize])
                            .collect();
                        let idf = words.iter().sum::<f32>() / words.len().max(1) as f32;
                        (self.phrase_tf(doc, phrase), idf * 1.5)
                    }
                };
                if tf > 0.0 {
                    rel += t.weight * self.bm25(doc, tf, idf);
                    hits.push(Hit::Term {
                        interest: t.interest,
                        text: t.text.clone(),
                    });
                }
            }
            if let Some(liked) = &p.liked {
                let sim = dot(liked, &doc.vector);
                rel += self.weights.liked * sim * 10.0;
                if sim > 0.1 {
                    hits.push(Hit::Liked);
                }
            }
            if !p.authors.is_empty() && doc.authors.iter().any(|a| p.authors.contains(a)) {
                rel += 1000.0;
                hits.push(Hit::Author);
            }
            scored.push(Scored {
                paper: i,
                relevance: rel,
                hits,
            });
        }
        let max_rel = scored
            .iter()
            .map(|s| s.relevance)
            .fold(0.0, f32::max)
            .max(f32::EPSILON);
        let blend = self.weights.trending_blend.clamp(0.0, 1.0);
        let max_pop = self.max_popularity.max(f32::EPSILON);
        let mut matches: Vec<Match> = scored
            .into_iter()
            .map(|s| {
                let popularity = self.docs[s.paper].popularity / max_pop;
                Match {
                    paper: s.paper,
                    score: (1.0 - blend) * s.relevance / max_rel + blend * popularity,
                    relevance: s.relevance,
                    reasons: reasons(&p.interests, s.hits),
                }
            })
            .collect();
        matches.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.paper.cmp(&b.paper)));
        matches.truncate(n);
        matches
    }
}

fn reasons(interests: &[String], hits: Vec<Hit>) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    for hit in hits {
        let (interest, word) = match hit {
            Hit::Term { interest, text } => (interests[interest].clone(), Some(text)),
            Hit::Liked => ("papers you liked".to_string(), None),
            Hit::Author => ("your authors".to_string(), None),
        };
        let i = match out.iter().position(|r| r.interest == interest) {
            Some(i) => i,
            None => {
                out.push(Reason {
                    interest,
                    words: Vec::new(),
                });
                out.len() - 1
            }
        };
        if let Some(w) = word
            && !out[i].words.contains(&w)
        {
            out[i].words.push(w);
        }
    }
    out
}

fn tfidf(tf: &HashMap<u32, f32>, idf: &[f32]) -> Vector {
    normalise(
        tf.iter()
            .map(|(t, f)| (*t, (1.0 + f.ln()) * idf[*t as usize]))
            .collect(),
    )
}

fn normalise(mut v: Vector) -> Vector {
    v.sort_unstable_by_key(|x| x.0);
    let norm = v
        .iter()
        .map(|x| x.1 * x.1)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    for x in &mut v {
        x.1 /= norm;
    }
    v
}

/// Dot product of two sparse vectors sorted by term.
fn dot(a: &Vector, b: &Vector) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Interests;

    fn catalogue() -> TopicCatalogue {
        TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap()
    }

    fn doc<'a>(title: &'a str, abs: &'a str, authors: &'a [String], upvotes: i64) -> Doc<'a> {
        Doc {
            title,
            abstract_text: abs,
            keywords: &[],
            authors,
            upvotes,
            comments: 0,
            stars: 0,
        }
    }

    fn interests(keywords: &str, authors: &[&str], topics: &[&str]) -> Interests {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        Interests::parse(&catalogue(), &topics, keywords, &authors.join("\n")).unwrap()
    }

    #[test]
    fn phrases_exclusions_authors_and_the_trending_dial() {
        let none: Vec<String> = vec![];
        let lecun = vec!["Yann LeCun".to_string()];
        let docs = [
            doc(
                "Graphs and neural networks for molecules",
                "We study a network of graphs.",
                &none,
                50,
            ),
            doc(
                "A graph neural network for traffic",
                "Graph neural networks forecast traffic.",
                &none,
                1,
            ),
            doc(
                "Medical graph neural networks",
                "A graph neural network for medical images.",
                &none,
                5,
            ),
            doc("Self-supervised vision", "Joint embeddings.", &lecun, 0),
        ];
        let day = Day::new(
            &docs,
            &[],
            Weights {
                trending_blend: 0.0,
                ..Weights::default()
            },
        );
        let p = day.profile(
            &interests("\"graph neural network\" -medical", &[], &[]),
            &catalogue(),
            &[],
        );
        let ranked = day.rank(&p, 10);
        assert_eq!(ranked[0].paper, 1, "the exact phrase first");
        assert!(
            ranked.iter().all(|m| m.paper != 2),
            "excluded word removes the paper"
        );
        assert_eq!(
            ranked[0].reasons,
            [Reason {
                interest: "your keywords".into(),
                words: vec!["graph neural network".into()]
            }]
        );
        // Doc 0 has the words but not next to each other: no phrase match.
        assert!(
            ranked
                .iter()
                .find(|m| m.paper == 0)
                .is_none_or(|m| m.relevance == 0.0)
        );

        let p = day.profile(
            &interests("traffic", &["yann lecun"], &[]),
            &catalogue(),
            &[],
        );
        let ranked = day.rank(&p, 2);
        assert_eq!(ranked[0].paper, 3, "a pinned author comes first");
        assert_eq!(ranked[0].reasons[0].interest, "your authors");

        let trending = Day::new(
            &docs,
            &[],
            Weights {
                trending_blend: 1.0,
                ..Weights::default()
            },
        );
        let p = trending.profile(&interests("traffic", &[], &[]), &catalogue(), &[]);
        assert_eq!(
            trending
                .rank(&p, 4)
                .iter()
                .map(|m| m.paper)
                .collect::<Vec<_>>(),
            [0, 2, 1, 3],
            "all trending: by popularity"
        );
    }

    #[test]
    fn topics_and_liked_papers_give_reasons() {
        let none: Vec<String> = vec![];
        let docs = [
            doc(
                "Quantum error correction with surface codes",
                "Qubits and logical gates.",
                &none,
                0,
            ),
            doc(
                "Diffusion models for image generation",
                "Text to image synthesis.",
                &none,
                0,
            ),
        ];
        let day = Day::new(&docs, &[], Weights::default());
        let p = day.profile(&interests("", &[], &["quantum"]), &catalogue(), &[]);
        let ranked = day.rank(&p, 2);
        assert_eq!(ranked[0].paper, 0);
        assert_eq!(
            ranked[0].reasons[0].interest,
            catalogue().get("quantum").unwrap().name
        );
        assert!(
            ranked[0].reasons[0]
                .words
                .contains(&"quantum error correction".to_string())
        );
        let liked = [(
            "Latent diffusion for images",
            "Image generation with diffusion models.",
        )];
        let p = day.profile(&Interests::default(), &catalogue(), &liked);
        let ranked = day.rank(&p, 2);
        assert_eq!(ranked[0].paper, 1);
        assert_eq!(ranked[0].reasons[0].interest, "papers you liked");
        assert!(
            Day::new(&[], &[], Weights::default())
                .rank(&p, 5)
                .is_empty()
        );
    }
}
