//! Readers' ratings of papers, from a digest's "more like this / fewer like this" links, the
//! preferences page and the JSON API: recorded, removed, listed, and for "more like this"
//! the stored papers of the last week closest to the rated one.
//!
//! How ratings change a reader's next digest: a paper rated "fewer" is never sent to them
//! again (`digest::compose` leaves it out). What "more" and "fewer" do to the ranking is the
//! matching model's part (issue 15, part 2); composing hands every reader's ratings to it.

use crate::clock;
use crate::context::Context;
use crate::domain::{ArxivId, Interests, PaperRating, Rating, Subscriber};
use crate::matching::{Day, Doc, Scratch};
use crate::store::{RateOutcome, StoredPaper};
use crate::subscriptions::ServiceError;

/// Ratings kept per reader: the latest this many. Enough for a model to learn a reader's
/// taste from, and what is older says less about it; a reader who rates everything (or a
/// script) costs the store and the composer no more than this.
pub const KEEP: i64 = 200;

/// Opposite ratings of one paper by one reader from mail links arriving less than this many
/// seconds apart cancel out, and nothing is kept. Mail security scanners open every link of
/// a mail within a second or two of each other, "more" and "fewer" alike, and some run the
/// page's script, which posts the rating; a person who rates a paper one way and at once the
/// other has changed their mind, and the page says that nothing was kept. Ten seconds spans
/// a scanner that walks a long digest's links one by one.
pub const CANCEL_WINDOW: i64 = 10;

/// Stored papers looked at for "similar papers": those first stored in the last week.
const SIMILAR_DAYS: i64 = 7;
/// Similar papers shown after a "more like this".
pub const SIMILAR_SHOWN: usize = 5;
/// At most this many of the week's papers are compared (the most upvoted first).
const SIMILAR_POOL: i64 = 5000;

/// What a rating did.
#[derive(Debug)]
pub enum Rated {
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
pub struct ListedRating {
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
}

impl Ratings {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The reader a rating link names, if its token is valid for this paper.
    pub async fn reader_for_link(
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
    ) -> Result<Rated, ServiceError> {
        self.record(reader, paper, rating, None).await
    }

    /// Record a rating posted from a mail's link: an opposite rating of the same paper
    /// within [`CANCEL_WINDOW`] seconds cancels out instead.
    pub async fn rate_from_link(
        &self,
        reader: &Subscriber,
        paper: &ArxivId,
        rating: Rating,
    ) -> Result<Rated, ServiceError> {
        self.record(reader, paper, rating, Some(CANCEL_WINDOW))
            .await
    }

    async fn record(
        &self,
        reader: &Subscriber,
        id: &ArxivId,
        rating: Rating,
        cancel_within: Option<i64>,
    ) -> Result<Rated, ServiceError> {
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
            RateOutcome::Recorded { previous } => Rated::Recorded { paper, previous },
            RateOutcome::Cancelled => Rated::Cancelled { paper },
            RateOutcome::NoSubscriber => return Err(ServiceError::Gone),
        };
        let counted = match &result {
            Rated::Recorded { .. } => rating.as_str(),
            Rated::Cancelled { .. } => "cancelled",
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
    pub async fn list_with_titles(
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

    /// Up to [`SIMILAR_SHOWN`] papers first stored in the last week closest to `paper`, by
    /// the matcher's own "more like these" (words and topics), leaving out `paper` and what
    /// the reader hid. Runs on a blocking thread: it analyses the week's papers.
    pub async fn similar(
        &self,
        reader: &Subscriber,
        paper: &StoredPaper,
    ) -> Result<Vec<SimilarPaper>, ServiceError> {
        let since = clock::timestamp() - SIMILAR_DAYS * 86_400;
        let week = self
            .ctx
            .store
            .papers_stored_since(since, SIMILAR_POOL)
            .await?;
        let hidden: Vec<ArxivId> = self
            .list(reader)
            .await?
            .into_iter()
            .filter(|r| r.rating == Rating::Fewer)
            .map(|r| r.paper)
            .collect();
        let (catalogue, weights) = (self.ctx.catalogue.clone(), self.ctx.config.matching.clone());
        let liked = paper.paper.clone();
        let found = tokio::task::spawn_blocking(move || {
            let docs: Vec<Doc<'_>> = week
                .iter()
                .map(|p| Doc::text(&p.paper.title, &p.paper.abstract_text))
                .collect();
            let day = Day::new(&docs, &[], &catalogue, weights);
            let lp = day.liked_paper(&liked.title, &liked.abstract_text);
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
