//! Catalogue topics learned from the papers themselves: a topic's profile is the centroid of
//! the TF-IDF vectors of papers that carry its arXiv categories (those with its primary
//! category count fully, the others half) and of its keywords' clearest hits (the
//! [`KEYWORD_HITS`] papers its keywords score highest, as for a topic reader), less the
//! centroid of every other paper (Rocchio's negative centroid: what sets the topic apart).
//! A topic reader is then matched like a liked-paper reader, by closeness to that profile,
//! while the topic's keywords still say why. A topic with fewer than [`MIN_PAPERS`] papers
//! of its categories keeps its keywords alone.
//!
//! Learning is pure: [`TopicLearner`] analyses labelled papers once; [`TopicLearner::learn`]
//! builds the profiles (from all papers, or all but some: the evaluation leaves out the day
//! being ranked). A [`LearnedTopics`] is compact (at most [`TERMS`] analysed words a topic)
//! and serialisable, so it can be kept in the store and rebuilt when a day is ingested.

use std::collections::{BTreeMap, HashMap};

use super::bm25::{bm25, length_norm, phrase_idf};
use super::text::Analyzer;
use super::vector::unit_length;
use super::weights::Weights;
use crate::domain::TopicCatalogue;

/// Fewer labelled papers than this: the topic keeps its keywords alone.
pub(crate) const MIN_PAPERS: usize = 10;
/// Words kept in a topic's profile, the heaviest.
pub(crate) const TERMS: usize = 400;
/// A paper in one of a topic's other categories counts this much next to one in its primary
/// category.
pub(crate) const SECONDARY: f32 = 0.5;
/// A topic's keywords' clearest hits, this many of the papers learned from (whatever their
/// categories), count in its profile as papers of its primary category do (on top of their
/// categories' weight): what the topic's own words single out sharpens a profile its
/// categories alone make broad (image restoration's is mostly cs.CV). On `dev.jsonl`, topic
/// readers' nDCG@10, seeds 1 / 2 / 3: none 0.696 / 0.706 / 0.679; 5, 0.703 / 0.707 / 0.685;
/// 10, 0.706 / 0.716 / 0.684; 15, 0.700 / 0.715 / 0.684; 50 and 100 (seed 1) 0.700 and
/// 0.689. The hits only strengthen a topic: one with fewer than [`MIN_PAPERS`] papers of
/// its categories still keeps its keywords alone.
pub(crate) const KEYWORD_HITS: usize = 10;

/// A paper with its arXiv categories, to learn from.
#[derive(Clone, Copy, Debug)]
pub struct LabelledPaper<'a> {
    pub title: &'a str,
    pub abstract_text: &'a str,
    pub categories: &'a [String],
}

/// One topic's learned profile: analysed words (stemmed, as the matcher reads them) and
/// their weight, heaviest (in absolute value) first, L2-normalised: its papers' centroid
/// less [`NEGATIVE`] times the other papers', so a word common elsewhere weighs below 0.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnedTopic {
    /// How many papers it was learned from.
    pub papers: u32,
    pub terms: Vec<(String, f32)>,
    /// The closeness to the profile that 49 in 50 of the topic's own papers reach
    /// (`FLOOR_QUANTILE`): a paper of the day less close than this is not taken to be of the
    /// topic, however it compares with the rest of the day (a day of language-model papers
    /// has none of evolutionary computation, though some are nearer to it than others).
    #[serde(default)]
    pub floor: f32,
}

/// A profile is its papers' mean less this times the mean of every other paper (Rocchio's
/// negative centroid), so that words common to the whole corpus weigh less and a broad
/// category (cs.AI) is told from its neighbours (cs.LG) by what sets it apart. On
/// `dev.jsonl`, seed 1: 0 / 0.3 / 0.6 / 1.0 / 1.5 gave topic readers nDCG@10 0.679 / 0.678 /
/// 0.685 / 0.685 / 0.688, liked-paper readers 0.605 / 0.609 / 0.613 / 0.617 / 0.618.
const NEGATIVE: f32 = 1.0;

