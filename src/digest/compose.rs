//! Compose a day: match every due reader against the day's papers and write one outbox row
//! per reader, holding the chosen papers and their reasons.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::DigestError;
use crate::clock;
use crate::config::Config;
use crate::context::Context;
use crate::domain::{
    ArxivId, DigestContent, DigestEntry, DigestKind, Frequency, PaperRating, Rating, Subscriber,
    TopicCatalogue,
};
use crate::matching::{Corpus, Day, Doc, LikedPaper, Match, Pick, Rated, Scratch, Taste};
use crate::store::{NewDigest, Store, StoredPaper};

/// Readers read and written per batch: as many as a `paper_recipients` block holds (4,096
/// ids), so a batch spans at most two blocks and each row of what was sent is read by at
/// most two batches (with 1,000 a batch, by five: a million readers' next day took 71 s,
/// now 52 s), and each write adds fewer, fuller rows.
const BATCH: i64 = 4096;
/// Digests written a transaction, at most (plus one batch).
const WRITE_GROUP: usize = 10_000;
/// Other stored papers whose words sharpen the day's document frequencies.
const CORPUS: i64 = 5000;

/// What composing a day did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComposeReport {
    pub day: Option<NaiveDate>,
    /// Papers featured that day.
    pub papers: usize,
    /// Active readers looked at.
    pub readers: u64,
    /// New outbox rows.
    pub composed: u64,
    /// Readers that already had a digest for the day (a rerun, another instance).
    pub already_composed: u64,
    /// Of the composed: the day's trending papers because nothing matched.
    pub trending: u64,
    /// Readers with no mail today: nothing matched and they asked for nothing then.
    pub nothing_matched: u64,
    /// Weekly readers whose day it is not.
    pub not_due: u64,
    /// Daily readers on a day without papers.
    pub no_papers: u64,
    /// Of the composed: weekly readers' best of the week.
    pub weekly: u64,
    /// Why nothing was composed at all, when that is the case.
    pub note: Option<String>,
}

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

/// Is the reader due for `day`'s digest? With `at` (the scheduler's tick), only once their
/// local delivery hour has come, and weekly readers on their local weekday; without it (an
/// operator composing a day by hand), weekly readers on the day's weekday.
pub fn due(s: &Subscriber, day: NaiveDate, at: Option<DateTime<Utc>>) -> bool {
    match at {
        None => match s.prefs.frequency {
            Frequency::Daily => true,
            Frequency::Weekly(w) => day.weekday() == w,
        },
        Some(t) => {
            let local = t.with_timezone(&s.prefs.timezone);
            local.hour() >= u32::from(s.prefs.hour)
                && match s.prefs.frequency {
                    Frequency::Daily => true,
                    Frequency::Weekly(w) => local.weekday() == w,
                }
        }
    }
}

/// A day's papers analysed for matching, and what each reader gets from them.
pub struct Composer {
    papers: Vec<StoredPaper>,
    /// Paper id to its place in `papers`.
    place: HashMap<String, u32>,
    index: Day,
    /// "More like these": each liked paper is analysed once per run.
    liked: HashMap<ArxivId, LikedPaper>,
    /// Of the day's papers, those some reader was sent before: only they need a look at
    /// what each reader was sent.
    sent_before: Vec<ArxivId>,
    /// The week to `day`, for weekly readers, rather than the day alone.
    weekly: bool,
}

/// A preview's upper bound on liked papers kept analysed between previews (a few KB each):
/// past it they are analysed again.
const PREVIEW_LIKED: usize = 1_000;

/// The composers previews were last answered from, one for daily readers and one for
/// weekly ones, each kept while what it was built from is unchanged (the store's
/// [`crate::store::ComposingStamp`]): building one analyses the day's papers and the stored
/// corpus, 750 ms for a day of 2,000 (`cargo bench --bench compose`), while matching one
/// reader against it takes well under a millisecond. Shared by the process (the form's
/// preview refreshes as a reader types); another instance's ingest changes the stamp.
#[derive(Default)]
pub(super) struct Previews(crate::store::ComposingCache<(NaiveDate, Span), Composer>);

/// The papers a composer matches readers against: a day's, or the week's to that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Span {
    Day,
    Week,
}

/// What a preview finds for a reader.
pub(super) enum Matched {
    /// No papers are stored for the day (or the week, for a weekly reader).
    NoPapers,
    /// Nothing matched, and the reader asked for nothing then.
    Nothing,
    Digest(DigestContent),
}

