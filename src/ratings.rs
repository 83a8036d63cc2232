//! Readers' ratings of papers, from a digest's "more like this / fewer like this" links, the
//! preferences page and the JSON API: recorded, removed, listed, and for "more like this"
//! the stored papers of the last week closest to the rated one.
//!
//! How ratings change a reader's next digest: a paper rated "fewer" is never sent to them
//! again (`digest::compose` leaves it out). What "more" and "fewer" do to the ranking is the
//! matching model's part (issue 15, part 2); composing hands every reader's ratings to it.

use crate::clock;
use crate::context::Context;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::domain::{
    ArxivId, DigestContent, Interest, Interests, PaperRating, Rating, Subscriber, TopicCatalogue,
};
use crate::error::ServiceError;
use crate::matching::{Corpus, Day, Doc, Scratch};
use crate::store::{RateOutcome, StoredPaper};

/// Ratings kept per reader: the latest this many. Enough for a model to learn a reader's
/// taste from, and what is older says less about it; a reader who rates everything (or a
/// script) costs the store and the composer no more than this.
pub(crate) const KEEP: i64 = 200;

/// Opposite ratings of one paper by one reader from mail links arriving less than this many
/// seconds apart cancel out, and nothing is kept. Mail security scanners open every link of
/// a mail within a second or two of each other, "more" and "fewer" alike, and some run the
/// page's script, which posts the rating; a person who rates a paper one way and at once the
/// other has changed their mind, and the page says that nothing was kept. Ten seconds spans
/// a scanner that walks a long digest's links one by one.
pub(crate) const CANCEL_WINDOW: i64 = 10;

/// Stored papers looked at for "similar papers": those first stored in the last week.
const SIMILAR_DAYS: i64 = 7;
/// Similar papers shown after a "more like this".
pub(crate) const SIMILAR_SHOWN: usize = 5;
/// At most this many of the week's papers are compared (the most upvoted first).
const SIMILAR_POOL: i64 = 5000;

/// Papers a reader hid that came through one interest before the preferences page
/// suggests dropping it. One hidden paper says little: a paper matches through several
/// interests, and the reader may have hidden it for its own sake (already read, a weak
/// paper). Two through the same interest are a pattern worth a question; the page only
/// asks, the reader decides.
pub(crate) const HINT_AT: usize = 2;
/// Digests looked through for the interests that brought the hidden papers: the latest
/// 200, over half a year of daily mail (the ratings kept are as many). A paper hidden from
/// an older digest is not counted.
const HINT_DIGESTS: i64 = 200;

/// An interest that brought [`HINT_AT`] or more of the papers a reader hid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HiddenThrough {
    pub interest: Interest,
    /// The topic's name, or the keyword as the reader wrote it (without quotes).
    pub name: String,
    /// Hidden papers it brought.
    pub hidden: usize,
    /// Dropping it leaves the reader something to match (it is not their only interest).
    pub removable: bool,
}

/// The reader's interests that brought at least [`HINT_AT`] of the `hidden` papers, by the
/// reasons stored with the digest entries that carried them; most hidden papers first.
/// Interests the reader no longer has are left out, and so are reasons that are not an
/// interest to drop (liked papers, trending).
pub(crate) fn hidden_through(
    interests: &Interests,
    catalogue: &TopicCatalogue,
    hidden: &[ArxivId],
    digests: &[DigestContent],
) -> Vec<HiddenThrough> {
    let hidden: HashSet<&ArxivId> = hidden.iter().collect();
    // What each reason's interest is called in the digests, and which interest it is.
    let topics: Vec<(&str, Interest)> = interests
        .topics
        .iter()
        .filter_map(|id| {
            Some((
                catalogue.get(id.as_str())?.name.as_str(),
                Interest::Topic(id.clone()),
            ))
        })
        .collect();
    let keywords: Vec<(String, Interest)> = interests
        .keyword_terms()
        .into_iter()
        .filter(|k| !k.excluded)
        .map(|k| {
            let canonical = k.canonical();
            (k.text, Interest::Keyword(canonical))
        })
        .collect();
    let mut brought: BTreeMap<&Interest, (&str, HashSet<&ArxivId>)> = BTreeMap::new();
    for entry in digests.iter().flat_map(|d| &d.entries) {
        if !hidden.contains(&entry.paper) {
            continue;
        }
        for r in &entry.reasons {
            let mut through: Vec<(&str, &Interest)> = Vec::new();
            if r.interest == "your keywords" {
                for w in &r.words {
                    through.extend(
                        keywords
                            .iter()
                            .filter(|k| k.0 == *w)
                            .map(|k| (k.0.as_str(), &k.1)),
                    );
                }
            } else if let Some((name, i)) = topics.iter().find(|t| t.0 == r.interest) {
                through.push((name, i));
            }
            for (name, i) in through {
                brought
                    .entry(i)
                    .or_insert_with(|| (name, HashSet::new()))
                    .1
                    .insert(&entry.paper);
            }
        }
    }
    let mut out: Vec<HiddenThrough> = brought
        .into_iter()
        .filter(|(_, (_, papers))| papers.len() >= HINT_AT)
        .map(|(i, (name, papers))| HiddenThrough {
            removable: interests
                .without(i)
                .is_some_and(|left| left.wants_something()),
            interest: i.clone(),
            name: name.to_string(),
            hidden: papers.len(),
        })
        .collect();
    // Stable: equal counts keep the interests' order (topics first, then keywords).
    out.sort_by_key(|h| std::cmp::Reverse(h.hidden));
    out
}