/// A category's profile for "more like these" is also set against its zone: the papers of
/// other categories nearest its profile, as many as its own (Singhal, Mitra and Buckley's
/// "query-zone" Rocchio), this times their mean. It tells a field from its nearest
/// neighbours, which the mean of every other paper (mostly far away) does not. On
/// `dev.jsonl`, seeds 1 / 2 / 3 / 7, liked-paper readers 0.644 / 0.629 / 0.627 / 0.623 without,
/// 0.655 / 0.646 / 0.648 / 0.637 with 0.25; rated readers on day 5 0.679 / 0.686 / 0.659 /
/// 0.646 → 0.676 / 0.691 / 0.671 / 0.666. Seed 1 at 0.5: liked 0.657 but day 5 0.666; at 1,
/// liked 0.562 (the near misses then cancel the field's own words). Topic readers' common
/// field keeps the plain profiles: their zones lowered topic readers (0.692 from 0.706).
const ZONE: f32 = 0.25;

/// The share of a topic's own papers that fall below its [`LearnedTopic::floor`].
const FLOOR_QUANTILE: f32 = 0.02;

/// Learned profiles by topic id; a topic that is absent matches by its keywords alone.
/// Beside them, one profile per arXiv category (lower-cased) with enough papers, with its
/// floor: "more like these" places a liked paper by its own categories through them, and a
/// topic reader's common field (the categories most of their topics list) through them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnedTopics {
    pub topics: BTreeMap<String, LearnedTopic>,
    #[serde(default)]
    pub categories: BTreeMap<String, LearnedTopic>,
    /// Beside each category's profile, the same set also against its [`ZONE`]: what "more
    /// like these" places a liked paper by. A category without one uses its profile.
    #[serde(default)]
    pub zones: BTreeMap<String, LearnedTopic>,
}

/// Labelled papers analysed once.
pub struct TopicLearner {
    words: Vec<String>,
    /// Per paper: its L2-normalised TF-IDF vector (word index, weight) and its categories,
    /// lower-cased.
    papers: Vec<Analysed>,
    /// Per topic id: the papers its keywords and phrases occur in, with their BM25 score
    /// (as a topic reader's), highest first (ties by paper).
    hits: HashMap<String, Vec<(u32, f32)>>,
}

/// A paper's TF-IDF vector and its lower-cased categories.
type Analysed = (Vec<(u32, f32)>, Vec<String>);