impl Previews {
    /// What `reader` would get for `day` as composing would choose it now.
    pub(super) async fn preview(
        &self,
        ctx: &Context,
        reader: &Subscriber,
        day: NaiveDate,
    ) -> Result<Matched, DigestError> {
        let (store, config, catalogue) = (&ctx.store, &*ctx.config, &*ctx.catalogue);
        let weekly = matches!(reader.prefs.frequency, Frequency::Weekly(_));
        let span = if weekly { Span::Week } else { Span::Day };
        let build = Composer::over(store, config, catalogue, day, weekly);
        let same_slot = |k: &(NaiveDate, Span)| k.1 == span;
        let Some(mut composer) = self.0.get(store, (day, span), same_slot, build).await? else {
            return Ok(Matched::NoPapers);
        };
        if composer.liked.len() > PREVIEW_LIKED {
            composer.liked.clear();
        }
        Ok(match composer.preview(store, reader).await? {
            Some(content) => Matched::Digest(content),
            None => Matched::Nothing,
        })
    }
}

/// The papers (and versions) a reader was sent before, among the day's.
type Sent = HashMap<String, Option<u32>>;

/// One reader's part in a composing run.
enum Choice {
    NotDue,
    /// A daily reader on a day without papers.
    NoPapers,
    Nothing,
    Digest(DigestContent),
}

impl Composer {
    /// What a reader with this frequency gets on `day`: the day's papers, or for a weekly
    /// reader the week's (the seven days to `day`); `None` when there are none.
    pub async fn for_frequency(
        store: &Store,
        config: &Config,
        catalogue: &TopicCatalogue,
        day: NaiveDate,
        frequency: Frequency,
    ) -> Result<Option<Self>, DigestError> {
        let weekly = matches!(frequency, Frequency::Weekly(_));
        Self::over(store, config, catalogue, day, weekly).await
    }

