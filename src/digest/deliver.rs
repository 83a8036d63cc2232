//! Deliver the outbox: workers claim due digests under a lease, render each at send time,
//! send it through the mailer's transport (the SMTP pool, or the `.eml` folder) at a
//! bounded concurrency and rate, and record
//! the outcome: sent, retry later (4xx, network), bounced (5xx: the reader is suppressed),
//! failed (too many attempts) or skipped (the reader left).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use governor::{Quota, RateLimiter};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use super::DigestError;
use crate::clock;
use crate::config::DeliveryConfig;
use crate::context::Context;
use crate::domain::{ArxivId, Subscriber, SubscriberStatus};
use crate::mail::{DigestPaper, RenderError, SendError};
use crate::store::{ClaimedDigest, Outcome, Store, StoreError};

/// The papers read so far in a delivery run, by id, as every digest shows them.
type Papers = Arc<tokio::sync::RwLock<HashMap<ArxivId, DigestPaper>>>;
/// The day's most upvoted paper, by day.
type Trending = Arc<tokio::sync::Mutex<HashMap<NaiveDate, Option<DigestPaper>>>>;

/// What one delivery run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliverReport {
    pub sent: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl DeliverReport {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Sent => self.sent += 1,
            Outcome::Retry { .. } => self.deferred += 1,
            Outcome::Bounced { .. } => self.bounced += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
        }
    }
}

/// Outcomes are recorded in groups, one write transaction each: a group closes at this many
/// outcomes...
const RECORD_GROUP: usize = 128;
/// ...or this long after its first outcome arrived, or as soon as no other message is in
/// flight. A mail the server accepted whose outcome is not recorded yet is sent again if the
/// process dies (see the README, "At least once"), so this stays short.
const RECORD_WITHIN: Duration = Duration::from_millis(20);
/// Messages rendered ahead of the ones being sent: one per core of a small machine.
const RENDER_AHEAD: usize = 2;

/// Deliver every digest that is due now, until none is left.
pub async fn deliver(ctx: &Context) -> Result<DeliverReport, DigestError> {
    let (outcomes, arrived) = mpsc::unbounded_channel();
    // Messages started whose outcome has not been handed to the recorder yet.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let recorder = tokio::spawn(record(ctx.store.clone(), arrived, in_flight.clone()));
    let mut tasks = JoinSet::new();
    let dispatched = dispatch(ctx, &mut tasks, &outcomes, &recorder, &in_flight).await;
    // Whatever happened, every message in flight finishes and its outcome is recorded before
    // this returns.
    drop(outcomes);
    while let Some(done) = tasks.join_next().await {
        done.expect("a delivery task panicked");
    }
    let report = recorder.await.expect("the recorder panicked")?;
    dispatched?;
    Ok(report)
}

/// A claimed digest and its reader (`None`: erased since).
type Claimed = Vec<(ClaimedDigest, Option<Subscriber>)>;

/// Claim due digests batch by batch and start each one's delivery under the concurrency
/// and rate limits. The next batch is claimed while the current one is still going out.
async fn dispatch(
    ctx: &Context,
    tasks: &mut JoinSet<()>,
    outcomes: &mpsc::UnboundedSender<(i64, Outcome)>,
    recorder: &JoinHandle<Result<DeliverReport, StoreError>>,
    in_flight: &Arc<AtomicUsize>,
) -> Result<(), DigestError> {
    let cfg = ctx.config.delivery.clone();
    let pool = ctx.config.mail.pool_size as usize;
    if cfg.concurrency > pool && !ctx.config.smtp_url.trim().is_empty() {
        tracing::warn!(
            "delivery.concurrency is {} but mail.pool_size only {pool}: at most {pool} messages are sent at once",
            cfg.concurrency
        );
    }
    // `concurrency` bounds the messages in the SMTP conversation; a few more are rendered
    // meanwhile, so that sending never waits for rendering (at concurrency 1 in particular).
    let sending = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1) + RENDER_AHEAD));
    let limiter = NonZeroU32::new(cfg.rate_per_second)
        .map(|r| Arc::new(RateLimiter::direct(Quota::per_second(r))));
    let trending: Trending = Default::default();
    let papers: Papers = Default::default();
    // Only what was due when the run started: a digest this run deferred waits for the next.
    let started = clock::timestamp();
    let claim_next = || {
        let (ctx, lease, batch) = (ctx.clone(), cfg.lease_seconds, cfg.batch.max(1));
        tokio::spawn(async move { claim(&ctx, started, lease, batch).await })
    };
    let mut next = Some(claim_next());
    while let Some(claiming) = next.take() {
        let batch = claiming.await.expect("a claim panicked")?;
        // A recorder that failed has ended: send nothing more whose outcome would be lost.
        if batch.is_empty() || recorder.is_finished() {
            break;
        }
        // Half-way through a batch, claim the next, so the senders never wait for a claim;
        // a worker holds at most one and a half batches under its lease.
        let prefetch_at = batch.len() / 2;
        for (i, (digest, reader)) in batch.into_iter().enumerate() {
            if i == prefetch_at && !recorder.is_finished() {
                next = Some(claim_next());
            }
            let permit = permits.clone().acquire_owned().await.expect("never closed");
            if let Some(l) = &limiter {
                l.until_ready().await;
            }
            let (ctx, cfg, trending, papers, outcomes, sending, in_flight) = (
                ctx.clone(),
                cfg.clone(),
                trending.clone(),
                papers.clone(),
                outcomes.clone(),
                sending.clone(),
                in_flight.clone(),
            );
            in_flight.fetch_add(1, Ordering::AcqRel);
            tasks.spawn(async move {
                let outcome =
                    deliver_one(&ctx, &cfg, &digest, reader, &trending, &papers, &sending).await;
                drop(permit);
                in_flight.fetch_sub(1, Ordering::AcqRel);
                // Fails only once the recorder has failed; the digest stays leased and is
                // tried again when the lease runs out.
                let _ = outcomes.send((digest.id, outcome));
            });
            // Finished tasks leave nothing to collect.
            while tasks.try_join_next().is_some() {}
        }
    }
    Ok(())
}

