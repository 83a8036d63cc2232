//! A reader's interests compiled against a day, scored through the day's inverted lists,
//! and their top N with the reasons each paper was chosen.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::index::{CompiledTopic, Day, Term, normalise_name};
use super::similar::{self, Liked, LikedPaper};
use super::taste::Taste;
use crate::domain::Interests;
pub use crate::domain::Reason;

/// A paper in one of the reader's arXiv categories scores like this many own-keyword hits.
const CATEGORY: f32 = 3.0;
/// Pinned authors' papers come before everything else.
const PINNED: f32 = 10.0;
/// "More like these" (standard deviations above the day's mean), scaled to sit next to
/// BM25 scores.
const LIKED_SCALE: f32 = 2.0;
/// How much a topic reader's common field counts, per standard deviation of closeness, in
/// units of their topics' mean keyword score (as a topic's own learned profile counts). On
/// `dev.jsonl`, seed 1, topic readers' nDCG@10: 0.5 / 1 / 1.5 / 2 gave 0.692 / 0.696 /
/// 0.696 / 0.693 (0.685 without the field).
const TOPIC_FIELD_WEIGHT: f32 = 1.0;

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

/// Per-thread working memory, reused from one reader to the next so that matching a reader
/// allocates almost nothing.
#[derive(Default)]
pub struct Scratch {
    score: Vec<f32>,
    seen: Vec<u32>,
    blocked: Vec<u32>,
    epoch: u32,
    touched: Vec<u32>,
    /// The best papers so far, the worst of them on top: a reader with liked or rated
    /// papers has a score for every paper of the day, and keeping the best 10 of 2,000 as
    /// they come costs one comparison for most papers, where selecting them afterwards
    /// (`select_nth_unstable`) was 9 % of the instructions of matching the bench's readers.
    best: BinaryHeap<Reverse<Ranked>>,
}

/// A paper and its score, ordered from worse to better: a higher score, then (on a tie)
/// the earlier paper.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ranked(u32, f32);

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.1.total_cmp(&other.1).then(other.0.cmp(&self.0))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Scratch {
    fn reset(&mut self, n: usize) {
        if self.score.len() != n {
            self.score = vec![0.0; n];
            self.seen = vec![0; n];
            self.blocked = vec![0; n];
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.fill(0);
            self.blocked.fill(0);
            self.epoch = 1;
        }
        self.touched.clear();
        self.best.clear();
    }

    /// Keep paper `d` if it is among the best `n` so far.
    #[inline]
    fn offer(&mut self, n: usize, d: u32, score: f32) {
        let paper = Ranked(d, score);
        if self.best.len() < n {
            self.best.push(Reverse(paper));
        } else if self
            .best
            .peek()
            // A plain comparison first: most papers fall below the worst kept.
            .is_some_and(|worst| score >= worst.0.1 && paper > worst.0)
            && let Some(mut worst) = self.best.peek_mut()
        {
            *worst = Reverse(paper);
        }
    }

    #[inline]
    fn add(&mut self, doc: u32, s: f32) {
        let d = doc as usize;
        if self.seen[d] != self.epoch {
            self.seen[d] = self.epoch;
            self.score[d] = 0.0;
            self.touched.push(doc);
        }
        self.score[d] += s;
    }

    fn is_blocked(&self, doc: u32) -> bool {
        self.blocked[doc as usize] == self.epoch
    }
}