    async fn over(
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
    fn learn(&mut self, liked: &[StoredPaper]) {
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
    fn choose(
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
    async fn preview(
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

/// The day's composer for daily readers and the week's for weekly ones; either may be
/// missing (no papers, or no weekly readers).
struct Composers {
    day: NaiveDate,
    daily: Option<Composer>,
    weekly: Option<Composer>,
}

impl Composers {
    fn learn(&mut self, liked: &[StoredPaper]) {
        for c in [&mut self.daily, &mut self.weekly].into_iter().flatten() {
            c.learn(liked);
        }
    }

    /// Each reader's part, on every core: readers are split into one run of readers a
    /// thread, each thread with its own working memory.
    fn choose_all(&self, batch: &Batch, at: Option<DateTime<Utc>>) -> Vec<Choice> {
        let no_sent = Sent::new();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = batch.readers.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = batch
                .readers
                .chunks(chunk)
                .map(|part| {
                    let no_sent = &no_sent;
                    s.spawn(move || {
                        let mut scratch = Scratch::default();
                        part.iter()
                            .map(|r| {
                                if !due(r, self.day, at) {
                                    return Choice::NotDue;
                                }
                                let composer = match r.prefs.frequency {
                                    Frequency::Daily => &self.daily,
                                    Frequency::Weekly(_) => &self.weekly,
                                };
                                let Some(composer) = composer else {
                                    return Choice::NoPapers;
                                };
                                let sent = batch.sent.get(&r.id).unwrap_or(no_sent);
                                let ratings =
                                    batch.ratings.get(&r.id).map_or(&[][..], Vec::as_slice);
                                match composer.choose(r, sent, ratings, &mut scratch) {
                                    Some(c) => Choice::Digest(c),
                                    None => Choice::Nothing,
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a composing thread panicked"))
                .collect()
        })
    }
}

/// Readers to match, what they were sent before, and where the next batch starts.
struct Batch {
    readers: Vec<Subscriber>,
    sent: HashMap<i64, Sent>,
    /// The readers' ratings ("more / fewer like this"), by reader id.
    ratings: HashMap<i64, Vec<PaperRating>>,
    /// The last reader id looked at.
    last: i64,
    /// Active readers looked at, including those that already had a digest.
    looked_at: u64,
    /// Papers these readers liked or rated that no earlier batch did.
    new_likes: Vec<StoredPaper>,
}

/// The next active readers after `after` that have no digest for `day` yet (a rerun or
/// another instance made those), with what they were sent of `sent_before`; `None` past
/// the last reader.
async fn next_batch(
    store: &Store,
    day: NaiveDate,
    sent_before: &[ArxivId],
    liked_so_far: &mut HashSet<ArxivId>,
    after: i64,
) -> Result<Option<Batch>, DigestError> {
    let rows = store.readers_for_day(day, after, BATCH).await?;
    let Some(last) = rows.last().map(|r| r.0.id) else {
        return Ok(None);
    };
    let looked_at = rows.len() as u64;
    let readers: Vec<Subscriber> = rows
        .into_iter()
        .filter_map(|(r, composed)| (!composed).then_some(r))
        .collect();
    let (sent, ratings) = match (readers.first(), readers.last()) {
        (Some(f), Some(l)) => (
            sent(store, sent_before, f.id, l.id).await?,
            store.ratings_between(f.id, l.id).await?,
        ),
        _ => (HashMap::new(), HashMap::new()),
    };
    // Liked and rated papers are analysed once a run, by the first batch that needs them.
    let new: Vec<ArxivId> = readers
        .iter()
        .flat_map(|r| r.interests.liked.iter())
        .chain(ratings.values().flatten().map(|p| &p.paper))
        .filter(|id| liked_so_far.insert((*id).clone()))
        .cloned()
        .collect();
    let new_likes = if new.is_empty() {
        Vec::new()
    } else {
        store.papers_by_ids(&new).await?
    };
    Ok(Some(Batch {
        readers,
        sent,
        ratings,
        last,
        looked_at,
        new_likes,
    }))
}

/// What the readers with ids in `first..=last` were sent of `sent_before`.
async fn sent(
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

/// Compose `day` for every active reader who is due (see [`due`]) and has no digest for it
/// yet. Three things overlap: reading the next batch of readers, matching this one (on
/// blocking threads, so the runtime keeps serving) and writing what was matched before.
pub async fn compose(
    ctx: &Context,
    day: NaiveDate,
    at: Option<DateTime<Utc>>,
) -> Result<ComposeReport, DigestError> {
    let (store, config, catalogue) = (&ctx.store, &*ctx.config, &*ctx.catalogue);
    let now = at.unwrap_or_else(clock::now).timestamp();
    store.refresh_statistics().await?;
    let mut report = ComposeReport {
        day: Some(day),
        ..Default::default()
    };
    let daily = Composer::for_frequency(store, config, catalogue, day, Frequency::Daily).await?;
    // Weekly readers get the best of the seven days to theirs, whether or not the sources
    // announced anything that very day (Hugging Face has no weekend list).
    let weekly = if store.has_weekly_readers().await? {
        Composer::for_frequency(
            store,
            config,
            catalogue,
            day,
            Frequency::Weekly(day.weekday()),
        )
        .await?
    } else {
        None
    };
    if daily.is_none() {
        report.note = Some(format!(
            "no papers were announced for {day} (run `paperboy ingest --date {day}` first, or it is a weekend or holiday){}",
            if weekly.is_some() {
                "; daily readers get nothing, weekly readers their week's best"
            } else {
                ""
            }
        ));
        if weekly.is_none() {
            return Ok(report);
        }
    }
    report.papers = daily.as_ref().map_or(0, |c| c.papers.len());
    let mut sent_before: Vec<ArxivId> = [&daily, &weekly]
        .into_iter()
        .flatten()
        .flat_map(|c| c.sent_before.iter().cloned())
        .collect();
    sent_before.sort_unstable();
    sent_before.dedup();
    let mut composer = Composers { day, daily, weekly };
    // Two batches may wait for the writer: four raised peak memory from about 300 to 444 MiB
    // at 300,000 readers, for a second less.
    let (to_writer, mut from_matcher) = tokio::sync::mpsc::channel::<Vec<NewDigest>>(2);
    let mut written = ComposeReport::default();
    // The writer takes whatever batches have queued up as one transaction: each writes a
    // paper_recipients row for every paper in it, so fewer, larger ones write less.
    let writer = async {
        while let Some(mut group) = from_matcher.recv().await {
            while group.len() < WRITE_GROUP {
                match from_matcher.try_recv() {
                    Ok(more) => group.extend(more),
                    Err(_) => break,
                }
            }
            write(store, &mut written, group, now).await?;
        }
        Ok::<_, DigestError>(())
    };
    let matcher = async {
        // Reading goes on while the matcher holds the composers.
        let mut liked_so_far = HashSet::new();
        let mut next = next_batch(store, day, &sent_before, &mut liked_so_far, 0).await?;
        while let Some(batch) = next.take() {
            report.readers += batch.looked_at;
            report.already_composed += batch.looked_at - batch.readers.len() as u64;
            let after = batch.last;
            let matching = tokio::task::spawn_blocking(move || {
                composer.learn(&batch.new_likes);
                let choices = composer.choose_all(&batch, at);
                (composer, batch, choices)
            });
            let reading = next_batch(store, day, &sent_before, &mut liked_so_far, after);
            let (matched, read) = tokio::join!(matching, reading);
            let (c, batch, choices) = matched.expect("composing panicked");
            composer = c;
            let mut digests = Vec::new();
            for (r, choice) in batch.readers.iter().zip(choices) {
                match choice {
                    Choice::NotDue => report.not_due += 1,
                    Choice::NoPapers => report.no_papers += 1,
                    Choice::Nothing => report.nothing_matched += 1,
                    Choice::Digest(content) => digests.push(NewDigest {
                        subscriber_id: r.id,
                        day,
                        message_id: ctx.links.digest_message_id(day, &r.public_id),
                        content,
                    }),
                }
            }
            if to_writer.send(digests).await.is_err() {
                break; // The writer failed: its error is the run's.
            }
            next = read?;
        }
        drop(to_writer);
        Ok::<_, DigestError>(())
    };
    let (matched, wrote) = tokio::join!(matcher, writer);
    wrote?;
    matched?;
    report.composed = written.composed;
    report.already_composed += written.already_composed;
    report.trending = written.trending;
    report.weekly = written.weekly;
    Ok(report)
}

/// Put a batch's digests in the outbox and count what happened.
async fn write(
    store: &Store,
    report: &mut ComposeReport,
    batch: Vec<NewDigest>,
    now: i64,
) -> Result<(), DigestError> {
    if batch.is_empty() {
        return Ok(());
    }
    let inserted: HashSet<i64> = store
        .insert_digests(&batch, now)
        .await?
        .into_iter()
        .collect();
    report.composed += inserted.len() as u64;
    report.already_composed += (batch.len() - inserted.len()) as u64;
    report.weekly += batch
        .iter()
        .filter(|d| d.content.weekly && inserted.contains(&d.subscriber_id))
        .count() as u64;
    report.trending += batch
        .iter()
        .filter(|d| d.content.kind == DigestKind::Trending && inserted.contains(&d.subscriber_id))
        .count() as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeliveryPrefs, EmailAddress, Interests, SubscriberStatus};

    fn reader(hour: u8, tz: chrono_tz::Tz, frequency: Frequency) -> Subscriber {
        Subscriber {
            id: 1,
            public_id: "p".into(),
            email: EmailAddress::parse("a@example.com").unwrap(),
            status: SubscriberStatus::Active,
            interests: Interests::default(),
            prefs: DeliveryPrefs {
                hour,
                timezone: tz,
                frequency,
                ..DeliveryPrefs::default()
            },
            created_at: 0,
            updated_at: 0,
            consent_at: 0,
            consent_ip: None,
            confirmed_at: None,
            unsubscribed_at: None,
            suppressed_at: None,
            suppression_reason: None,
        }
    }

    #[test]
    fn due_at_the_readers_local_hour_and_weekday() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(); // a Friday
        let at = |h: u32| Some(day.and_hms_opt(h, 0, 0).unwrap().and_utc());
        let berlin7 = reader(7, chrono_tz::Europe::Berlin, Frequency::Daily);
        assert!(!due(&berlin7, day, at(4)), "06:00 in Berlin");
        assert!(due(&berlin7, day, at(5)), "07:00 in Berlin");
        let tokyo_weekly = reader(
            9,
            chrono_tz::Asia::Tokyo,
            Frequency::Weekly(chrono::Weekday::Sat),
        );
        assert!(!due(&tokyo_weekly, day, at(10)), "19:00 Friday in Tokyo");
        assert!(!due(&tokyo_weekly, day, at(23)), "08:00 Saturday: before 9");
        let saturday = day
            .succ_opt()
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert!(
            due(&tokyo_weekly, day, Some(saturday)),
            "09:00 Saturday in Tokyo"
        );
        assert!(
            !due(&tokyo_weekly, day, None),
            "by hand: the day's weekday, Friday"
        );
        assert!(due(&berlin7, day, None));
    }
}
