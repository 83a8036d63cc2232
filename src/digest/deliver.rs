//! Digests as a kind of mail in the outbox: a claimed digest becomes the reader's message
//! when it goes out, with what a delivery run reads once for all of them (each paper, the
//! day's most upvoted one).

use std::collections::HashMap;

use chrono::NaiveDate;
use lettre::Message;
use tokio::sync::{Mutex, RwLock};

use crate::context::Context;
use crate::domain::{ArxivId, MessageKind, Subscriber, SubscriberStatus};
use crate::mail::{DigestPaper, RenderError};
use crate::outbox::{Kind, Unbuilt};
use crate::store::{ClaimedDigest, StoreError};

/// Digests going out in one delivery run, with what the run reads once for all of them.
pub(super) struct Outgoing {
    ctx: Context,
    /// The day's most upvoted paper, by day.
    trending: Mutex<HashMap<NaiveDate, Option<DigestPaper>>>,
    /// The papers read so far, by id, as every digest shows them.
    papers: RwLock<HashMap<ArxivId, DigestPaper>>,
}

impl Outgoing {
    pub(super) fn new(ctx: Context) -> Self {
        Self {
            ctx,
            trending: Mutex::default(),
            papers: RwLock::default(),
        }
    }

    /// The day's most upvoted paper, read once a run and day. A read that failed is not
    /// kept: the next message tries again.
    async fn top_of_day(&self, day: NaiveDate) -> Result<Option<DigestPaper>, StoreError> {
        let mut cache = self.trending.lock().await;
        if let Some(top) = cache.get(&day) {
            return Ok(top.clone());
        }
        let top = super::top_of_day(&self.ctx, day).await?;
        cache.insert(day, top.clone());
        Ok(top)
    }

    /// Read the papers of `digest` not read yet in this run, each prepared once.
    async fn read_papers(&self, digest: &ClaimedDigest) -> Result<(), Unbuilt> {
        let missing: Vec<ArxivId> = {
            let known = self.papers.read().await;
            digest
                .content
                .entries
                .iter()
                .filter(|e| !known.contains_key(&e.paper))
                .map(|e| e.paper.clone())
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let found = self
            .ctx
            .store
            .papers_by_ids(&missing)
            .await
            .map_err(|e| Unbuilt::Later(format!("reading the papers: {e}")))?;
        // Rendered before the lock is taken: other messages read the cache meanwhile.
        let prepared: Vec<DigestPaper> = found
            .iter()
            .map(|p| self.ctx.mailer.prepare(DigestPaper::of(&p.paper)))
            .collect::<Result<_, RenderError>>()
            .map_err(never)?;
        let mut known = self.papers.write().await;
        for p in prepared {
            known.insert(p.id.clone(), p);
        }
        Ok(())
    }
}

impl Kind for Outgoing {
    type Row = ClaimedDigest;
    const MESSAGE: MessageKind = MessageKind::Digest;

    fn skip(_: &ClaimedDigest, reader: &Subscriber) -> Option<String> {
        (reader.status != SubscriberStatus::Active)
            .then(|| format!("the reader is {}", reader.status))
    }

    async fn message(
        &self,
        digest: &ClaimedDigest,
        reader: &Subscriber,
    ) -> Result<Message, Unbuilt> {
        let top = self
            .top_of_day(digest.day)
            .await
            .map_err(|e| Unbuilt::Later(format!("reading the day's most upvoted paper: {e}")))?;
        // Readers share the day's papers: each is read once per run.
        self.read_papers(digest).await?;
        let view = {
            let known = self.papers.read().await;
            super::view_of(
                &self.ctx,
                reader,
                digest.day,
                &digest.content,
                top.as_ref(),
                &known,
            )
        };
        super::message(&self.ctx, reader, &view, &digest.message_id).map_err(never)
    }
}

fn never(e: RenderError) -> Unbuilt {
    Unbuilt::Never(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use chrono::NaiveDate;
    use lettre::address::Envelope;

    use crate::clock;
    use crate::config::Config;
    use crate::context::Context;
    use crate::domain::{
        DigestStatus, EventSource, MailEventKind, NewSubscription, Subscriber, SubscriberStatus,
        SubscriptionInput,
    };
    use crate::mail::transport::{Sending, Transport};
    use crate::mail::{Mailer, SendError};
    use crate::outbox::DeliverReport;
    use crate::services::Services;
    use crate::store::{ClaimedDigest, Outcome};

    fn later(why: &str) -> SendError {
        SendError::Transient(why.into())
    }

    /// Answers each send from a script, in order, and keeps what it was given: a stand-in
    /// for the relay in tests of delivery's rules. SMTP itself is tested against real
    /// servers (tests/api/smtp.rs, tests/api/digest.rs).
    struct Scripted {
        answers: Mutex<VecDeque<Result<(), SendError>>>,
        /// Each message's recipients and bytes.
        given: Mutex<Vec<(Vec<String>, Vec<u8>)>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<(), SendError>>) -> Arc<Self> {
            Arc::new(Self {
                answers: Mutex::new(answers.into()),
                given: Mutex::default(),
            })
        }

        fn given(&self) -> Vec<(Vec<String>, Vec<u8>)> {
            self.given.lock().unwrap().clone()
        }
    }

    impl Transport for Scripted {
        fn send<'a>(&'a self, envelope: &'a Envelope, bytes: &'a [u8]) -> Sending<'a> {
            let to = envelope.to().iter().map(|a| a.to_string()).collect();
            self.given.lock().unwrap().push((to, bytes.to_vec()));
            let answer = self.answers.lock().unwrap().pop_front();
            Box::pin(async move { answer.expect("a scripted answer for every message sent") })
        }

