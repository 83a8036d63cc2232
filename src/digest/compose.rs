//! Compose a day: match every due reader against the day's papers and write one outbox row
//! per reader, holding the chosen papers and their reasons.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::DigestError;
use crate::config::Config;
use crate::domain::{
    ArxivId, DigestContent, DigestEntry, DigestKind, Frequency, Subscriber, SubscriberStatus,
    TopicCatalogue,
};
use crate::matching::{Day, Doc, LikedPaper, Match, Pick, Scratch};
use crate::store::{ListFilter, NewDigest, Store, StoredPaper};

/// Readers read and written per batch.
const BATCH: i64 = 1000;
/// Other stored papers whose words sharpen the day's document frequencies.
const CORPUS: i64 = 5000;
/// Extra candidates ranked per reader, so that papers already sent can be dropped.
const SPARE: usize = 20;

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
    /// Why nothing was composed at all, when that is the case.
    pub note: Option<String>,
}

/// The stable `Message-ID` of a reader's digest for a day: a retry or a resend after a
/// crash carries the same one, so the receiving side can tell it is the same mail.
pub fn message_id(day: NaiveDate, subscriber_public_id: &str, base_url: &str) -> String {
    let host = super::host_of(base_url);
    format!(
        "<digest.{}.{subscriber_public_id}@{host}>",
        day.format("%Y%m%d")
    )
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
    day: NaiveDate,
    papers: Vec<StoredPaper>,
    index: Day,
    /// "More like these": each liked paper is analysed once per run.
    liked: HashMap<ArxivId, LikedPaper>,
    scratch: Scratch,
}

impl Composer {
    /// Analyse the papers featured on `day`; `None` when there are none.
    pub async fn new(
        store: &Store,
        config: &Config,
        catalogue: &TopicCatalogue,
        day: NaiveDate,
    ) -> Result<Option<Self>, DigestError> {
        let papers = store.papers(Some(day), 100_000).await?;
        if papers.is_empty() {
            return Ok(None);
        }
        let on_day: std::collections::HashSet<&str> =
            papers.iter().map(|p| p.paper.id.as_str()).collect();
        let others = store.papers(None, CORPUS).await?;
        let corpus: Vec<(&str, &str)> = others
            .iter()
            .filter(|p| !on_day.contains(p.paper.id.as_str()))
            .map(|p| (p.paper.title.as_str(), p.paper.abstract_text.as_str()))
            .collect();
        let docs: Vec<Doc<'_>> = papers.iter().map(|p| doc(p, day)).collect();
        let index = Day::new(&docs, &corpus, catalogue, config.matching.clone());
        Ok(Some(Self {
            day,
            papers,
            index,
            liked: HashMap::new(),
            scratch: Scratch::default(),
        }))
    }

