//! Deliver the outbox: workers claim due digests under a lease, render each at send time,
//! send it through the pooled SMTP transport at a bounded concurrency and rate, and record
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
use crate::mail::{DigestPaper, MailError};
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
    let top = {
        let mut cache = trending.lock().await;
        match cache.get(&digest.day) {
            Some(t) => t.clone(),
            None => {
                let t = ctx
                    .store
                    .papers(Some(digest.day), 1)
                    .await
                    .ok()
                    .and_then(|mut p| p.pop())
                    .map(|t| DigestPaper::of(&t.paper));
                cache.insert(digest.day, t.clone());
                t
            }
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
                let prepared: Result<Vec<DigestPaper>, MailError> = found
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
            Err(e) => return retry(cfg, digest, format!("reading the papers: {e}")),
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
    match sent {
        Ok(()) => Outcome::Sent,
        Err(MailError::Permanent(e)) => {
            let reason = format!("bounced: {e}");
            if let Err(e) = ctx
                .store
                .suppress(reader.id, &reason, clock::timestamp())
                .await
            {
                tracing::warn!(error = %e, "could not suppress a bounced reader");
            }
            Outcome::Bounced { error: e }
        }
        Err(e) => retry(cfg, digest, e.to_string()),
    }
}

/// Try again later with exponential backoff, or give up after the last attempt.
fn retry(cfg: &DeliveryConfig, digest: &ClaimedDigest, error: String) -> Outcome {
    if digest.attempts >= cfg.max_attempts {
        return Outcome::Failed {
            error: format!("gave up after {} attempts: {error}", digest.attempts),
        };
    }
    let wait = cfg.retry_after_seconds.max(1) << (digest.attempts - 1).clamp(0, 20);
    Outcome::Retry {
        at: clock::timestamp() + wait,
        error,
    }
}