        fn describe(&self) -> String {
            "a scripted relay".into()
        }
    }

    const READER: &str = "reader@example.org";

    /// A reader with the day's digest composed from real papers in a fresh SQLite outbox,
    /// the mail going to `transport`.
    struct Outbox {
        ctx: Context,
        services: Services,
        reader: Subscriber,
        day: NaiveDate,
        _dir: tempfile::TempDir,
    }

    impl Outbox {
        async fn new(transport: Arc<Scripted>, overrides: &[(&str, toml::Value)]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let db = format!("sqlite://{}", dir.path().join("outbox.db").display());
            let mut pairs: Vec<(&str, toml::Value)> = vec![
                ("database_url", db.into()),
                ("base_url", "https://papers.example.org".into()),
                ("secret", "deliver-test-secret-deliver-test-secret".into()),
                ("mail_from", "Paper Boy <digest@papers.example.org>".into()),
                ("data_dir", dir.path().display().to_string().into()),
                ("smtp_url", "".into()),
            ];
            pairs.extend(overrides.iter().cloned());
            let config = Config::with_overrides(&pairs).unwrap();
            let mut ctx = Context::start(config).await.unwrap();
            ctx.mailer = Arc::new(Mailer::with_transport(&ctx.config, transport).unwrap());
            let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
            let hf_day =
                include_bytes!("../../tests/fixtures/hf_json/daily_papers_2026-05-08.json");
            crate::ingest::import(
                &ctx.store,
                hf_day,
                crate::ingest::Format::HfApi,
                Some(day),
                "test",
            )
            .await
            .unwrap();
            let input = SubscriptionInput {
                email: READER.into(),
                keywords: "agents".into(),
                ..Default::default()
            };
            let new = NewSubscription::parse(&input, &ctx.catalogue).unwrap();
            let (reader, _) = ctx.store.subscribe(&new, None, 1).await.unwrap();
            assert!(ctx.store.confirm(reader.id, 1).await.unwrap());
            let services = Services::new(ctx.clone());
            let composed = services.digests.compose(day, None).await.unwrap();
            assert_eq!(composed.composed, 1);
            let reader = ctx.store.find_by_id(reader.id).await.unwrap().unwrap();
            Self {
                ctx,
                services,
                reader,
                day,
                _dir: dir,
            }
        }

        async fn digest(&self) -> crate::store::StoredDigest {
            let d = self.ctx.store.digest_for(self.reader.id, self.day).await;
            d.unwrap().expect("the reader's digest")
        }

        async fn reader_now(&self) -> Subscriber {
            let r = self.ctx.store.find_by_id(self.reader.id).await;
            r.unwrap().expect("the reader")
        }
    }

    #[tokio::test]
    async fn a_message_the_relay_takes_is_the_readers_digest_and_is_sent() {
        let relay = Scripted::new(vec![Ok(())]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                sent: 1,
                ..Default::default()
            }
        );
        let digest = outbox.digest().await;
        assert_eq!((digest.status, digest.attempts), (DigestStatus::Sent, 1));
        let given = relay.given();
        assert_eq!(given.len(), 1);
        assert_eq!(given[0].0, [READER]);
        let raw = String::from_utf8(given[0].1.clone()).unwrap();
        assert!(
            raw.contains(&format!("Message-ID: {}", digest.message_id)),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe: <https://papers.example.org/"));
    }

    #[tokio::test]
    async fn a_4xx_defers_the_digest_to_a_later_run() {
        let relay = Scripted::new(vec![Err(later("451 4.3.0 try again later"))]);
        let outbox = Outbox::new(
            relay.clone(),
            &[("delivery.retry_after_seconds", 600.into())],
        )
        .await;
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                deferred: 1,
                ..Default::default()
            }
        );
        let digest = outbox.digest().await;
        assert_eq!((digest.status, digest.attempts), (DigestStatus::Pending, 1));
        assert!(digest.last_error.unwrap().contains("451 4.3.0"));
        assert_eq!(outbox.reader_now().await.status, SubscriberStatus::Active);
        let attempts = outbox.ctx.store.delivery_attempts(digest.id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].1, "retry");
        // Not due again before its wait: the next run sends nothing (the script has no
        // second answer, so a second send would fail the test).
        assert_eq!(
            outbox.services.deliver().await.unwrap(),
            crate::services::Delivered::default()
        );
        assert_eq!(relay.given().len(), 1);
    }

    #[tokio::test]
    async fn a_5xx_bounces_and_suppresses_the_reader() {
        let refused = "550 5.1.1 <reader@example.org>: no such mailbox";
        let relay = Scripted::new(vec![Err(SendError::Permanent(refused.into()))]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                bounced: 1,
                ..Default::default()
            }
        );
        let digest = outbox.digest().await;
        assert_eq!(digest.status, DigestStatus::Bounced);
        assert_eq!(digest.last_error.as_deref(), Some(refused));
        let reader = outbox.reader_now().await;
        assert_eq!(reader.status, SubscriberStatus::Suppressed);
        assert_eq!(
            reader.suppression_reason.as_deref(),
            Some("hard bounce (5.1.1)")
        );
        // Recorded as an event of the relay, naming the digest, with what the relay said.
        let filter = crate::store::EventFilter {
            limit: 10,
            ..Default::default()
        };
        let events = outbox.ctx.store.mail_events(&filter).await.unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(
            (e.kind, e.source),
            (MailEventKind::HardBounce, EventSource::Relay)
        );
        assert_eq!(
            (e.message_kind.as_deref(), e.message_id, e.effect.as_str()),
            (Some("digest"), Some(digest.id), "suppressed")
        );
        assert_eq!(e.diagnostic.as_deref(), Some(refused));
    }

    #[tokio::test]
    async fn the_last_attempt_fails_the_digest_and_keeps_the_reader() {
        let relay = Scripted::new(vec![Err(later("421 4.7.0 too many connections"))]);
        let outbox = Outbox::new(relay.clone(), &[("delivery.max_attempts", 1.into())]).await;
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                failed: 1,
                ..Default::default()
            }
        );
        let digest = outbox.digest().await;
        assert_eq!(digest.status, DigestStatus::Failed);
        let error = digest.last_error.unwrap();
        assert!(
            error.starts_with("gave up after 1 attempts:") && error.contains("421 4.7.0"),
            "{error}"
        );
        assert_eq!(outbox.reader_now().await.status, SubscriberStatus::Active);
    }

    #[tokio::test]
    async fn a_reader_who_left_is_skipped_without_a_message() {
        let relay = Scripted::new(vec![]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        assert!(
            outbox
                .ctx
                .store
                .unsubscribe(outbox.reader.id, 2)
                .await
                .unwrap()
        );
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                skipped: 1,
                ..Default::default()
            }
        );
        let digest = outbox.digest().await;
        assert_eq!(digest.status, DigestStatus::Skipped);
        assert_eq!(
            digest.last_error.as_deref(),
            Some("the reader is unsubscribed")
        );
        assert!(relay.given().is_empty());
    }

    /// Erasing a reader deletes their digests with them, so a reader is found erased only
    /// between the claim and the reading of the readers: the message for that moment.
    #[tokio::test]
    async fn a_reader_erased_since_the_claim_is_skipped_without_a_message() {
        let relay = Scripted::new(vec![]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        let worker = &outbox.services.outbox;
        let claimed = worker
            .claim::<ClaimedDigest>(clock::timestamp(), 60, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let (digest, _) = claimed.into_iter().next().unwrap();
        let outgoing = super::Outgoing::new(outbox.ctx.clone());
        let outcome = worker.deliver_one(&outgoing, &digest, None, 0).await;
        assert_eq!(
            outcome,
            Some(Outcome::Skipped {
                why: "the reader was erased".into()
            })
        );
        assert!(relay.given().is_empty());
    }

    /// The day's most upvoted paper could not be read: the digest waits for the database
    /// rather than going out without it.
    #[tokio::test]
    async fn a_store_error_reading_the_days_top_paper_defers_the_digest() {
        let relay = Scripted::new(vec![Ok(())]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        // The top paper is read through the days papers were featured on; nothing else
        // in delivery reads that table.
        let url = &outbox.ctx.config.database_url;
        let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE paper_features RENAME TO paper_features_away")
            .execute(&mut db)
            .await
            .unwrap();
        let report = outbox.services.deliver().await.unwrap().digests;
        assert_eq!(
            report,
            DeliverReport {
                deferred: 1,
                ..Default::default()
            }
        );
        assert!(relay.given().is_empty(), "nothing goes out without it");
        let error = outbox.digest().await.last_error.unwrap();
        assert!(
            error.starts_with("reading the day's most upvoted paper:")
                && error.contains("paper_features"),
            "{error}"
        );
    }
}