/// Claim up to `limit` digests and read their readers in one query.
async fn claim(
    ctx: &Context,
    due_by: i64,
    lease_seconds: i64,
    limit: i64,
) -> Result<Claimed, StoreError> {
    let claimed = ctx
        .store
        .claim_digests(clock::timestamp(), due_by, lease_seconds, limit)
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = claimed.iter().map(|d| d.subscriber_id).collect();
    let mut readers: HashMap<i64, Subscriber> = ctx
        .store
        .find_by_ids(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(claimed
        .into_iter()
        .map(|d| {
            let reader = readers.remove(&d.subscriber_id);
            (d, reader)
        })
        .collect())
}

/// Record outcomes as they arrive, in groups (see [`RECORD_GROUP`]), until every sender is
/// gone; counts what was recorded. Stops at the first failure.
async fn record(
    store: Store,
    mut arrived: mpsc::UnboundedReceiver<(i64, Outcome)>,
    in_flight: Arc<AtomicUsize>,
) -> Result<DeliverReport, StoreError> {
    let mut report = DeliverReport::default();
    let mut group = Vec::with_capacity(RECORD_GROUP);
    while arrived.recv_many(&mut group, RECORD_GROUP).await > 0 {
        let closes = tokio::time::sleep(RECORD_WITHIN);
        tokio::pin!(closes);
        // With nothing else in flight (a slow or rate-limited run) no company is coming.
        while group.len() < RECORD_GROUP && in_flight.load(Ordering::Acquire) > 0 {
            let room = RECORD_GROUP - group.len();
            tokio::select! {
                n = arrived.recv_many(&mut group, room) => if n == 0 { break },
                () = &mut closes => break,
            }
        }
        store.record_deliveries(&group, clock::timestamp()).await?;
        for (_, outcome) in group.drain(..) {
            report.add(&outcome);
        }
    }
    Ok(report)
}

async fn deliver_one(
    ctx: &Context,
    cfg: &DeliveryConfig,
    digest: &ClaimedDigest,
    reader: Option<Subscriber>,
    trending: &Trending,
    papers: &Papers,
    sending: &Semaphore,
) -> Outcome {
    let Some(reader) = reader else {
        return Outcome::Skipped {
            why: "the reader was erased".into(),
        };
    };
    if reader.status != SubscriberStatus::Active {
        return Outcome::Skipped {
            why: format!("the reader is {}", reader.status),
        };
    }
    let top = match cached_top_of_day(ctx, trending, digest.day).await {
        Ok(top) => top,
        Err(e) => {
            let error = format!("reading the day's most upvoted paper: {e}");
            return retry(cfg, digest.attempts, error, clock::timestamp());
        }
    };
    // Readers share the day's papers: each is read once per run.
    let missing: Vec<ArxivId> = {
        let known = papers.read().await;
        digest
            .content
            .entries
            .iter()
            .filter(|e| !known.contains_key(&e.paper))
            .map(|e| e.paper.clone())
            .collect()
    };
    if !missing.is_empty() {
        match ctx.store.papers_by_ids(&missing).await {
            Ok(found) => {
                // Rendered before the lock is taken: other messages read the cache meanwhile.
                let prepared: Result<Vec<DigestPaper>, RenderError> = found
                    .iter()
                    .map(|p| ctx.mailer.prepare(DigestPaper::of(&p.paper)))
                    .collect();
                let prepared = match prepared {
                    Ok(p) => p,
                    Err(e) => {
                        return Outcome::Failed {
                            error: e.to_string(),
                        };
                    }
                };
                let mut known = papers.write().await;
                for p in prepared {
                    known.insert(p.id.clone(), p);
                }
            }
            Err(e) => {
                let error = format!("reading the papers: {e}");
                return retry(cfg, digest.attempts, error, clock::timestamp());
            }
        }
    }
    let view = {
        let known = papers.read().await;
        super::view_of(
            ctx,
            &reader,
            digest.day,
            &digest.content,
            top.as_ref(),
            &known,
        )
    };
    let mailed = super::message(ctx, &reader, &view, &digest.message_id);
    let message = match mailed {
        Ok(m) => m,
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
            };
        }
    };
    let sent = {
        let _turn = sending.acquire().await.expect("never closed");
        ctx.mailer.send(message).await
    };
    let outcome = outcome_of(sent, cfg, digest.attempts, clock::timestamp());
    if let Outcome::Bounced { error } = &outcome {
        let reason = format!("bounced: {error}");
        if let Err(e) = ctx
            .store
            .suppress(reader.id, &reason, clock::timestamp())
            .await
        {
            tracing::warn!(error = %e, "could not suppress a bounced reader");
        }
    }
    outcome
}