    /// Analyse the liked papers of these readers that are not analysed yet.
    async fn learn_likes(
        &mut self,
        store: &Store,
        readers: &[Subscriber],
    ) -> Result<(), DigestError> {
        let missing: Vec<ArxivId> = readers
            .iter()
            .flat_map(|r| r.interests.liked.iter())
            .filter(|id| !self.liked.contains_key(*id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for p in store.papers_by_ids(&missing).await? {
                let v = self
                    .index
                    .liked_paper(&p.paper.title, &p.paper.abstract_text);
                self.liked.insert(p.paper.id.clone(), v);
            }
        }
        Ok(())
    }

    /// What one reader gets: their papers not sent to them before (a newer arXiv version
    /// is flagged), or the day's trending papers if nothing matched and they asked for
    /// that, or nothing.
    fn choose(
        &mut self,
        r: &Subscriber,
        sent: &HashMap<String, Option<u32>>,
    ) -> Option<DigestContent> {
        let likes: Vec<&LikedPaper> = r
            .interests
            .liked
            .iter()
            .filter_map(|id| self.liked.get(id))
            .collect();
        let profile = self.index.profile(&r.interests, &likes);
        let n = usize::from(r.prefs.papers_per_digest);
        let papers = &self.papers;
        let fresh = |m: Vec<Match>| -> Vec<DigestEntry> {
            m.into_iter()
                .filter_map(|m| {
                    let p = &papers[m.paper].paper;
                    let new_version = match sent.get(p.id.as_str()) {
                        None => false,
                        Some(before) if p.version > *before && before.is_some() => true,
                        Some(_) => return None,
                    };
                    Some(DigestEntry {
                        paper: p.id.clone(),
                        version: p.version,
                        new_version,
                        reasons: m.reasons,
                    })
                })
                .take(n)
                .collect()
        };
        let content = |kind, entries: Vec<DigestEntry>| {
            (!entries.is_empty()).then_some(DigestContent { kind, entries })
        };
        // One ranking: the reader's papers, or (nothing matched) the trending ones if asked.
        match self.index.pick(
            &profile,
            n + SPARE,
            r.prefs.send_when_empty,
            &mut self.scratch,
        ) {
            Pick::Personal(m) => content(DigestKind::Personal, fresh(m)),
            Pick::Trending(m) => content(DigestKind::Trending, fresh(m)),
            Pick::Nothing => None,
        }
    }

    /// What `reader` would get for this day, without writing anything.
    pub async fn preview(
        &mut self,
        store: &Store,
        reader: &Subscriber,
    ) -> Result<Option<DigestContent>, DigestError> {
        self.learn_likes(store, std::slice::from_ref(reader))
            .await?;
        let sent = store.sent_papers(reader.id, reader.id).await?;
        Ok(self.choose(reader, sent.get(&reader.id).unwrap_or(&HashMap::new())))
    }
}

/// Compose `day` for every active reader who is due (see [`due`]) and has no digest for it
/// yet.
pub async fn compose(
    store: &Store,
    config: &Config,
    catalogue: &TopicCatalogue,
    day: NaiveDate,
    at: Option<DateTime<Utc>>,
) -> Result<ComposeReport, DigestError> {
    let now = at.unwrap_or_else(Utc::now).timestamp();
    let mut report = ComposeReport {
        day: Some(day),
        ..Default::default()
    };
    let Some(mut composer) = Composer::new(store, config, catalogue, day).await? else {
        report.note = Some(format!(
            "no papers were announced for {day} (run `paperboy ingest --date {day}` first, or it is a weekend or holiday)"
        ));
        return Ok(report);
    };
    report.papers = composer.papers.len();
    let no_sent = HashMap::new();
    let mut after = 0;
    loop {
        let readers = store
            .list(&ListFilter {
                status: Some(SubscriberStatus::Active),
                email_contains: None,
                after_id: Some(after),
                limit: BATCH,
            })
            .await?;
        let (Some(first), Some(last)) = (readers.first(), readers.last()) else {
            break;
        };
        after = last.id;
        let sent = store.sent_papers(first.id, last.id).await?;
        composer.learn_likes(store, &readers).await?;
        let mut batch = Vec::new();
        for r in &readers {
            report.readers += 1;
            if !due(r, composer.day, at) {
                report.not_due += 1;
                continue;
            }
            let Some(content) = composer.choose(r, sent.get(&r.id).unwrap_or(&no_sent)) else {
                report.nothing_matched += 1;
                continue;
            };
            batch.push(NewDigest {
                subscriber_id: r.id,
                day,
                message_id: message_id(day, &r.public_id, &config.base_url),
                content,
            });
        }
        let inserted: std::collections::HashSet<i64> = store
            .insert_digests(&batch, now)
            .await?
            .into_iter()
            .collect();
        report.composed += inserted.len() as u64;
        report.already_composed += (batch.len() - inserted.len()) as u64;
        report.trending += batch
            .iter()
            .filter(|d| {
                d.content.kind == DigestKind::Trending && inserted.contains(&d.subscriber_id)
            })
            .count() as u64;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeliveryPrefs, EmailAddress, Interests};

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

    #[test]
    fn message_ids_are_stable_and_name_the_host() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
        assert_eq!(
            message_id(d, "abc", "https://papers.example.org:8443/x"),
            "<digest.20260508.abc@papers.example.org>"
        );
        assert_eq!(
            message_id(d, "abc", ""),
            "<digest.20260508.abc@paperboy.invalid>"
        );
    }
}
