//! A day's (or a week's) papers analysed for matching, and what one reader gets from them:
//! the composing run and the previews both choose through a [`Composer`].

use std::collections::HashMap;

use chrono::NaiveDate;

use super::DigestError;
use crate::config::Config;
use crate::domain::{
    ArxivId, DigestContent, DigestEntry, DigestKind, Frequency, PaperRating, Rating, Subscriber,
    TopicCatalogue,
};
use crate::matching::{Corpus, Day, Doc, LikedPaper, Match, Pick, Rated, Scratch, Taste};
use crate::store::{Store, StoredPaper};

/// Other stored papers whose words sharpen the day's document frequencies.
const CORPUS: i64 = 5000;

fn doc(p: &StoredPaper, day: NaiveDate) -> Doc<'_> {
    let p = &p.paper;
    Doc {
        title: &p.title,
        abstract_text: &p.abstract_text,
        keywords: &p.keywords,
        authors: &p.authors,
        upvotes: p.upvotes.unwrap_or(0),
        comments: p.comments.unwrap_or(0),
        stars: p.github_stars.unwrap_or(0),
        age_days: p
            .published
            .map(|d| (day - d).num_days().clamp(0, u32::MAX as i64) as u32),
        organization: p.organization.as_deref(),
        categories: &p.categories,
    }
}

/// A day's papers analysed for matching, and what each reader gets from them.
pub struct Composer {
    pub(super) papers: Vec<StoredPaper>,
    /// Paper id to its place in `papers`.
    place: HashMap<String, u32>,
    index: Day,
    /// "More like these": each liked paper is analysed once per run.
    pub(super) liked: HashMap<ArxivId, LikedPaper>,
    /// Of the day's papers, those some reader was sent before: only they need a look at
    /// what each reader was sent.
    pub(super) sent_before: Vec<ArxivId>,
    /// The week to `day`, for weekly readers, rather than the day alone.
    weekly: bool,
}

/// The papers (and versions) a reader was sent before, among the day's.
pub(super) type Sent = HashMap<String, Option<u32>>;

/// One reader's part in a composing run.
pub(super) enum Choice {
    NotDue,
    /// A daily reader on a day without papers.
    NoPapers,
    Nothing,
    Digest(DigestContent),
}

impl Composer {
    /// What a reader with this frequency gets on `day`: the day's papers, or for a weekly
    /// reader the week's (the seven days to `day`); `None` when there are none.
    pub(crate) async fn for_frequency(
        store: &Store,
        config: &Config,
        catalogue: &TopicCatalogue,
        day: NaiveDate,
        frequency: Frequency,
    ) -> Result<Option<Self>, DigestError> {
        let weekly = matches!(frequency, Frequency::Weekly(_));
        Self::over(store, config, catalogue, day, weekly).await
    }

