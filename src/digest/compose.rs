//! Compose a day: match every due reader against the day's papers and write one outbox row
//! per reader, holding the chosen papers and their reasons.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::DigestError;
use super::composer::{Choice, Composer, Sent, sent};
use crate::clock;
use crate::context::Context;
use crate::domain::{ArxivId, DigestKind, Frequency, PaperRating, Subscriber};
use crate::matching::Scratch;
use crate::store::{NewDigest, Store, StoredPaper};

/// Readers read and written per batch: as many as a `paper_recipients` block holds (4,096
/// ids), so a batch spans at most two blocks and each row of what was sent is read by at
/// most two batches (with 1,000 a batch, by five; docs/performance.md, composing), and each
/// write adds fewer, fuller rows.
const BATCH: i64 = 4096;
/// Digests written a transaction, at most (plus one batch).
const WRITE_GROUP: usize = 10_000;

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
    // Two batches may wait for the writer: four held a third more memory at 300,000
    // readers for a second less (docs/performance.md, composing).
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
            consent_source: None,
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
