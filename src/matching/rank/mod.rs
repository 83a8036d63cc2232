//! A reader's interests compiled against a day, scored through the day's inverted lists,
//! and their top N with the reasons each paper was chosen.
//!
//! `profile.rs` compiles the interests; this file ranks; `scratch.rs` is the working memory
//! reused from one reader to the next; `reasons.rs` says why a paper was chosen.

mod profile;
mod reasons;
mod scratch;

use super::index::{CompiledTopic, Day, Term};
use super::similar::{Liked, LikedPaper};
pub use crate::domain::Reason;
use reasons::trending_reason;
use scratch::Ranked;
pub use scratch::Scratch;

/// A paper in one of the reader's arXiv categories scores like this many own-keyword hits.
const CATEGORY: f32 = 3.0;
/// Pinned authors' papers come before everything else.
const PINNED: f32 = 10.0;
/// "More like these" (standard deviations above the day's mean), scaled to sit next to
/// BM25 scores.
const LIKED_SCALE: f32 = 2.0;

#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// Index into the day's papers.
    pub paper: usize,
    pub score: f32,
    /// Relevance to the reader's own interests; 0 for a paper chosen for its popularity.
    pub relevance: f32,
    pub reasons: Vec<Reason>,
}

/// What a reader gets from a day.
#[derive(Clone, Debug, PartialEq)]
pub enum Pick {
    /// Papers that match the reader (possibly blended with trending ones, per their dial).
    Personal(Vec<Match>),
    /// Nothing matched and the reader asked for the day's trending papers instead.
    Trending(Vec<Match>),
    /// Nothing matched and the reader would rather get no mail.
    Nothing,
}

/// A reader's interests compiled against one day.
pub struct Profile<'d> {
    topics: Vec<&'d CompiledTopic>,
    own: Vec<Term>,
    /// Papers the reader excluded (a `-word`, a muted author), sorted.
    blocked: Vec<u32>,
    /// Papers by pinned authors, sorted, with the author that pinned them.
    pinned: Vec<(u32, String)>,
    /// Papers in the reader's arXiv categories, sorted, with the category.
    in_categories: Vec<(u32, String)>,
    liked: Option<Liked>,
    /// The reader's common field: category rows of the day's `Fields`, what a paper's
    /// closeness to each adds per standard deviation, and the topic (index into `topics`)
    /// a paper found through that row is credited to.
    field: Vec<(u32, f32, usize)>,
    /// The "more" papers `liked` was scored with, to name the closest in a reason.
    more: Vec<(&'d LikedPaper, f32)>,
    /// 0 = all personal, 1 = all trending.
    blend: f32,
}

impl Profile<'_> {
    /// Leave these papers out: they are neither ranked nor offered as trending (papers the
    /// reader was sent before).
    pub fn exclude(&mut self, docs: impl IntoIterator<Item = u32>) {
        self.blocked.extend(docs);
        self.blocked.sort_unstable();
        self.blocked.dedup();
    }
}

impl Day {
    /// [`rank_with`](Self::rank_with) with fresh working memory, for the tests and the
    /// evaluation; composing, which ranks every reader, keeps one [`Scratch`] a thread.
    #[cfg(any(test, feature = "tools"))]
    pub(crate) fn rank(&self, p: &Profile<'_>, n: usize) -> Vec<Match> {
        self.rank_with(p, n, &mut Scratch::default())
    }

    /// The top `n` papers for a profile, best first; ties by paper order. `s` is
    /// caller-owned working memory (one per thread).
    pub fn rank_with(&self, p: &Profile<'_>, n: usize, s: &mut Scratch) -> Vec<Match> {
        s.reset(self.len());
        for &d in &p.blocked {
            s.blocked[d as usize] = s.epoch;
        }
        self.add_relevance(p, s);
        self.offer_relevant(p, n, s);
        // The best papers the reader's interests did not touch are the most popular ones.
        if p.blend > 0.0 {
            self.offer_trending(n, p.blend, s);
        }
        self.best_matches(p, s)
    }