    pub(super) async fn over(
        store: &Store,
        config: &Config,
        catalogue: &TopicCatalogue,
        day: NaiveDate,
        weekly: bool,
    ) -> Result<Option<Self>, DigestError> {
        let from = if weekly {
            day - chrono::Days::new(6)
        } else {
            day
        };
        let papers = store.papers_featured(from, day, 100_000).await?;
        if papers.is_empty() {
            return Ok(None);
        }
        let place: HashMap<String, u32> = papers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.paper.id.as_str().to_string(), i as u32))
            .collect();
        let others = store.papers(None, CORPUS).await?;
        let corpus: Vec<(&str, &str)> = others
            .iter()
            .filter(|p| !place.contains_key(p.paper.id.as_str()))
            .map(|p| (p.paper.title.as_str(), p.paper.abstract_text.as_str()))
            .collect();
        let docs: Vec<Doc<'_>> = papers.iter().map(|p| doc(p, day)).collect();
        // Topic readers are matched by the profiles learned at the last ingest (none yet:
        // by keywords alone).
        let learned = store.learned_topics().await?;
        let index = Day::with_corpus(
            &docs,
            &Corpus::new(&corpus),
            catalogue,
            &learned,
            config.matching.clone(),
        );
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.paper.id.clone()).collect();
        let sent_before = store.papers_sent_before(&ids).await?;
        Ok(Some(Self {
            papers,
            place,
            index,
            liked: HashMap::new(),
            sent_before,
            weekly,
        }))
    }

    /// Analyse liked papers ("more like these"), once each.
    pub(super) fn learn(&mut self, liked: &[StoredPaper]) {
        for p in liked {
            if !self.liked.contains_key(&p.paper.id) {
                let v = self.index.liked_paper(
                    &p.paper.title,
                    &p.paper.abstract_text,
                    &p.paper.categories,
                );
                self.liked.insert(p.paper.id.clone(), v);
            }
        }
    }

    /// What one reader gets: their papers not sent to them before (a newer arXiv version
    /// is flagged) nor hidden by them ("fewer like this"), or, when none is left and they
    /// asked for it, the day's trending papers they have not had; or nothing.
    pub(super) fn choose(
        &self,
        r: &Subscriber,
        sent: &Sent,
        ratings: &[PaperRating],
        scratch: &mut Scratch,
    ) -> Option<DigestContent> {
        // What the reader liked at sign-up and taught since ("more / fewer like this"):
        // the "more" papers join the liked ones, the newest weighing most, and papers close
        // to the "fewer" ones are pushed down (matching::Taste, the model the eval measures).
        let rated: Vec<Rated<&ArxivId>> = ratings
            .iter()
            .map(|p| Rated {
                paper: &p.paper,
                rating: p.rating,
                at: p.at,
            })
            .collect();
        let liked: Vec<&ArxivId> = r.interests.liked.iter().collect();
        let taste: Taste<&LikedPaper> = Taste::learn(&liked, &rated).map(|id| self.liked.get(*id));
        let mut profile = self.index.profile_with(&r.interests, &taste);
        // A paper sent before stays out, unless arXiv has a newer version of it since.
        profile.exclude(sent.iter().filter_map(|(id, before)| {
            let d = *self.place.get(id.as_str())?;
            let now = self.papers[d as usize].paper.version;
            let newer = before.is_some() && now > *before;
            (!newer).then_some(d)
        }));
        // A paper the reader hid is never sent to them again, whatever the model makes of
        // the rating, and even as a trending paper.
        profile.exclude(ratings.iter().filter_map(|p| {
            (p.rating == Rating::Fewer)
                .then(|| self.place.get(p.paper.as_str()).copied())
                .flatten()
        }));
        let n = usize::from(r.prefs.papers_per_digest);
        let entries = |m: Vec<Match>| -> Vec<DigestEntry> {
            m.into_iter()
                .map(|m| {
                    let p = &self.papers[m.paper].paper;
                    DigestEntry {
                        paper: p.id.clone(),
                        version: p.version,
                        new_version: sent.contains_key(p.id.as_str()),
                        reasons: m.reasons,
                    }
                })
                .collect()
        };
        let (kind, m) = match self
            .index
            .pick(&profile, n, r.prefs.send_when_empty, scratch)
        {
            Pick::Personal(m) => (DigestKind::Personal, m),
            Pick::Trending(m) => (DigestKind::Trending, m),
            Pick::Nothing => return None,
        };
        let entries = entries(m);
        (!entries.is_empty()).then_some(DigestContent {
            kind,
            entries,
            weekly: self.weekly,
        })
    }

    /// What `reader` would get for this day, without writing anything.
    pub(super) async fn preview(
        &mut self,
        store: &Store,
        reader: &Subscriber,
    ) -> Result<Option<DigestContent>, DigestError> {
        let ratings = store.ratings_of(reader.id).await?;
        let mut taught = reader.interests.liked.clone();
        taught.extend(ratings.iter().map(|p| p.paper.clone()));
        let liked = store.papers_by_ids(&taught).await?;
        self.learn(&liked);
        let sent = sent(store, &self.sent_before, reader.id, reader.id).await?;
        Ok(self.choose(
            reader,
            sent.get(&reader.id).unwrap_or(&Sent::new()),
            &ratings,
            &mut Scratch::default(),
        ))
    }
}

/// What the readers with ids in `first..=last` were sent of `sent_before`.
pub(super) async fn sent(
    store: &Store,
    sent_before: &[ArxivId],
    first: i64,
    last: i64,
) -> Result<HashMap<i64, Sent>, DigestError> {
    if sent_before.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(store.sent_papers(first, last, sent_before).await?)
}