/// The day's most upvoted paper, read once a run and day. A read that failed is not kept:
/// the next message tries again.
async fn cached_top_of_day(
    ctx: &Context,
    trending: &Trending,
    day: NaiveDate,
) -> Result<Option<DigestPaper>, StoreError> {
    let mut cache = trending.lock().await;
    if let Some(top) = cache.get(&day) {
        return Ok(top.clone());
    }
    let top = super::top_of_day(ctx, day).await?;
    cache.insert(day, top.clone());
    Ok(top)
}

/// What a send's answer makes of the digest, at its `attempts`th attempt: sent; bounced
/// for a permanent refusal (the reader is then suppressed), whichever the attempt; else
/// tried again later, see [`retry`].
fn outcome_of(
    sent: Result<(), SendError>,
    cfg: &DeliveryConfig,
    attempts: i64,
    now: i64,
) -> Outcome {
    match sent {
        Ok(()) => Outcome::Sent,
        Err(SendError::Permanent(error)) => Outcome::Bounced { error },
        Err(e @ SendError::Transient(_)) => retry(cfg, attempts, e.to_string(), now),
    }
}

/// The most a wait doubles: 2^20 times `retry_after_seconds`.
const MAX_DOUBLINGS: i64 = 20;

/// Try again later, the wait doubling with each attempt from `retry_after_seconds` (at
/// least a second) up to [`MAX_DOUBLINGS`]; or give up once `attempts` (this one
/// included) reaches `max_attempts`.
fn retry(cfg: &DeliveryConfig, attempts: i64, error: String, now: i64) -> Outcome {
    if attempts >= cfg.max_attempts {
        return Outcome::Failed {
            error: format!("gave up after {attempts} attempts: {error}"),
        };
    }
    let doublings = (attempts - 1).clamp(0, MAX_DOUBLINGS);
    let wait = cfg
        .retry_after_seconds
        .max(1)
        .saturating_mul(1 << doublings);
    Outcome::Retry {
        at: now.saturating_add(wait),
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use lettre::address::Envelope;

    use super::*;
    use crate::config::Config;
    use crate::domain::{DigestStatus, NewSubscription, SubscriptionInput};
    use crate::mail::Mailer;
    use crate::mail::transport::{Sending, Transport};

    const NOW: i64 = 1_780_000_000;

    fn policy(max_attempts: i64, retry_after_seconds: i64) -> DeliveryConfig {
        DeliveryConfig {
            max_attempts,
            retry_after_seconds,
            ..Config::with_overrides(&[]).unwrap().delivery
        }
    }

    fn later(why: &str) -> SendError {
        SendError::Transient(why.into())
    }

    /// The wait before the next attempt, or what the outcome was instead.
    fn wait(cfg: &DeliveryConfig, attempts: i64, sent: SendError) -> Result<i64, Outcome> {
        match outcome_of(Err(sent), cfg, attempts, NOW) {
            Outcome::Retry { at, .. } => Ok(at - NOW),
            other => Err(other),
        }
    }

    #[test]
    fn a_message_the_server_took_is_sent_whatever_the_attempt() {
        for attempts in [1, 4, 5, 6] {
            assert_eq!(
                outcome_of(Ok(()), &policy(5, 60), attempts, NOW),
                Outcome::Sent
            );
        }
    }

    #[test]
    fn a_permanent_refusal_bounces_even_at_the_last_attempt() {
        let refused = "550 5.1.1 <x@example.org>: no such mailbox";
        for attempts in [1, 4, 5, 6] {
            assert_eq!(
                outcome_of(
                    Err(SendError::Permanent(refused.into())),
                    &policy(5, 60),
                    attempts,
                    NOW
                ),
                Outcome::Bounced {
                    error: refused.into()
                },
                "attempt {attempts}"
            );
        }
    }

    #[test]
    fn a_4xx_or_a_network_error_is_tried_again_after_a_doubling_wait() {
        let cfg = policy(6, 60);
        for error in [
            later("451 4.3.0 try again later"),
            later("connecting to 127.0.0.1:1: Connection refused (os error 111)"),
            later("the SMTP server did not answer within 30s"),
        ] {
            let waits: Vec<_> = (1..=5).map(|a| wait(&cfg, a, error.clone())).collect();
            assert_eq!(
                waits,
                [Ok(60), Ok(120), Ok(240), Ok(480), Ok(960)],
                "{error}"
            );
            // The record says what the server said.
            assert_eq!(
                outcome_of(Err(error.clone()), &cfg, 1, NOW),
                Outcome::Retry {
                    at: NOW + 60,
                    error: error.to_string()
                }
            );
        }
    }

    #[test]
    fn the_last_attempt_gives_up() {
        let cfg = policy(3, 60);
        let error = later("451 4.3.0 try again later");
        assert_eq!(wait(&cfg, 2, error.clone()), Ok(120));
        for attempts in [3, 4] {
            // 4: a worker's lease ran out after its claim counted the attempt.
            assert_eq!(
                wait(&cfg, attempts, error.clone()),
                Err(Outcome::Failed {
                    error: format!(
                        "gave up after {attempts} attempts: the mail could not be sent now, try again later: 451 4.3.0 try again later"
                    )
                })
            );
        }
        // One attempt allowed: no retry at all.
        assert!(matches!(
            wait(&policy(1, 60), 1, error),
            Err(Outcome::Failed { .. })
        ));
    }

    #[test]
    fn the_wait_stops_doubling_at_its_cap() {
        let cfg = policy(i64::MAX, 1);
        let error = later("451");
        assert_eq!(wait(&cfg, 20, error.clone()), Ok(1 << 19));
        for attempts in [21, 22, 64, 1000] {
            assert_eq!(wait(&cfg, attempts, error.clone()), Ok(1 << 20));
        }
        // A wait of nothing (or less) is a second: a relay is never hammered.
        for setting in [0, -5] {
            let cfg = policy(10, setting);
            assert_eq!(wait(&cfg, 1, error.clone()), Ok(1));
            assert_eq!(wait(&cfg, 3, error.clone()), Ok(4));
        }
        // A huge setting waits forever rather than wrapping into the past.
        let cfg = policy(10, i64::MAX / 4);
        match outcome_of(Err(error), &cfg, 5, NOW) {
            Outcome::Retry { at, .. } => assert_eq!(at, i64::MAX),
            other => panic!("{other:?}"),
        }
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
            let composed = super::super::compose(&ctx, day, None).await.unwrap();
            assert_eq!(composed.composed, 1);
            let reader = ctx.store.find_by_id(reader.id).await.unwrap().unwrap();
            Self {
                ctx,
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
        let report = deliver(&outbox.ctx).await.unwrap();
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
        let report = deliver(&outbox.ctx).await.unwrap();
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
            deliver(&outbox.ctx).await.unwrap(),
            DeliverReport::default()
        );
        assert_eq!(relay.given().len(), 1);
    }

    #[tokio::test]
    async fn a_5xx_bounces_and_suppresses_the_reader() {
        let refused = "550 5.1.1 <reader@example.org>: no such mailbox";
        let relay = Scripted::new(vec![Err(SendError::Permanent(refused.into()))]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        let report = deliver(&outbox.ctx).await.unwrap();
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
            Some(format!("bounced: {refused}").as_str())
        );
    }

    #[tokio::test]
    async fn the_last_attempt_fails_the_digest_and_keeps_the_reader() {
        let relay = Scripted::new(vec![Err(later("421 4.7.0 too many connections"))]);
        let outbox = Outbox::new(relay.clone(), &[("delivery.max_attempts", 1.into())]).await;
        let report = deliver(&outbox.ctx).await.unwrap();
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
        let report = deliver(&outbox.ctx).await.unwrap();
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
        let claimed = claim(&outbox.ctx, clock::timestamp(), 60, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let (digest, _) = claimed.into_iter().next().unwrap();
        let outcome = deliver_one(
            &outbox.ctx,
            &outbox.ctx.config.delivery,
            &digest,
            None,
            &Trending::default(),
            &Papers::default(),
            &Semaphore::new(1),
        )
        .await;
        assert_eq!(
            outcome,
            Outcome::Skipped {
                why: "the reader was erased".into()
            }
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
        let report = deliver(&outbox.ctx).await.unwrap();
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