impl TopicLearner {
    /// Analyse the papers, and find where `catalogue`'s keywords occur in them.
    pub fn new(papers: &[LabelledPaper<'_>], catalogue: &TopicCatalogue) -> Self {
        let analyzer = Analyzer::default();
        let keywords = Keywords::new(&analyzer, catalogue);
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut tfs: Vec<HashMap<u32, f32>> = Vec::with_capacity(papers.len());
        // Per paper, its field-weighted length; per keyword, (paper, field-weighted count).
        let mut lens: Vec<f32> = Vec::with_capacity(papers.len());
        let mut found: Vec<Vec<(u32, f32)>> = vec![Vec::new(); keywords.terms.len()];
        for (i, p) in papers.iter().enumerate() {
            let mut tf: HashMap<u32, f32> = HashMap::new();
            let mut len = 0.0;
            // Title words weigh as the matcher weighs them (BM25F's default title weight).
            for (text, w) in [(p.title, 2.5), (p.abstract_text, 1.0)] {
                let stream = analyzer.tokens_with_gaps(text);
                keywords.find(&stream, |k| match found[k].last_mut() {
                    Some(last) if last.0 == i as u32 => last.1 += w,
                    _ => found[k].push((i as u32, w)),
                });
                // Single letters carry no topic (as in "more like these").
                for t in stream.into_iter().flatten() {
                    if t.chars().count() < 2 && !t.chars().all(|c| c.is_ascii_digit()) {
                        continue;
                    }
                    let id = *ids.entry(t.clone()).or_insert_with(|| {
                        words.push(t);
                        df.push(0);
                        (words.len() - 1) as u32
                    });
                    *tf.entry(id).or_default() += w;
                    len += w;
                }
            }
            for id in tf.keys() {
                df[*id as usize] += 1;
            }
            tfs.push(tf);
            lens.push(len);
        }
        let n = papers.len() as f32;
        let hits = keywords.scores(&found, &lens, |w| {
            let d = ids.get(w).map_or(0.0, |id| df[*id as usize] as f32);
            ((n - d + 0.5) / (d + 0.5)).ln_1p()
        });
        let papers = tfs
            .into_iter()
            .zip(papers)
            .map(|(tf, p)| {
                let mut v: Vec<(u32, f32)> = tf
                    .into_iter()
                    .map(|(t, f)| {
                        let d = df[t as usize] as f32;
                        (t, (1.0 + f.ln()) * ((n - d + 0.5) / (d + 0.5)).ln_1p())
                    })
                    .collect();
                // In word order: the norm then sums in the same order on every run (a
                // hash map's order differs), so two categories learned from the same papers
                // get the same profile to the last bit.
                v.sort_unstable_by_key(|x| x.0);
                unit_length(&mut v);
                (v, p.categories.iter().map(|c| c.to_lowercase()).collect())
            })
            .collect();
        Self {
            words,
            papers,
            hits,
        }
    }

    /// Every topic's profile from the papers `use_paper` accepts (by index).
    pub fn learn(
        &self,
        catalogue: &TopicCatalogue,
        use_paper: impl Fn(usize) -> bool,
    ) -> LearnedTopics {
        // Every paper used, summed: what a profile's papers are set against.
        let mut all = vec![0.0f32; self.words.len()];
        let mut used = 0usize;
        for (i, (v, _)) in self.papers.iter().enumerate() {
            if use_paper(i) {
                used += 1;
                for (t, x) in v {
                    all[*t as usize] += x;
                }
            }
        }
        let mut topics = BTreeMap::new();
        for topic in catalogue.topics() {
            let cats: Vec<String> = topic.categories.iter().map(|c| c.to_lowercase()).collect();
            let Some(primary) = cats.first() else {
                continue;
            };
            let mut sum: HashMap<u32, f32> = HashMap::new();
            let mut plain: HashMap<u32, f32> = HashMap::new();
            let mut weight = 0.0f32;
            let mut members: Vec<usize> = Vec::new();
            let clearest: Vec<usize> = self
                .hits
                .get(topic.id.as_str())
                .into_iter()
                .flatten()
                .map(|h| h.0 as usize)
                .filter(|&i| use_paper(i))
                .take(KEYWORD_HITS)
                .collect();
            // Papers of its categories: a topic with too few keeps its keywords alone.
            let mut of_categories = 0;
            for (i, (v, pc)) in self.papers.iter().enumerate() {
                let mut w = if pc.iter().any(|c| in_category(c, primary)) {
                    1.0
                } else if pc.iter().any(|c| cats.iter().any(|t| in_category(c, t))) {
                    SECONDARY
                } else {
                    0.0
                };
                if !use_paper(i) {
                    continue;
                }
                if w > 0.0 {
                    of_categories += 1;
                }
                if clearest.contains(&i) {
                    w += 1.0;
                }
                if w == 0.0 {
                    continue;
                }
                members.push(i);
                weight += w;
                for (t, x) in v {
                    *sum.entry(*t).or_default() += w * x;
                    *plain.entry(*t).or_default() += x;
                }
            }
            let count = members.len() as u32;
            if of_categories < MIN_PAPERS {
                continue;
            }
            let v = contrast(&sum, weight, &plain, members.len(), &all, used);
            let floor = self.floor(&v, &members);
            topics.insert(topic.id.to_string(), self.profile(v, count, floor));
        }
        // Each category's papers, exactly (no archive-wide match, no weights).
        let mut by_category: BTreeMap<&str, (HashMap<u32, f32>, Vec<usize>)> = BTreeMap::new();
        for (i, (v, pc)) in self.papers.iter().enumerate() {
            if !use_paper(i) {
                continue;
            }
            for c in pc {
                let (sum, members) = by_category.entry(c.as_str()).or_default();
                members.push(i);
                for (t, x) in v {
                    *sum.entry(*t).or_default() += x;
                }
            }
        }
        let mut categories = BTreeMap::new();
        let mut zones = BTreeMap::new();
        for (c, (sum, members)) in by_category {
            if members.len() < MIN_PAPERS {
                continue;
            }
            let count = members.len();
            let v = contrast(&sum, count as f32, &sum, count, &all, used);
            let floor = self.floor(&v, &members);
            let zone = self.zone(&v, &members, &use_paper);
            categories.insert(c.to_string(), self.profile(v, count as u32, floor));
            if !zone.is_empty() {
                let mut sharp = sum.clone();
                // The zone's mean, ZONE times, off the members' mean (the sum is divided by
                // the members' count in `contrast`).
                let k = ZONE * count as f32 / zone.len() as f32;
                for &i in &zone {
                    for (t, x) in &self.papers[i].0 {
                        *sharp.entry(*t).or_default() -= k * x;
                    }
                }
                let v = contrast(&sharp, count as f32, &sum, count, &all, used);
                let floor = self.floor(&v, &members);
                zones.insert(c.to_string(), self.profile(v, count as u32, floor));
            }
        }
        LearnedTopics {
            topics,
            categories,
            zones,
        }
    }

    /// The papers outside `members` (and used) closest to `profile`, as many as `members`
    /// (fewer when there are not so many others): the near misses a category's profile
    /// must be told from ("query-zone" Rocchio).
    fn zone(
        &self,
        profile: &[(u32, f32)],
        members: &[usize],
        use_paper: &impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        // A dense array over the words, not a hash map: every word of every other paper is
        // looked up, per category (docs/performance.md, learning topics).
        let mut weight = vec![0.0f32; self.words.len()];
        for (t, x) in profile {
            weight[*t as usize] = *x;
        }
        let mut close: Vec<(f32, usize)> = Vec::new();
        let mut m = 0;
        for (i, (v, _)) in self.papers.iter().enumerate() {
            // `members` is in paper order.
            while m < members.len() && members[m] < i {
                m += 1;
            }
            if members.get(m) == Some(&i) || !use_paper(i) {
                continue;
            }
            let s: f32 = v.iter().map(|(t, x)| x * weight[*t as usize]).sum();
            if s > 0.0 {
                close.push((s, i));
            }
        }
        let by_closeness =
            |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if close.len() > members.len() {
            close.select_nth_unstable_by(members.len(), by_closeness);
            close.truncate(members.len());
        }
        close.into_iter().map(|x| x.1).collect()
    }

    fn profile(&self, v: Vec<(u32, f32)>, papers: u32, floor: f32) -> LearnedTopic {
        LearnedTopic {
            papers,
            floor,
            terms: v
                .into_iter()
                .map(|(t, x)| (self.words[t as usize].clone(), x))
                .collect(),
        }
    }

    /// The closeness to `centroid` that all but [`FLOOR_QUANTILE`] of `members` reach.
    fn floor(&self, centroid: &[(u32, f32)], members: &[usize]) -> f32 {
        let weight: HashMap<u32, f32> = centroid.iter().copied().collect();
        let mut close: Vec<f32> = members
            .iter()
            .map(|&i| {
                self.papers[i]
                    .0
                    .iter()
                    .filter_map(|(t, x)| Some(x * weight.get(t)?))
                    .sum()
            })
            .collect();
        close.sort_unstable_by(f32::total_cmp);
        close
            .get((close.len() as f32 * FLOOR_QUANTILE) as usize)
            .copied()
            .unwrap_or(0.0)
    }
}

/// Catalogue keywords and phrases, analysed as the matcher analyses them, to find in the
/// papers learned from.
struct Keywords {
    /// Per term: the topic (index in the catalogue), its analysed words (`None` where a stop
    /// word stands) and its weight (a phrase's [`Weights::phrase`]).
    terms: Vec<(usize, Vec<Option<String>>, f32)>,
    /// First word → the terms that start with it.
    by_first: HashMap<String, Vec<usize>>,
    /// Topic ids in catalogue order.
    topics: Vec<String>,
}

impl Keywords {
    fn new(analyzer: &Analyzer, catalogue: &TopicCatalogue) -> Self {
        let phrase = Weights::default().phrase;
        let mut terms = Vec::new();
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (t, topic) in catalogue.topics().iter().enumerate() {
            let texts = topic.keywords.iter().map(|k| (k, 1.0));
            for (text, w) in texts.chain(topic.phrases.iter().map(|p| (p, phrase))) {
                let toks = analyzer.tokens_with_gaps(text);
                let (Some(first), Some(last)) = (
                    toks.iter().position(Option::is_some),
                    toks.iter().rposition(Option::is_some),
                ) else {
                    continue;
                };
                let pattern = toks[first..=last].to_vec();
                if let Some(Some(word)) = pattern.first() {
                    by_first.entry(word.clone()).or_default().push(terms.len());
                }
                terms.push((t, pattern, w));
            }
        }
        Self {
            terms,
            by_first,
            topics: catalogue
                .topics()
                .iter()
                .map(|t| t.id.to_string())
                .collect(),
        }
    }