/// What a rating did.
#[derive(Debug)]
pub enum RatingEffect {
    /// Stored; `previous` is what the reader had said of this paper before.
    Recorded {
        paper: StoredPaper,
        previous: Option<Rating>,
    },
    /// It cancelled an opposite rating of the same paper made moments before (see
    /// [`CANCEL_WINDOW`]): nothing is kept.
    Cancelled { paper: StoredPaper },
}

/// A reader's rating with the paper's title, when the paper is still stored.
#[derive(Debug, Clone)]
pub(crate) struct ListedRating {
    pub rating: PaperRating,
    pub title: Option<String>,
}

/// A paper close to one the reader asked for more of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimilarPaper {
    pub id: ArxivId,
    pub title: String,
    pub url: String,
    /// Why: the words it shares with the rated paper.
    pub why: String,
}

/// Ratings over the application context.
#[derive(Clone)]
pub struct Ratings {
    ctx: Context,
    /// The last week's papers that "more like this" pages are answered from.
    similar: Arc<SimilarPool>,
}

impl Ratings {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            similar: Arc::default(),
        }
    }

    /// The reader a rating link names, if its token is valid for this paper.
    pub(crate) async fn reader_for_link(
        &self,
        token: &str,
        paper: &ArxivId,
    ) -> Result<Subscriber, ServiceError> {
        let claims = self
            .ctx
            .links
            .verify_rate(token, paper, clock::timestamp())?;
        self.ctx
            .store
            .find_by_public_id(&claims.subject)
            .await?
            .ok_or(ServiceError::Gone)
    }

    /// The stored paper, or [`ServiceError::UnknownPaper`].
    pub async fn paper(&self, id: &ArxivId) -> Result<StoredPaper, ServiceError> {
        self.ctx
            .store
            .papers_by_ids(std::slice::from_ref(id))
            .await?
            .pop()
            .ok_or_else(|| ServiceError::UnknownPaper(id.clone()))
    }

    /// Record a rating as the reader means it (the JSON API, the preferences page): the
    /// latest wins.
    pub async fn rate(
        &self,
        reader: &Subscriber,
        paper: &ArxivId,
        rating: Rating,
    ) -> Result<RatingEffect, ServiceError> {
        self.record(reader, paper, rating, None).await
    }

    /// Record a rating posted from a mail's link: an opposite rating of the same paper
    /// within [`CANCEL_WINDOW`] seconds cancels out instead.
    pub(crate) async fn rate_from_link(
        &self,
        reader: &Subscriber,
        paper: &ArxivId,
        rating: Rating,
    ) -> Result<RatingEffect, ServiceError> {
        self.record(reader, paper, rating, Some(CANCEL_WINDOW))
            .await
    }

    async fn record(
        &self,
        reader: &Subscriber,
        id: &ArxivId,
        rating: Rating,
        cancel_within: Option<i64>,
    ) -> Result<RatingEffect, ServiceError> {
        let paper = self.paper(id).await?;
        let outcome = self
            .ctx
            .store
            .rate(
                reader.id,
                id,
                rating,
                clock::timestamp(),
                cancel_within,
                KEEP,
            )
            .await?;
        let result = match outcome {
            RateOutcome::Recorded { previous } => RatingEffect::Recorded { paper, previous },
            RateOutcome::Cancelled => RatingEffect::Cancelled { paper },
            RateOutcome::NoSubscriber => return Err(ServiceError::Gone),
        };
        let counted = match &result {
            RatingEffect::Recorded { .. } => rating.as_str(),
            RatingEffect::Cancelled { .. } => "cancelled",
        };
        metrics::counter!("paperboy_ratings_total", "rating" => counted).increment(1);
        Ok(result)
    }

    /// Forget a reader's rating of a paper (stored or not); false if there was none.
    pub async fn remove(&self, reader: &Subscriber, paper: &ArxivId) -> Result<bool, ServiceError> {
        Ok(self.ctx.store.remove_rating(reader.id, paper).await?)
    }

    /// A reader's ratings, latest first.
    pub async fn list(&self, reader: &Subscriber) -> Result<Vec<PaperRating>, ServiceError> {
        Ok(self.ctx.store.ratings_of(reader.id).await?)
    }

    /// [`list`](Self::list) with each paper's title, for the preferences page.
    pub(crate) async fn list_with_titles(
        &self,
        reader: &Subscriber,
    ) -> Result<Vec<ListedRating>, ServiceError> {
        let ratings = self.list(reader).await?;
        let ids: Vec<ArxivId> = ratings.iter().map(|r| r.paper.clone()).collect();
        let titles: std::collections::HashMap<ArxivId, String> = self
            .ctx
            .store
            .papers_by_ids(&ids)
            .await?
            .into_iter()
            .map(|p| (p.paper.id, p.paper.title))
            .collect();
        Ok(ratings
            .into_iter()
            .map(|r| ListedRating {
                title: titles.get(&r.paper).cloned(),
                rating: r,
            })
            .collect())
    }

    /// The papers the reader hid ("fewer like this").
    async fn hidden(&self, reader: &Subscriber) -> Result<Vec<ArxivId>, ServiceError> {
        Ok(self
            .list(reader)
            .await?
            .into_iter()
            .filter(|r| r.rating == Rating::Fewer)
            .map(|r| r.paper)
            .collect())
    }

    /// The reader's interests that brought several of the papers they hid
    /// ([`hidden_through`]), for the preferences page to offer dropping them.
    pub(crate) async fn hidden_through(
        &self,
        reader: &Subscriber,
    ) -> Result<Vec<HiddenThrough>, ServiceError> {
        let hidden = self.hidden(reader).await?;
        if hidden.len() < HINT_AT {
            return Ok(Vec::new());
        }
        let digests = self
            .ctx
            .store
            .digest_contents_of(reader.id, HINT_DIGESTS)
            .await?;
        Ok(hidden_through(
            &reader.interests,
            &self.ctx.catalogue,
            &hidden,
            &digests,
        ))
    }

    /// Up to [`SIMILAR_SHOWN`] papers first stored in the last week closest to `paper`, by
    /// the matcher's own "more like these" (words, topics and fields), leaving out `paper`
    /// and what the reader hid. Runs on a blocking thread, against the week kept in
    /// [`SimilarPool`].
    pub async fn similar(
        &self,
        reader: &Subscriber,
        paper: &StoredPaper,
    ) -> Result<Vec<SimilarPaper>, ServiceError> {
        let hidden = self.hidden(reader).await?;
        let week = self.similar.week(&self.ctx).await?;
        let liked = paper.paper.clone();
        let found = tokio::task::spawn_blocking(move || {
            let (day, week) = (&week.day, &week.papers);
            let lp = day.liked_paper(&liked.title, &liked.abstract_text, &liked.categories);
            let interests = Interests {
                trending: 0,
                ..Interests::default()
            };
            let mut profile = day.profile(&interests, &[&lp]);
            profile.exclude(week.iter().enumerate().filter_map(|(i, p)| {
                (p.paper.id == liked.id || hidden.contains(&p.paper.id)).then_some(i as u32)
            }));
            day.rank_with(&profile, SIMILAR_SHOWN, &mut Scratch::default())
                .into_iter()
                .map(|m| {
                    let p = &week[m.paper].paper;
                    let words: Vec<String> = m
                        .reasons
                        .iter()
                        .flat_map(|r| r.words.iter().cloned())
                        .take(4)
                        .collect();
                    SimilarPaper {
                        id: p.id.clone(),
                        title: p.title.clone(),
                        url: p.id.abs_url(),
                        why: if words.is_empty() {
                            "Close to it in topic".into()
                        } else {
                            format!("Shares {}", words.join(", "))
                        },
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("finding similar papers panicked");
        Ok(found)
    }
}

/// The last week's papers analysed for "more like this" pages, kept for the next page
/// while the store's composing stamp and the day (UTC) stay the same: analysing up to
/// [`SIMILAR_POOL`] papers took 1.7-1.9 s a page for a week of 2,993 (`cargo bench --bench
/// compose`, the machine loaded), ranking them for one paper a few milliseconds.
#[derive(Default)]
struct SimilarPool(crate::store::ComposingCache<i64, Arc<Week>>);

/// The papers first stored in the last [`SIMILAR_DAYS`], analysed (with the profiles
/// learned at the last ingest: a liked paper's own categories place it, as in the digest).
struct Week {
    papers: Vec<StoredPaper>,
    day: Day,
}

impl SimilarPool {
    async fn week(&self, ctx: &Context) -> Result<Arc<Week>, ServiceError> {
        let now = clock::timestamp();
        let build = async {
            let papers = ctx
                .store
                .papers_stored_since(now - SIMILAR_DAYS * 86_400, SIMILAR_POOL)
                .await?;
            let learned = ctx.store.learned_topics().await?;
            let (catalogue, weights) = (ctx.catalogue.clone(), ctx.config.matching.clone());
            let week = tokio::task::spawn_blocking(move || {
                let docs: Vec<Doc<'_>> = papers
                    .iter()
                    .map(|p| Doc::text(&p.paper.title, &p.paper.abstract_text))
                    .collect();
                let day = Day::with_corpus(&docs, &Corpus::new(&[]), &catalogue, &learned, weights);
                Week { papers, day }
            })
            .await
            .expect("analysing the week's papers panicked");
            Ok::<_, ServiceError>(Some(Arc::new(week)))
        };
        // Keyed by the day (UTC) too: papers leave the week as it goes by.
        let kept = self
            .0
            .get(&ctx.store, now / 86_400, |_| true, build)
            .await?;
        Ok(kept.expect("a week is always built").clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DigestEntry, DigestKind, InterestsForm, Reason, TopicId};

    fn entry(paper: &str, reasons: &[(&str, &[&str])]) -> DigestEntry {
        DigestEntry {
            paper: ArxivId::parse(paper).unwrap(),
            version: None,
            new_version: false,
            reasons: reasons
                .iter()
                .map(|(i, w)| Reason {
                    interest: i.to_string(),
                    words: w.iter().map(|w| w.to_string()).collect(),
                    liked: None,
                })
                .collect(),
        }
    }

    fn digest(entries: Vec<DigestEntry>) -> DigestContent {
        DigestContent {
            kind: DigestKind::Personal,
            entries,
            weekly: false,
        }
    }

    #[test]
    fn interests_that_brought_two_hidden_papers_are_named() {
        let cat = TopicCatalogue::from_toml(include_str!("../config/topics.toml")).unwrap();
        let agents = cat.get("agents").unwrap().name.clone();
        let topics = ["agents".to_string()];
        let interests = Interests::parse(
            &cat,
            &InterestsForm {
                topics: &topics,
                keywords: r#"agents "<b>x</b> y" -medical"#,
                ..Default::default()
            },
        )
        .unwrap();
        let hostile = "<b>x</b> y";
        let days = [
            digest(vec![
                entry(
                    "2605.00001",
                    &[(&agents, &["agent"]), ("your keywords", &["agents"])],
                ),
                entry("2605.00002", &[(&agents, &[])]),
                entry("2605.00003", &[("your keywords", &[hostile])]),
                // Not hidden.
                entry("2605.00004", &[(&agents, &["agent"])]),
                // Hidden, but through nothing the reader can drop.
                entry(
                    "2605.00006",
                    &[("papers you liked", &["agent"]), ("trending today", &[])],
                ),
            ]),
            digest(vec![
                // A new version of a hidden paper, sent again: still one paper.
                entry("2605.00001", &[(&agents, &["agent"])]),
                entry("2605.00005", &[("your keywords", &[hostile, "medical"])]),
            ]),
        ];
        let hidden: Vec<ArxivId> = [
            "2605.00001",
            "2605.00002",
            "2605.00003",
            "2605.00005",
            "2605.00006",
        ]
        .iter()
        .map(|p| ArxivId::parse(p).unwrap())
        .collect();
        let found = hidden_through(&interests, &cat, &hidden, &days);
        let topic = Interest::Topic(TopicId::parse("agents").unwrap());
        assert_eq!(
            found,
            [
                HiddenThrough {
                    interest: topic.clone(),
                    name: agents.clone(),
                    hidden: 2,
                    removable: true,
                },
                HiddenThrough {
                    interest: Interest::Keyword(format!("\"{hostile}\"")),
                    name: hostile.into(),
                    hidden: 2,
                    removable: true,
                },
            ],
            "the keyword 'agents' brought one hidden paper: below the threshold"
        );
        // An interest the reader dropped since is not offered; a last one is not removable.
        let only_keyword = interests.without(&topic).unwrap();
        let found = hidden_through(&only_keyword, &cat, &hidden, &days);
        assert_eq!(found.len(), 1);
        let last = Interests {
            keywords: vec![format!("\"{hostile}\""), "-medical".into()],
            ..only_keyword
        };
        let found = hidden_through(&last, &cat, &hidden, &days);
        assert!(!found[0].removable, "{found:?}");
        assert!(hidden_through(&interests, &cat, &hidden[..1], &days).is_empty());
    }
}
