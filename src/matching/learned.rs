//! Catalogue topics learned from the papers themselves: a topic's profile is the centroid of
//! the TF-IDF vectors of papers that carry its arXiv categories (those with its primary
//! category count fully, the others half), less the centroid of every other paper
//! (Rocchio's negative centroid: what sets the topic apart). A topic reader is then matched
//! like a liked-paper reader, by closeness to that profile, while the topic's keywords still
//! say why. A topic with fewer than [`MIN_PAPERS`] papers keeps its keywords alone.
//!
//! Learning is pure: [`TopicLearner`] analyses labelled papers once; [`TopicLearner::learn`]
//! builds the profiles (from all papers, or all but some: the evaluation leaves out the day
//! being ranked). A [`LearnedTopics`] is compact (at most [`TERMS`] analysed words a topic)
//! and serialisable, so it can be kept in the store and rebuilt when a day is ingested.

use std::collections::{BTreeMap, HashMap};

use super::index::unit_length;
use super::text::Analyzer;
use crate::domain::TopicCatalogue;

/// Fewer labelled papers than this: the topic keeps its keywords alone.
pub const MIN_PAPERS: usize = 10;
/// Words kept in a topic's profile, the heaviest.
pub const TERMS: usize = 400;
/// A paper in one of a topic's other categories counts this much next to one in its primary
/// category.
pub(crate) const SECONDARY: f32 = 0.5;

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
}

/// Labelled papers analysed once.
pub struct TopicLearner {
    words: Vec<String>,
    /// Per paper: its L2-normalised TF-IDF vector (word index, weight) and its categories,
    /// lower-cased.
    papers: Vec<Analysed>,
}

/// A paper's TF-IDF vector and its lower-cased categories.
type Analysed = (Vec<(u32, f32)>, Vec<String>);

impl TopicLearner {
    pub fn new(papers: &[LabelledPaper<'_>]) -> Self {
        let analyzer = Analyzer::default();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut tfs: Vec<HashMap<u32, f32>> = Vec::with_capacity(papers.len());
        for p in papers {
            let mut tf: HashMap<u32, f32> = HashMap::new();
            // Title words weigh as the matcher weighs them (BM25F's default title weight).
            for (text, w) in [(p.title, 2.5), (p.abstract_text, 1.0)] {
                for t in analyzer.tokens(text) {
                    // Single letters carry no topic (as in "more like these").
                    if t.chars().count() < 2 && !t.chars().all(|c| c.is_ascii_digit()) {
                        continue;
                    }
                    let id = *ids.entry(t.clone()).or_insert_with(|| {
                        words.push(t);
                        df.push(0);
                        (words.len() - 1) as u32
                    });
                    *tf.entry(id).or_default() += w;
                }
            }
            for id in tf.keys() {
                df[*id as usize] += 1;
            }
            tfs.push(tf);
        }
        let n = papers.len() as f32;
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
        Self { words, papers }
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
            for (i, (v, pc)) in self.papers.iter().enumerate() {
                let w = if pc.iter().any(|c| in_category(c, primary)) {
                    1.0
                } else if pc.iter().any(|c| cats.iter().any(|t| in_category(c, t))) {
                    SECONDARY
                } else {
                    continue;
                };
                if !use_paper(i) {
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
            if members.len() < MIN_PAPERS {
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
        let categories = by_category
            .into_iter()
            .filter(|(_, (_, members))| members.len() >= MIN_PAPERS)
            .map(|(c, (sum, members))| {
                let count = members.len();
                let v = contrast(&sum, count as f32, &sum, count, &all, used);
                let floor = self.floor(&v, &members);
                (c.to_string(), self.profile(v, count as u32, floor))
            })
            .collect();
        LearnedTopics { topics, categories }
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
        let learner = TopicLearner::new(&papers);
        let learned = learner.learn(&catalogue(), |_| true);
        let quantum = &learned.topics["quantum"];
        assert_eq!(quantum.papers, 12);
        assert!(quantum.terms.len() <= TERMS);
        let weight = |w: &str| quantum.terms.iter().find(|t| t.0 == w).map(|t| t.1);
        assert!(
            weight("qubit") > Some(0.0) && weight("entangl") > Some(0.0),
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
        // The floor is what 49 in 50 of its papers reach: each shares words with the
        // centroid.
        assert!(
            quantum.floor > 0.3 && quantum.floor < 1.0,
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
    fn categories_match_exactly_or_by_archive() {
        assert!(in_category("cs.lg", "cs.lg"));
        assert!(in_category("math.oc", "math"));
        assert!(!in_category("cs.lg", "cs.cl"));
        assert!(!in_category("hep-th", "hep-ph"));
        assert!(!in_category("math", "math.oc"));
    }
}