    /// Each paper's relevance to the profile, summed in `s` over the day's lists: topics,
    /// common field, own keywords, liked papers, pinned authors, arXiv categories.
    fn add_relevance(&self, p: &Profile<'_>, s: &mut Scratch) {
        for topic in &p.topics {
            for &(d, w) in &topic.reader {
                s.add(d, w);
            }
        }
        for &(r, w, _) in &p.field {
            for &(d, z) in &self.fields.postings[r as usize] {
                s.add(d, w * z);
            }
        }
        for term in &p.own {
            for &(d, w) in &term.hits {
                s.add(d, w);
            }
        }
        if let Some(liked) = &p.liked {
            let scale = self.weights.liked * LIKED_SCALE;
            for (d, x) in liked.scores.iter().enumerate() {
                // A paper the taste says nothing of stays untouched (trending may take it).
                if *x != 0.0 {
                    s.add(d as u32, scale * x);
                }
            }
        }
        for (d, _) in &p.pinned {
            s.add(*d, 0.0);
        }
        let category = CATEGORY * self.weights.own_keyword;
        for (i, (d, _)) in p.in_categories.iter().enumerate() {
            // A paper in two of the reader's categories counts once.
            if i == 0 || p.in_categories[i - 1].0 != *d {
                s.add(*d, category);
            }
        }
    }

    /// Offer each relevant paper (or pinned one) not blocked to the best `n`: its relevance
    /// scaled to the reader's best and made fresh, blended with its popularity.
    fn offer_relevant(&self, p: &Profile<'_>, n: usize, s: &mut Scratch) {
        let max_rel = s
            .touched
            .iter()
            .map(|d| s.score[*d as usize])
            .fold(0.0, f32::max)
            .max(f32::EPSILON);
        let blend = p.blend;
        for i in 0..s.touched.len() {
            let d = s.touched[i];
            let rel = s.score[d as usize];
            let pinned = p.pinned.binary_search_by_key(&d, |x| x.0).is_ok();
            if s.is_blocked(d) || (rel <= 0.0 && !pinned) {
                continue;
            }
            // `popularity` already carries the paper's freshness; relevance gets it here.
            let mut score = (1.0 - blend) * rel / max_rel * self.freshness[d as usize]
                + blend * self.popularity[d as usize];
            if pinned {
                score += PINNED;
            }
            s.offer(n, d, score);
        }
    }

    /// Offer the `n` most popular papers the reader's interests did not touch (and that are
    /// not blocked), at `blend` times their popularity.
    fn offer_trending(&self, n: usize, blend: f32, s: &mut Scratch) {
        let mut taken = 0;
        for &d in &self.by_popularity {
            if taken == n {
                break;
            }
            if s.seen[d as usize] == s.epoch || s.is_blocked(d) {
                continue;
            }
            s.offer(n, d, blend * self.popularity[d as usize]);
            taken += 1;
        }
    }

    /// The papers kept in `s`, best first, with their relevance and reasons.
    fn best_matches(&self, p: &Profile<'_>, s: &mut Scratch) -> Vec<Match> {
        let mut best: Vec<Ranked> = s.best.drain().map(|r| r.0).collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.into_iter()
            .map(|Ranked(d, score)| {
                let relevance = if s.seen[d as usize] == s.epoch {
                    s.score[d as usize]
                } else {
                    0.0
                };
                Match {
                    paper: d as usize,
                    score,
                    relevance,
                    reasons: self.reasons(p, d),
                }
            })
            .collect()
    }