impl Day {
    /// Compile a reader's interests against this day. `liked` are the papers the reader
    /// liked, analysed with [`Day::liked_paper`].
    pub fn profile<'a>(&'a self, interests: &Interests, liked: &[&'a LikedPaper]) -> Profile<'a> {
        let taste = Taste {
            more: liked.iter().map(|p| (*p, 1.0)).collect(),
            fewer: Vec::new(),
        };
        self.profile_with(interests, &taste)
    }

    /// [`profile`](Self::profile) for a reader who also rated papers: `taste` comes from
    /// [`Taste::learn`], its papers analysed with [`Day::liked_paper`].
    pub fn profile_with<'a>(
        &'a self,
        interests: &Interests,
        taste: &Taste<&'a LikedPaper>,
    ) -> Profile<'a> {
        let mut own = Vec::new();
        let mut blocked = Vec::new();
        for k in interests.keyword_terms() {
            if k.excluded {
                if let Some(t) = self.term(&k.text, 1.0) {
                    blocked.extend(t.hits.iter().map(|h| h.0));
                }
            } else {
                let w = self.weights.own_keyword * if k.phrase { self.weights.phrase } else { 1.0 };
                own.extend(self.term(&k.text, w));
            }
        }
        for a in &interests.muted_authors {
            if let Some(docs) = self.authors.get(&normalise_name(a)) {
                blocked.extend(docs);
            }
        }
        blocked.sort_unstable();
        blocked.dedup();
        let mut pinned: Vec<(u32, String)> = Vec::new();
        for a in &interests.authors {
            for d in self.authors.get(&normalise_name(a)).into_iter().flatten() {
                if !pinned.iter().any(|p| p.0 == *d) {
                    pinned.push((*d, a.clone()));
                }
            }
        }
        pinned.sort_unstable_by_key(|p| p.0);
        let mut in_categories: Vec<(u32, String)> = Vec::new();
        for c in &interests.categories {
            for d in self.categories.get(&c.to_lowercase()).into_iter().flatten() {
                in_categories.push((*d, c.clone()));
            }
        }
        in_categories.sort_unstable_by_key(|p| p.0);
        let liked = (!taste.is_empty()).then(|| similar::score(self, &taste.more, &taste.fewer));
        let topics: Vec<&CompiledTopic> = interests
            .topics
            .iter()
            .filter_map(|t| self.topics.get(t.as_str()))
            .collect();
        let field = self.common_field(&topics);
        Profile {
            topics,
            field,
            own,
            blocked,
            pinned,
            in_categories,
            more: if liked.is_some() {
                taste.more.clone()
            } else {
                Vec::new()
            },
            liked,
            blend: f32::from(interests.trending.min(100)) / 100.0,
        }
    }

    /// [`rank_with`](Self::rank_with) with fresh working memory, for the tests and the
    /// evaluation; composing, which ranks every reader, keeps one [`Scratch`] a thread.
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

    /// Why paper `d` is in a reader's list: only computed for the few papers chosen.
    fn reasons(&self, p: &Profile<'_>, d: u32) -> Vec<Reason> {
        let mut out = Vec::new();
        let authors = labels(&p.pinned, d);
        if !authors.is_empty() {
            out.push(Reason {
                interest: "your authors".into(),
                words: authors,
                liked: None,
            });
        }
        let before = out.len();
        topic_reasons(p, d, &mut out);
        if out.len() == before {
            out.extend(self.field_reason(p, d));
        }
        let hit = |t: &&Term| t.hits.binary_search_by_key(&d, |h| h.0).is_ok();
        let words: Vec<String> = p.own.iter().filter(hit).map(|t| t.text.clone()).collect();
        if !words.is_empty() {
            out.push(Reason {
                interest: "your keywords".into(),
                words,
                liked: None,
            });
        }
        let cats = labels(&p.in_categories, d);
        if !cats.is_empty() {
            out.push(Reason {
                interest: "your arXiv categories".into(),
                words: cats,
                liked: None,
            });
        }
        out.extend(self.liked_reason(p, d));
        if out.is_empty() {
            out.push(trending_reason());
        }
        out
    }

    /// Found by the reader's common field alone: credit the topic that leads the category
    /// paper `d` is closest to.
    fn field_reason(&self, p: &Profile<'_>, d: u32) -> Option<Reason> {
        let best = p
            .field
            .iter()
            .filter_map(|&(r, w, t)| {
                let list = &self.fields.postings[r as usize];
                let i = list.binary_search_by_key(&d, |h| h.0).ok()?;
                Some((w * list[i].1, t))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        best.map(|(_, t)| Reason {
            interest: p.topics[t].name.clone(),
            words: Vec::new(),
            liked: None,
        })
    }

    /// Paper `d` is close to the reader's liked papers: the words it shares with them, and
    /// the liked paper closest to it.
    fn liked_reason(&self, p: &Profile<'_>, d: u32) -> Option<Reason> {
        let liked = p.liked.as_ref().filter(|liked| liked.is_match(d))?;
        Some(Reason {
            interest: "papers you liked".into(),
            words: liked.words(self, &p.more, d),
            liked: liked
                .nearest(self, &p.more, d)
                .map(|i| p.more[i].0.title().to_string())
                .filter(|t| !t.trim().is_empty()),
        })
    }
}

impl Day {
    /// A topic reader's common field (see [`common_field`]), each category weighing its
    /// share times the mean keyword score of the reader's topics: one standard deviation
    /// of closeness to a shared field adds what one to a topic's own profile adds.
    fn common_field(&self, topics: &[&CompiledTopic]) -> Vec<(u32, f32, usize)> {
        if topics.is_empty() || self.fields.postings.is_empty() {
            return Vec::new();
        }
        let lists: Vec<&[(u32, f32)]> = topics.iter().map(|t| t.fields.as_slice()).collect();
        let mut rows = common_field(&lists);
        let unit = topics.iter().map(|t| t.keyword_mean).sum::<f32>() / topics.len() as f32;
        for r in &mut rows {
            r.1 *= TOPIC_FIELD_WEIGHT * unit;
        }
        rows
    }
}

/// What a reader's topics have in common is their field (as for a liked-paper reader's
/// papers). From each topic's category rows and what each counts (1 for its primary
/// category, less for the others): a category's share is its weight summed over the
/// topics, over the number of topics, raised to [`similar::CONSENSUS`]; the
/// [`similar::FIELDS_KEPT`] heaviest are kept (ties by row), each with the first topic
/// that counts it most, to name in a reason. A reader of the three topics that lead
/// eess.IV, each also listing cs.CV, gets eess.IV at 1 and cs.CV at 0.125.
fn common_field(topics: &[&[(u32, f32)]]) -> Vec<(u32, f32, usize)> {
    let mut rows: Vec<(u32, f32, usize, f32)> = Vec::new();
    for (t, list) in topics.iter().enumerate() {
        for &(r, w) in *list {
            match rows.iter_mut().find(|x| x.0 == r) {
                Some(x) => {
                    x.1 += w;
                    if w > x.3 {
                        (x.2, x.3) = (t, w);
                    }
                }
                None => rows.push((r, w, t, w)),
            }
        }
    }
    let n = topics.len().max(1) as f32;
    let mut rows: Vec<(u32, f32, usize)> = rows
        .into_iter()
        .map(|(r, w, t, _)| (r, (w / n).powi(similar::CONSENSUS), t))
        .collect();
    rows.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(similar::FIELDS_KEPT);
    rows
}

fn trending_reason() -> Reason {
    Reason {
        interest: "trending today".into(),
        words: Vec::new(),
        liked: None,
    }
}

/// The labels (authors, categories) `list` gives paper `d`.
fn labels(list: &[(u32, String)], d: u32) -> Vec<String> {
    list.iter()
        .filter(|x| x.0 == d)
        .map(|x| x.1.clone())
        .collect()
}

/// A reason for each of the reader's topics paper `d` is in: by its keywords (named), or
/// close to what the topic's papers say, in none of its keywords.
fn topic_reasons(p: &Profile<'_>, d: u32, out: &mut Vec<Reason>) {
    for topic in &p.topics {
        if let Ok(i) = topic.total.binary_search_by_key(&d, |h| h.0) {
            out.push(Reason {
                interest: topic.name.clone(),
                words: topic.terms_in[i]
                    .iter()
                    .map(|t| topic.terms[*t as usize].text.clone())
                    .collect(),
                liked: None,
            });
        } else if topic.reader.binary_search_by_key(&d, |h| h.0).is_ok() {
            // Close to what the topic's papers say, in none of its keywords.
            out.push(Reason {
                interest: topic.name.clone(),
                words: Vec::new(),
                liked: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InterestsForm, TopicCatalogue};
    use crate::matching::{Doc, Weights};

    const NO_LIKES: &[&LikedPaper] = &[];

    fn catalogue() -> TopicCatalogue {
        TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap()
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

    #[test]
    fn a_readers_topics_share_the_field_most_of_them_lead() {
        // Rows: 0 eess.IV, 1 cs.CV, 2 physics.med-ph, 3 physics.geo-ph.
        let restoration: &[(u32, f32)] = &[(0, 1.0), (1, 0.5)];
        let medical: &[(u32, f32)] = &[(0, 1.0), (1, 0.5), (2, 0.5)];
        let sensing: &[(u32, f32)] = &[(0, 1.0), (1, 0.5), (3, 0.5)];
        let field = common_field(&[restoration, medical, sensing]);
        let share = |r: u32| field.iter().find(|x| x.0 == r).map(|x| (x.1, x.2));
        assert_eq!(field[0].0, 0, "eess.IV first");
        assert_eq!(share(0), Some((1.0, 0)), "all three lead it");
        assert_eq!(share(1), Some((0.125, 0)), "a half share, cubed");
        assert!((share(2).unwrap().0 - (0.5f32 / 3.0).powi(3)).abs() < 1e-6);
        assert_eq!(
            share(2).unwrap().1,
            1,
            "named after the topic that lists it"
        );
        // cs.CV led by a fourth topic: that topic is named for it.
        let vision: &[(u32, f32)] = &[(1, 1.0)];
        let field = common_field(&[restoration, medical, vision]);
        let share = |r: u32| field.iter().find(|x| x.0 == r).map(|x| (x.1, x.2));
        assert_eq!(share(1).unwrap().1, 2);
        assert!((share(1).unwrap().0 - (2.0f32 / 3.0).powi(3)).abs() < 1e-6);
        // Only the heaviest are kept; no topic, no field.
        let many: Vec<(u32, f32)> = (0..20).map(|r| (r, 0.5)).collect();
        assert_eq!(
            common_field(&[&many]).len(),
            similar::FIELDS_KEPT,
            "the heaviest kept"
        );
        assert!(common_field(&[]).is_empty());
    }
}