    /// Calls `found` with each term (by index) once per place it stands in `stream`.
    fn find(&self, stream: &[Option<String>], mut found: impl FnMut(usize)) {
        for (i, t) in stream.iter().enumerate() {
            let Some(candidates) = t.as_ref().and_then(|t| self.by_first.get(t)) else {
                continue;
            };
            for &k in candidates {
                let pattern = &self.terms[k].1;
                if stream.get(i..i + pattern.len()) == Some(pattern.as_slice()) {
                    found(k);
                }
            }
        }
    }

    /// Each topic's papers with their BM25 score (summed over its terms, each weighted),
    /// highest first, from each term's (paper, field-weighted count), the papers'
    /// field-weighted lengths and a word's idf.
    fn scores(
        &self,
        found: &[Vec<(u32, f32)>],
        lens: &[f32],
        idf: impl Fn(&str) -> f32,
    ) -> HashMap<String, Vec<(u32, f32)>> {
        let avg = (lens.iter().sum::<f32>() / lens.len().max(1) as f32).max(1.0);
        let mut by_topic: Vec<HashMap<u32, f32>> = vec![HashMap::new(); self.topics.len()];
        for ((t, pattern, w), papers) in self.terms.iter().zip(found) {
            let words: Vec<f32> = pattern.iter().flatten().map(|x| idf(x)).collect();
            let idf = match words.as_slice() {
                [one] if pattern.len() == 1 => *one,
                _ => phrase_idf(words.iter().copied()),
            };
            for &(d, tf) in papers {
                *by_topic[*t].entry(d).or_default() +=
                    w * bm25(tf, idf, length_norm(lens[d as usize], avg));
            }
        }
        self.topics
            .iter()
            .zip(by_topic)
            .map(|(id, scores)| {
                let mut v: Vec<(u32, f32)> = scores.into_iter().collect();
                v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                (id.clone(), v)
            })
            .collect()
    }
}

/// Rocchio with a negative centroid: the mean of a profile's papers (`sum` over `weight`)
/// less [`NEGATIVE`] times the mean of every other paper used (`all` less `plain`, the
/// members' unweighted sum, over `used` less `members`), as a profile.
fn contrast(
    sum: &HashMap<u32, f32>,
    weight: f32,
    plain: &HashMap<u32, f32>,
    members: usize,
    all: &[f32],
    used: usize,
) -> Vec<(u32, f32)> {
    let others = used.saturating_sub(members) as f32;
    let k = if others > 0.0 { NEGATIVE / others } else { 0.0 };
    let mut v: Vec<f32> = all.iter().map(|x| -k * x).collect();
    for (t, x) in plain {
        v[*t as usize] += k * x;
    }
    let w = weight.max(f32::EPSILON);
    for (t, x) in sum {
        v[*t as usize] += x / w;
    }
    let mut v: Vec<(u32, f32)> = v
        .into_iter()
        .enumerate()
        .filter(|x| x.1 != 0.0)
        .map(|(t, x)| (t as u32, x))
        .collect();
    let by_weight =
        |a: &(u32, f32), b: &(u32, f32)| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0));
    if v.len() > TERMS {
        v.select_nth_unstable_by(TERMS, by_weight);
        v.truncate(TERMS);
    }
    v.sort_unstable_by(by_weight);
    unit_length(&mut v);
    v
}