    /// The reader's top `n`; when nothing matches them, the day's trending papers if they
    /// asked for them, or nothing.
    pub fn pick(
        &self,
        p: &Profile<'_>,
        n: usize,
        trending_when_empty: bool,
        s: &mut Scratch,
    ) -> Pick {
        let matches = self.rank_with(p, n, s);
        if matches
            .iter()
            .any(|m| m.relevance > 0.0 || p.pinned.iter().any(|x| x.0 as usize == m.paper))
        {
            return Pick::Personal(matches);
        }
        if !trending_when_empty {
            return Pick::Nothing;
        }
        let trending: Vec<Match> = self
            .by_popularity
            .iter()
            .filter(|d| p.blocked.binary_search(d).is_err())
            .take(n)
            .map(|&d| Match {
                paper: d as usize,
                score: self.popularity[d as usize],
                relevance: 0.0,
                reasons: vec![trending_reason()],
            })
            .collect();
        if trending.is_empty() {
            Pick::Nothing
        } else {
            Pick::Trending(trending)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Interests, InterestsForm, TopicCatalogue};
    use crate::matching::{Doc, Weights};

    const NO_LIKES: &[&LikedPaper] = &[];

    fn catalogue() -> TopicCatalogue {
        TopicCatalogue::from_toml(include_str!("../../../config/topics.toml")).unwrap()
    }

    fn doc<'a>(title: &'a str, abs: &'a str, authors: &'a [String], upvotes: i64) -> Doc<'a> {
        Doc {
            authors,
            upvotes,
            ..Doc::text(title, abs)
        }
    }

    fn interests(form: InterestsForm<'_>) -> Interests {
        Interests::parse(&catalogue(), &form).unwrap()
    }

    fn papers(m: &[Match]) -> Vec<usize> {
        m.iter().map(|m| m.paper).collect()
    }

    fn graph_day() -> Day {
        let none: &'static [String] = &[];
        let lecun: &'static [String] = Box::leak(Box::new(["Yann LeCun".to_string()]));
        let docs = [
            doc(
                "Graphs and neural networks for molecules",
                "We study a network of graphs.",
                none,
                50,
            ),
            doc(
                "A graph neural network for traffic",
                "Graph neural networks forecast traffic.",
                none,
                1,
            ),
            doc(
                "Medical graph neural networks",
                "A graph neural network for medical images.",
                none,
                5,
            ),
            doc("Self-supervised vision", "Joint embeddings.", lecun, 0),
        ];
        Day::new(&docs, &[], &catalogue(), Weights::default())
    }

    #[test]
    fn phrases_and_exclusions() {
        let day = graph_day();
        let p = day.profile(
            &interests(InterestsForm {
                keywords: "\"graph neural network\" -medical",
                trending: Some("0"),
                ..Default::default()
            }),
            NO_LIKES,
        );
        let ranked = day.rank(&p, 10);
        // Doc 0 has the words but not next to each other; doc 2 is excluded.
        assert_eq!(papers(&ranked), [1]);
        assert_eq!(
            ranked[0].reasons,
            [Reason {
                interest: "your keywords".into(),
                words: vec!["graph neural network".into()],
                liked: None,
            }]
        );
    }

    #[test]
    fn pinned_authors_first_muted_authors_never() {
        let day = graph_day();
        let form = InterestsForm {
            keywords: "traffic graph",
            authors: "yann  LECUN",
            trending: Some("0"),
            ..Default::default()
        };
        let ranked = day.rank(&day.profile(&interests(form), NO_LIKES), 2);
        assert_eq!(ranked[0].paper, 3, "a pinned author comes first");
        assert_eq!(
            ranked[0].reasons[0],
            Reason {
                interest: "your authors".into(),
                words: vec!["yann LECUN".into()],
                liked: None,
            }
        );
        assert_eq!(ranked[1].paper, 1);
        let muted = InterestsForm {
            authors: "",
            keywords: "vision traffic",
            muted_authors: "Yann LeCun",
            ..form
        };
        let ranked = day.rank(&day.profile(&interests(muted), NO_LIKES), 4);
        assert_eq!(papers(&ranked), [1]);
    }

    #[test]
    fn organisations_pin_and_mute_like_authors() {
        let none: Vec<String> = vec![];
        let docs = [
            doc("Robot grasping", "Grasping objects.", &none, 50),
            Doc {
                organization: Some("Ai2"),
                ..doc("Language models", "Open data for pretraining.", &none, 1)
            },
        ];
        let day = Day::new(&docs, &[], &catalogue(), Weights::default());
        let pin = interests(InterestsForm {
            keywords: "grasping",
            authors: "ai2",
            ..Default::default()
        });
        assert_eq!(papers(&day.rank(&day.profile(&pin, NO_LIKES), 2))[0], 1);
        let mute = interests(InterestsForm {
            keywords: "pretraining grasping",
            muted_authors: "AI2",
            ..Default::default()
        });
        assert_eq!(papers(&day.rank(&day.profile(&mute, NO_LIKES), 2)), [0]);
    }

    #[test]
    fn arxiv_categories_match_by_class_or_archive() {
        let none: Vec<String> = vec![];
        let ro = vec!["cs.RO".to_string(), "cs.LG".to_string()];
        let th = vec!["hep-th".to_string()];
        let docs = [
            Doc {
                categories: &ro,
                ..doc("Legged locomotion", "Walking.", &none, 0)
            },
            Doc {
                categories: &th,
                ..doc("String dualities", "Branes.", &none, 0)
            },
            doc("Unlabelled", "No categories.", &none, 0),
        ];
        let day = Day::new(&docs, &[], &catalogue(), Weights::default());
        let at = |categories: &str| {
            let i = interests(InterestsForm {
                categories,
                trending: Some("0"),
                ..Default::default()
            });
            day.rank(&day.profile(&i, NO_LIKES), 3)
        };
        let ro_match = at("CS.ro");
        assert_eq!(papers(&ro_match), [0]);
        assert_eq!(
            ro_match[0].reasons,
            [Reason {
                interest: "your arXiv categories".into(),
                words: vec!["cs.ro".into()],
                liked: None,
            }]
        );
        assert_eq!(papers(&at("cs")), [0], "an archive takes all its classes");
        assert_eq!(papers(&at("hep-th cs.LG cs.RO")), [0, 1]);
    }

    #[test]
    fn the_trending_dial_and_the_empty_day() {
        let day = graph_day();
        let at = |trending: &str| {
            let p = day.profile(
                &interests(InterestsForm {
                    keywords: "traffic",
                    trending: Some(trending),
                    ..Default::default()
                }),
                NO_LIKES,
            );
            papers(&day.rank(&p, 4))
        };
        assert_eq!(at("0"), [1], "all personal: only what matches");
        assert_eq!(at("100"), [0, 2, 1, 3], "all trending: by popularity");
        assert_eq!(at("20")[0], 1, "mostly personal: the match first");
        assert_eq!(at("20")[1..], [0, 2, 3], "then the popular ones");

        let nothing = day.profile(
            &interests(InterestsForm {
                keywords: "astronomy -medical",
                ..Default::default()
            }),
            NO_LIKES,
        );
        let mut s = Scratch::default();
        assert_eq!(day.pick(&nothing, 3, false, &mut s), Pick::Nothing);
        let Pick::Trending(t) = day.pick(&nothing, 3, true, &mut s) else {
            panic!("expected the trending fallback");
        };
        assert_eq!(
            papers(&t),
            [0, 1, 3],
            "most popular, excluded words respected"
        );
        assert_eq!(t[0].reasons[0].interest, "trending today");
    }

    #[test]
    fn excluded_papers_leave_both_the_matches_and_the_trending_list() {
        let day = graph_day();
        let mut s = Scratch::default();
        let mut p = day.profile(
            &interests(InterestsForm {
                keywords: "traffic",
                ..Default::default()
            }),
            NO_LIKES,
        );
        assert!(matches!(day.pick(&p, 3, true, &mut s), Pick::Personal(m) if m[0].paper == 1));
        p.exclude([1, 0]);
        assert_eq!(
            day.pick(&p, 3, false, &mut s),
            Pick::Nothing,
            "the one match was sent"
        );
        let Pick::Trending(t) = day.pick(&p, 3, true, &mut s) else {
            panic!("expected the trending fallback");
        };
        assert_eq!(
            papers(&t),
            [2, 3],
            "by popularity, without the papers left out"
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
        let day = Day::new(&docs, &[], &catalogue(), Weights::default());
        let topics = ["quantum".to_string()];
        let p = day.profile(
            &interests(InterestsForm {
                topics: &topics,
                ..Default::default()
            }),
            NO_LIKES,
        );
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
        let liked = day.liked_paper(
            "Latent diffusion for images",
            "Image generation with diffusion models.",
            &[],
        );
        let p = day.profile(&Interests::default(), &[&liked]);
        let ranked = day.rank(&p, 2);
        assert_eq!(ranked[0].paper, 1);
        assert_eq!(ranked[0].reasons[0].interest, "papers you liked");
        assert_eq!(
            ranked[0].reasons[0].liked.as_deref(),
            Some("Latent diffusion for images"),
            "the liked paper is named"
        );
        let empty = Day::new(&[], &[], &catalogue(), Weights::default());
        assert!(
            empty
                .rank(&empty.profile(&Interests::default(), NO_LIKES), 5)
                .is_empty()
        );
    }

    #[test]
    fn fresh_papers_win_among_equals() {
        let none: Vec<String> = vec![];
        let aged = |age| Doc {
            age_days: Some(age),
            organization: None,
            categories: &[],
            ..doc("Robot grasping", "Grasping with a robot hand.", &none, 10)
        };
        let docs = [aged(30), aged(1), aged(8)];
        let day = Day::new(&docs, &[], &catalogue(), Weights::default());
        let p = day.profile(
            &interests(InterestsForm {
                keywords: "grasping",
                ..Default::default()
            }),
            NO_LIKES,
        );
        assert_eq!(papers(&day.rank(&p, 3)), [1, 2, 0]);
        let timeless = Day::new(
            &docs,
            &[],
            &catalogue(),
            Weights {
                freshness: 0.0,
                ..Weights::default()
            },
        );
        let p = timeless.profile(
            &interests(InterestsForm {
                keywords: "grasping",
                ..Default::default()
            }),
            NO_LIKES,
        );
        assert_eq!(
            papers(&timeless.rank(&p, 3)),
            [0, 1, 2],
            "ties by paper order"
        );
    }

    #[test]
    fn scratch_reuse_gives_the_same_answer() {
        let day = graph_day();
        let mut s = Scratch::default();
        let a = day.profile(
            &interests(InterestsForm {
                keywords: "graph -traffic",
                ..Default::default()
            }),
            NO_LIKES,
        );
        let b = day.profile(
            &interests(InterestsForm {
                keywords: "vision",
                ..Default::default()
            }),
            NO_LIKES,
        );
        let first = day.rank_with(&a, 4, &mut s);
        assert_eq!(day.rank_with(&b, 4, &mut s)[0].paper, 3);
        assert_eq!(day.rank_with(&a, 4, &mut s), first);
        assert!(first.iter().all(|m| m.paper != 1), "blocked stays blocked");
    }

    /// Profiles learned from twelve graph theory papers (math.CO), each with some of the
    /// field's words, and twelve of another field (astro-ph.GA): the field's words are
    /// common among its papers, rare elsewhere.
    fn graph_theory() -> crate::matching::LearnedTopics {
        use crate::matching::{LabelledPaper, TopicLearner};
        let co = vec!["math.CO".to_string()];
        let ga = vec!["astro-ph.GA".to_string()];
        const FIELD: [&str; 5] = [
            "pancyclic",
            "orientations",
            "arcs",
            "colourings",
            "tournaments",
        ];
        let titles: Vec<String> = (0..12)
            .map(|i| format!("{} and {}", FIELD[i % 5], FIELD[(i + 2) % 5]))
            .collect();
        let abstracts: Vec<String> = (0..12)
            .map(|i| format!("Every strong digraph has {}.", FIELD[(i + 1) % 5]))
            .collect();
        let mut labelled: Vec<LabelledPaper<'_>> = titles
            .iter()
            .zip(&abstracts)
            .map(|(t, a)| LabelledPaper {
                title: t,
                abstract_text: a,
                categories: &co,
            })
            .collect();
        labelled.extend((0..12).map(|i| LabelledPaper {
            title: ["Stellar streams", "Gas accretion", "Bars in spirals"][i % 3],
            abstract_text: "Observations of nearby galaxies.",
            categories: &ga,
        }));
        TopicLearner::new(&labelled, &catalogue()).learn(&catalogue(), |_| true)
    }

    fn combinatorics_reader() -> Interests {
        interests(InterestsForm {
            topics: &["combinatorics".to_string()],
            trending: Some("0"),
            ..Default::default()
        })
    }

    #[test]
    fn a_learned_topic_finds_papers_its_keywords_miss_and_keywords_still_say_why() {
        use crate::matching::{Corpus, LearnedTopics};
        let none: Vec<String> = vec![];
        // Graph theory without the combinatorics topic's keywords, and one with them.
        let docs = [
            doc(
                "Pancyclic orientations and arc colourings",
                "Every strong orientation has arcs of each colour.",
                &none,
                0,
            ),
            doc("Galaxy rotation curves", "Dark matter halos.", &none, 0),
            doc(
                "Counting lattice paths",
                "A bijection for enumerative combinatorics of paths.",
                &none,
                0,
            ),
        ];
        let learned = graph_theory();
        assert!(learned.topics.contains_key("combinatorics"));
        let reader = combinatorics_reader();
        let keywords_only = Day::new(&docs, &[], &catalogue(), Weights::default());
        let ranked = keywords_only.rank(&keywords_only.profile(&reader, NO_LIKES), 3);
        assert!(!papers(&ranked).contains(&0), "the keywords miss paper 0");
        let day = Day::with_corpus(
            &docs,
            &Corpus::default(),
            &catalogue(),
            &learned,
            Weights::default(),
        );
        let ranked = day.rank(&day.profile(&reader, NO_LIKES), 3);
        assert!(papers(&ranked).contains(&0), "{ranked:?}");
        assert!(!papers(&ranked).contains(&1));
        let name = catalogue().get("combinatorics").unwrap().name.clone();
        let why = |d: usize| ranked.iter().find(|m| m.paper == d).unwrap().reasons[0].clone();
        assert_eq!(why(0).interest, name);
        assert!(
            why(0).words.is_empty(),
            "no keyword of the topic is in paper 0"
        );
        assert!(!why(2).words.is_empty(), "paper 2's keywords still say why");
        // No learned profile: the same day as before.
        let plain = Day::with_corpus(
            &docs,
            &Corpus::default(),
            &catalogue(),
            &LearnedTopics::default(),
            Weights::default(),
        );
        assert_eq!(
            plain.rank(&plain.profile(&reader, NO_LIKES), 3),
            keywords_only.rank(&keywords_only.profile(&reader, NO_LIKES), 3)
        );
    }

    #[test]
    fn a_topic_readers_common_field_brings_its_categorys_papers_above_the_floor() {
        use crate::matching::Corpus;
        let none: Vec<String> = vec![];
        let mut learned = graph_theory();
        // The topic's own profile left out: what finds a paper beyond the keywords is then
        // the profile of math.CO, the category the topic leads.
        learned.topics.clear();
        assert!(learned.categories["math.co"].floor > 0.0);
        let reader = combinatorics_reader();
        let rank = |docs: &[Doc<'_>]| {
            let day = Day::with_corpus(
                docs,
                &Corpus::default(),
                &catalogue(),
                &learned,
                Weights::default(),
            );
            day.rank(&day.profile(&reader, NO_LIKES), 3)
        };
        let ranked = rank(&[
            doc(
                "Pancyclic orientations and arc colourings",
                "Every strong orientation has arcs of each colour.",
                &none,
                0,
            ),
            doc("Galaxy rotation curves", "Dark matter halos.", &none, 0),
            doc(
                "Sentiment analysis",
                "A text classification corpus.",
                &none,
                0,
            ),
        ]);
        // No keyword of the topic is in paper 0: the field finds it and names the topic.
        assert_eq!(papers(&ranked), [0], "{ranked:?}");
        assert_eq!(
            ranked[0].reasons,
            [Reason {
                interest: catalogue().get("combinatorics").unwrap().name.clone(),
                words: Vec::new(),
                liked: None,
            }]
        );
        // A day with no paper of the field: one of them is still the nearest to it, but
        // none is as close as the category's own papers are.
        let ranked = rank(&[
            doc("Galaxy rotation curves", "Dark matter halos.", &none, 0),
            doc(
                "Sentiment analysis",
                "A text classification corpus.",
                &none,
                0,
            ),
            doc(
                "Road traffic",
                "Graphs of city roads and their arcs.",
                &none,
                0,
            ),
        ]);
        assert!(ranked.is_empty(), "{ranked:?}");
    }
}