/// A paper's category `c` falls under a topic's category `t` (`cs.lg` under `cs.lg`; every
/// `hep-th` paper under `hep-th`; `math.oc` under an archive-wide `math`).
fn in_category(c: &str, t: &str) -> bool {
    c == t || (!t.contains('.') && c.split('.').next() == Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> TopicCatalogue {
        TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap()
    }

    #[test]
    fn a_topic_learns_from_its_categories_and_falls_back_below_the_minimum() {
        let qph = vec!["quant-ph".to_string()];
        let astro = vec!["astro-ph.GA".to_string()];
        let detectors = vec!["physics.ins-det".to_string()];
        let bio = vec!["q-bio.PE".to_string()];
        // Twelve quantum papers, each with three of six field words, and twelve others: the
        // field's words are common among its own papers and rare elsewhere.
        const FIELD: [&str; 6] = [
            "qubit",
            "entanglement",
            "superconducting",
            "decoherence",
            "teleportation",
            "photonic",
        ];
        let texts: Vec<(String, String)> = (0..12)
            .map(|i| {
                (
                    format!("{} {} study", FIELD[i % 6], FIELD[(i + 1) % 6]),
                    format!("We measure {} in a device.", FIELD[(i + 3) % 6]),
                )
            })
            .collect();
        let others: Vec<String> = (0..12)
            .map(|i| ["Stellar streams", "Dark matter halos", "Gas accretion"][i % 3].to_string())
            .collect();
        let mut papers: Vec<LabelledPaper<'_>> = texts
            .iter()
            .map(|(t, a)| LabelledPaper {
                title: t,
                abstract_text: a,
                categories: &qph,
            })
            .collect();
        papers.push(LabelledPaper {
            title: "Galaxy rotation curves",
            abstract_text: "Dark matter halos.",
            categories: &astro,
        });
        papers.extend(others.iter().map(|t| LabelledPaper {
            title: t,
            abstract_text: "Observations of a nearby cluster.",
            categories: &bio,
        }));
        // Outside its categories, but among its keywords' clearest hits.
        papers.push(LabelledPaper {
            title: "Quantum teleportation of a qubit through a cryostat",
            abstract_text: "Entanglement survives the cryostat.",
            categories: &detectors,
        });
        let learner = TopicLearner::new(&papers, &catalogue());
        let learned = learner.learn(&catalogue(), |_| true);
        let quantum = &learned.topics["quantum"];
        assert_eq!(quantum.papers, 13);
        assert!(quantum.terms.len() <= TERMS);
        let weight = |w: &str| quantum.terms.iter().find(|t| t.0 == w).map(|t| t.1);
        assert!(
            weight("qubit") > Some(0.0) && weight("entangl") > Some(0.0),
            "{:?}",
            quantum.terms
        );
        // The keywords' clearest hit counts as the topic's, though of another category.
        assert!(
            weight("cryostat").is_some_and(|w| w > 0.0),
            "{:?}",
            quantum.terms
        );
        // The other papers' words weigh against the topic (Rocchio's negative centroid):
        // the astrophysics paper is not quantum's.
        assert!(
            weight("galaxi").is_some_and(|w| w < 0.0),
            "{:?}",
            quantum.terms
        );
        // The field's own words outweigh every word set against it.
        let lightest_field = ["qubit", "entangl", "decoher"]
            .iter()
            .filter_map(|w| weight(w))
            .fold(f32::MAX, f32::min);
        assert!(
            quantum
                .terms
                .iter()
                .all(|t| t.1 > 0.0 || -t.1 < lightest_field)
        );
        let norm: f32 = quantum.terms.iter().map(|t| t.1 * t.1).sum();
        assert!((norm - 1.0).abs() < 1e-3);
        // The floor is what 49 in 50 of its papers reach (of 13, the least close: the
        // keywords' hit from outside, with a word of its own): each shares words with the
        // centroid.
        assert!(
            quantum.floor > 0.2 && quantum.floor < 1.0,
            "{}",
            quantum.floor
        );
        // Each category with enough papers has a profile of its own, exactly its papers'.
        assert_eq!(learned.categories["quant-ph"].papers, 12);
        // A category's profile has a floor too.
        let floor = learned.categories["quant-ph"].floor;
        assert!(floor > 0.3 && floor < 1.0, "{floor}");
        assert_eq!(learned.categories["q-bio.pe"].papers, 12);
        assert!(!learned.categories.contains_key("astro-ph.ga"));
        // One galaxy paper is too few: that topic keeps its keywords.
        assert!(
            learned
                .topics
                .values()
                .all(|t| t.papers as usize >= MIN_PAPERS)
        );
        // Leaving papers out (the day being ranked) drops the topic below the minimum.
        let fewer = learner.learn(&catalogue(), |i| i >= 5);
        assert!(!fewer.topics.contains_key("quantum"));
        let json = serde_json::to_string(&learned).unwrap();
        assert_eq!(
            serde_json::from_str::<LearnedTopics>(&json).unwrap(),
            learned
        );
    }

    #[test]
    fn a_categorys_zone_weighs_down_what_its_nearest_neighbours_share() {
        // Graph algorithms, graph databases (the near misses: "graph" but not "spectral")
        // and eight fields far away, twelve papers each.
        let fields: [(&str, &str); 10] = [
            ("cs.DS", "Spectral graph sparsification"),
            ("cs.DB", "Graph database queries"),
            ("astro-ph.GA", "Galaxy rotation curves"),
            ("q-bio.BM", "Protein folding kinetics"),
            ("q-fin.PR", "Option pricing volatility"),
            ("physics.geo-ph", "Seismic wave inversion"),
            ("q-bio.PE", "Coral reef ecology"),
            ("econ.GN", "Tax policy incentives"),
            ("physics.ao-ph", "Glacier melt dynamics"),
            ("stat.AP", "Vaccine trial design"),
        ];
        let categories: Vec<Vec<String>> = fields.iter().map(|f| vec![f.0.to_string()]).collect();
        let papers: Vec<LabelledPaper<'_>> = (0..12)
            .flat_map(|_| fields.iter().zip(&categories))
            .map(|((_, title), cats)| LabelledPaper {
                title,
                abstract_text: "",
                categories: cats,
            })
            .collect();
        let learned = TopicLearner::new(&papers, &catalogue()).learn(&catalogue(), |_| true);
        let weight =
            |p: &LearnedTopic, w: &str| p.terms.iter().find(|t| t.0 == w).map_or(0.0, |t| t.1);
        let (plain, zone) = (&learned.categories["cs.ds"], &learned.zones["cs.ds"]);
        assert_eq!(zone.papers, 12);
        // Set against the graph databases, "graph" says less of graph algorithms, next to
        // their own "spectral", than set against every other paper alone.
        let ratio = |p: &LearnedTopic| weight(p, "graph") / weight(p, "spectral");
        assert!(
            ratio(plain) > 0.0 && ratio(zone) < ratio(plain) * 0.9,
            "{plain:?}\n{zone:?}"
        );
        let norm: f32 = zone.terms.iter().map(|t| t.1 * t.1).sum();
        assert!((norm - 1.0).abs() < 1e-3);
        // A zone is the others nearest the profile: galaxies share no word with any other
        // field, so theirs is empty and they keep their plain profile alone.
        assert!(
            !learned.zones.contains_key("astro-ph.ga"),
            "{:?}",
            learned.zones.keys()
        );
    }

    #[test]
    fn categories_match_exactly_or_by_archive() {
        assert!(in_category("cs.lg", "cs.lg"));
        assert!(in_category("math.oc", "math"));
        assert!(!in_category("cs.lg", "cs.cl"));
        assert!(!in_category("hep-th", "hep-ph"));
        assert!(!in_category("math", "math.oc"));
    }
}
