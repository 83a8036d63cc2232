//! Deliver the outboxes: subscription mails (confirmation, "already subscribed", welcome)
//! ahead of digests, through one machinery. Workers claim due rows under a lease, render
//! each at send time, send it through the mailer's transport (the SMTP pool, or the `.eml`
//! folder) at a concurrency and rate shared by every run in the process, and record the
//! outcome: sent, retry later (4xx, network), bounced (5xx: the reader is suppressed),
//! failed (too many attempts) or skipped (the reader left).
//!
//! Never twice: a worker claims no more than it can send within its lease at the
//! configured rate; a row whose lease has run short by its turn to send is left unsent for
//! the next claim; and an outcome is recorded only while the row still carries the claim
//! that made the attempt.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use lettre::Message;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use super::DigestError;
use crate::bounces::{self, Bounces};
use crate::clock;
use crate::config::DeliveryConfig;
use crate::context::Context;
use crate::domain::{
    ArxivId, EventSource, MessageKind, MessageRef, Subscriber, SubscriberStatus,
    SubscriptionMailKind,
};
use crate::mail::{DigestPaper, RenderError, SendError};
use crate::store::{Claim, ClaimedDigest, ClaimedMail, OutboxTable, Outcome, Store, StoreError};

/// The papers read so far in a delivery run, by id, as every digest shows them.
type Papers = Arc<tokio::sync::RwLock<HashMap<ArxivId, DigestPaper>>>;
/// The day's most upvoted paper, by day.
type Trending = Arc<tokio::sync::Mutex<HashMap<NaiveDate, Option<DigestPaper>>>>;

/// What every delivery run in a process shares, however many go at once (the scheduler's,
/// the subscription-mail loop's, a CLI's): one rate limit and one bound on the messages in
/// the SMTP conversation; and the bell a sign-up rings when it queues a mail.
pub struct Throttle {
    limiter: Option<DefaultDirectRateLimiter>,
    sending: Semaphore,
    queued: Notify,
}

impl Throttle {
    pub fn new(cfg: &DeliveryConfig) -> Self {
        Self {
            limiter: NonZeroU32::new(cfg.rate_per_second)
                .map(|r| RateLimiter::direct(Quota::per_second(r))),
            sending: Semaphore::new(cfg.concurrency.max(1)),
            queued: Notify::new(),
        }
    }

    /// A subscription mail was put in the outbox: wake the loop that sends them.
    pub fn wake(&self) {
        self.queued.notify_one();
    }
}

/// What one delivery run of one outbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliverReport {
    pub sent: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Claimed, but the lease had run short by their turn to send: left unsent (and
    /// unrecorded) for the next claim.
    pub lease_ran_short: u64,
}

impl DeliverReport {
    fn add(&mut self, o: Option<&Outcome>) {
        match o {
            Some(Outcome::Sent) => self.sent += 1,
            Some(Outcome::Retry { .. }) => self.deferred += 1,
            Some(Outcome::Bounced { .. }) => self.bounced += 1,
            Some(Outcome::Failed { .. }) => self.failed += 1,
            Some(Outcome::Skipped { .. }) => self.skipped += 1,
            None => self.lease_ran_short += 1,
        }
    }
}

/// "1 sent, 0 deferred, 0 bounced, 0 failed, 0 skipped", and the rows left for another
/// worker when there were some.
impl std::fmt::Display for DeliverReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} deferred, {} bounced, {} failed, {} skipped",
            self.sent, self.deferred, self.bounced, self.failed, self.skipped
        )?;
        if self.lease_ran_short > 0 {
            write!(
                f,
                ", {} left for another worker (their lease ran short)",
                self.lease_ran_short
            )?;
        }
        Ok(())
    }
}

/// What a delivery of both outboxes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Confirmation, "already subscribed" and welcome mails: sent first.
    pub mails: DeliverReport,
    pub digests: DeliverReport,
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

/// Deliver every subscription mail, then every digest, that is due now, until none is left.
pub async fn deliver(ctx: &Context) -> Result<Delivered, DigestError> {
    let mails = deliver_subscription_mails(ctx).await?;
    let digests = run(ctx, Arc::new(Digests::default())).await?;
    Ok(Delivered { mails, digests })
}

/// Deliver every subscription mail that is due now.
pub async fn deliver_subscription_mails(ctx: &Context) -> Result<DeliverReport, DigestError> {
    run(ctx, Arc::new(SubscriptionMails)).await
}

/// Deliver subscription mails as they come, until the process ends: woken when a sign-up
/// in this process queues one, and every `delivery.poll_seconds` for the mails other
/// instances queued and the retries that came due.
pub async fn run_subscription_mails(ctx: Context) {
    let poll = Duration::from_secs(ctx.config.delivery.poll_seconds.max(1));
    loop {
        match deliver_subscription_mails(&ctx).await {
            Ok(r) if r == DeliverReport::default() => {}
            Ok(r) => tracing::info!(report = %r, "subscription mails"),
            Err(e) => {
                tracing::warn!(error = %e, "delivering subscription mails failed; trying again")
            }
        }
        // A wake-up that came while the run went is kept (`notify_one` stores one), so a
        // mail queued meanwhile is not left for the poll.
        let _ = tokio::time::timeout(poll, ctx.throttle.queued.notified()).await;
    }
}

/// One outbox as delivery sees it: how its rows are claimed, whom each is for, and the
/// message each one is.
trait Outbox: Send + Sync + 'static {
    type Row: Send + Sync + 'static;
    const TABLE: OutboxTable;
    /// What a bounce tag calls a message of this outbox.
    const KIND: MessageKind;

    fn claim(
        ctx: &Context,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send;

    fn claim_of(row: &Self::Row) -> Claim;

    fn subscriber_of(row: &Self::Row) -> i64;

    /// Why `reader` is not sent this row any more, if they are not.
    fn skip(row: &Self::Row, reader: &Subscriber) -> Option<String>;

    /// Count what became of a row, for the operator's metrics.
    fn observe(_row: &Self::Row, _outcome: &Outcome) {}

    /// The message `row` is for `reader`, or the outcome instead (a store error: retry; a
    /// template that does not render: failed).
    fn message(
        &self,
        ctx: &Context,
        cfg: &DeliveryConfig,
        row: &Self::Row,
        reader: &Subscriber,
    ) -> impl Future<Output = Result<Message, Outcome>> + Send;
}

/// A claimed row and its reader (`None`: erased since).
type Claimed<R> = Vec<(R, Option<Subscriber>)>;

/// Deliver one outbox: claim due rows batch by batch, send each under the shared limits,
/// and record every outcome before returning.
async fn run<O: Outbox>(ctx: &Context, outbox: Arc<O>) -> Result<DeliverReport, DigestError> {
    let (outcomes, arrived) = mpsc::unbounded_channel();
    // Messages started whose outcome has not been handed to the recorder yet.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let recorder = tokio::spawn(record(
        ctx.store.clone(),
        O::TABLE,
        arrived,
        in_flight.clone(),
    ));
    let mut tasks = JoinSet::new();
    let dispatched = dispatch(ctx, outbox, &mut tasks, &outcomes, &recorder, &in_flight).await;
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

/// How long before its lease runs out a row may still start its send: a send takes up to
/// the mail timeout, and one that outlives the lease may be made a second time by the
/// worker that claims the row next. At most a third of the lease.
fn lease_margin(ctx: &Context) -> i64 {
    let timeout = i64::try_from(ctx.config.mail.timeout_seconds).unwrap_or(i64::MAX);
    timeout.min(ctx.config.delivery.lease_seconds / 3).max(0)
}

/// Rows claimed at once: `delivery.batch`, but no more than can be sent within the lease
/// (less the margin) at `delivery.rate_per_second`, knowing that a worker holds up to one
/// and a half batches (it claims the next half-way through the current one).
fn claim_limit(cfg: &DeliveryConfig, margin: i64) -> i64 {
    let batch = cfg.batch.max(1);
    if cfg.rate_per_second == 0 {
        return batch;
    }
    let window = (cfg.lease_seconds - margin).max(1);
    let sendable = i64::from(cfg.rate_per_second).saturating_mul(window) * 2 / 3;
    batch.min(sendable.max(1))
}

/// Claim due rows batch by batch and start each one's delivery under the concurrency
/// and rate limits. The next batch is claimed while the current one is still going out.
async fn dispatch<O: Outbox>(
    ctx: &Context,
    outbox: Arc<O>,
    tasks: &mut JoinSet<()>,
    outcomes: &mpsc::UnboundedSender<(Claim, Option<Outcome>)>,
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
    // `concurrency` bounds the messages in the SMTP conversation (process-wide, see
    // [`Throttle`]); a few more are rendered meanwhile, so that sending never waits for
    // rendering (at concurrency 1 in particular).
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1) + RENDER_AHEAD));
    let margin = lease_margin(ctx);
    let limit = claim_limit(&cfg, margin);
    // Only what was due when the run started: a row this run deferred waits for the next.
    let started = clock::timestamp();
    let claim_next = || {
        let (ctx, lease) = (ctx.clone(), cfg.lease_seconds);
        tokio::spawn(async move { claim::<O>(&ctx, started, lease, limit).await })
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
        for (i, (row, reader)) in batch.into_iter().enumerate() {
            if i == prefetch_at && !recorder.is_finished() {
                next = Some(claim_next());
            }
            let permit = permits.clone().acquire_owned().await.expect("never closed");
            if let Some(l) = &ctx.throttle.limiter {
                l.until_ready().await;
            }
            let (ctx, cfg, outbox, outcomes, in_flight) = (
                ctx.clone(),
                cfg.clone(),
                outbox.clone(),
                outcomes.clone(),
                in_flight.clone(),
            );
            in_flight.fetch_add(1, Ordering::AcqRel);
            tasks.spawn(async move {
                let outcome = deliver_one(&ctx, &cfg, &*outbox, &row, reader, margin).await;
                drop(permit);
                in_flight.fetch_sub(1, Ordering::AcqRel);
                // Fails only once the recorder has failed; the row stays leased and is
                // tried again when the lease runs out.
                let _ = outcomes.send((O::claim_of(&row), outcome));
            });
            // Finished tasks leave nothing to collect.
            while tasks.try_join_next().is_some() {}
        }
    }
    Ok(())
}

/// Claim up to `limit` rows and read their readers in one query.
async fn claim<O: Outbox>(
    ctx: &Context,
    due_by: i64,
    lease_seconds: i64,
    limit: i64,
) -> Result<Claimed<O::Row>, StoreError> {
    let claimed = O::claim(ctx, due_by, lease_seconds, limit).await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = claimed.iter().map(O::subscriber_of).collect();
    let readers: HashMap<i64, Subscriber> = ctx
        .store
        .find_by_ids(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(claimed
        .into_iter()
        .map(|row| {
            // A reader may have two rows in one batch (a confirmation, then its welcome).
            let reader = readers.get(&O::subscriber_of(&row)).cloned();
            (row, reader)
        })
        .collect())
}

/// Record outcomes as they arrive, in groups (see [`RECORD_GROUP`]), until every sender is
/// gone; counts what was recorded. Stops at the first failure.
async fn record(
    store: Store,
    table: OutboxTable,
    mut arrived: mpsc::UnboundedReceiver<(Claim, Option<Outcome>)>,
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
        let recorded: Vec<(Claim, Outcome)> = group
            .iter()
            .filter_map(|(c, o)| o.clone().map(|o| (*c, o)))
            .collect();
        let changed = store
            .record_outcomes(table, &recorded, clock::timestamp())
            .await?;
        if changed < recorded.len() as u64 {
            // Another worker claimed them after this one's lease ran out: its outcome stands.
            tracing::warn!(
                ?table,
                stale = recorded.len() as u64 - changed,
                "outcomes not recorded: the rows were claimed again after this worker's lease ran out"
            );
        }
        for (_, outcome) in group.drain(..) {
            report.add(outcome.as_ref());
        }
    }
    Ok(report)
}

/// Send one claimed row to its reader; `None` when its lease ran short before its turn
/// to send came (it is then neither sent nor recorded).
async fn deliver_one<O: Outbox>(
    ctx: &Context,
    cfg: &DeliveryConfig,
    outbox: &O,
    row: &O::Row,
    reader: Option<Subscriber>,
    margin: i64,
) -> Option<Outcome> {
    let claim = O::claim_of(row);
    let Some(reader) = reader else {
        return Some(Outcome::Skipped {
            why: "the reader was erased".into(),
        });
    };
    if let Some(why) = O::skip(row, &reader) {
        return Some(Outcome::Skipped { why });
    }
    let message = match outbox.message(ctx, cfg, row, &reader).await {
        Ok(m) => m,
        Err(outcome) => return Some(outcome),
    };
    let sent_from = MessageRef {
        kind: O::KIND,
        id: claim.id,
        reader: reader.id,
    };
    let sent = {
        let _turn = ctx.throttle.sending.acquire().await.expect("never closed");
        // Sent now, it might still be going out when another worker claims it again.
        if clock::timestamp() + margin >= claim.lease_until {
            return None;
        }
        ctx.mailer.send(message, sent_from).await
    };
    let outcome = outcome_of(sent, cfg, claim.attempts, clock::timestamp());
    O::observe(row, &outcome);
    if let Outcome::Bounced { error } = &outcome {
        let recorded = Bounces::new(ctx.clone())
            .record(
                reader.id,
                Some(sent_from),
                &bounces::refusal(error),
                EventSource::Relay,
                None,
            )
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record a bounce");
        }
    }
    Some(outcome)
}

/// Digests, with what a run reads once for all of them.
#[derive(Default)]
struct Digests {
    trending: Trending,
    papers: Papers,
}

impl Outbox for Digests {
    type Row = ClaimedDigest;
    const TABLE: OutboxTable = OutboxTable::Digests;
    const KIND: MessageKind = MessageKind::Digest;

    async fn claim(
        ctx: &Context,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDigest>, StoreError> {
        ctx.store
            .claim_digests(clock::timestamp(), due_by, lease_seconds, limit)
            .await
    }

    fn claim_of(row: &ClaimedDigest) -> Claim {
        row.claim
    }

    fn subscriber_of(row: &ClaimedDigest) -> i64 {
        row.subscriber_id
    }

    fn skip(_: &ClaimedDigest, reader: &Subscriber) -> Option<String> {
        (reader.status != SubscriberStatus::Active)
            .then(|| format!("the reader is {}", reader.status))
    }

    async fn message(
        &self,
        ctx: &Context,
        cfg: &DeliveryConfig,
        digest: &ClaimedDigest,
        reader: &Subscriber,
    ) -> Result<Message, Outcome> {
        let attempts = digest.claim.attempts;
        let top = cached_top_of_day(ctx, &self.trending, digest.day)
            .await
            .map_err(|e| {
                let error = format!("reading the day's most upvoted paper: {e}");
                retry(cfg, attempts, error, clock::timestamp())
            })?;
        // Readers share the day's papers: each is read once per run.
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
        if !missing.is_empty() {
            let found = ctx.store.papers_by_ids(&missing).await.map_err(|e| {
                let error = format!("reading the papers: {e}");
                retry(cfg, attempts, error, clock::timestamp())
            })?;
            // Rendered before the lock is taken: other messages read the cache meanwhile.
            let prepared: Vec<DigestPaper> = found
                .iter()
                .map(|p| ctx.mailer.prepare(DigestPaper::of(&p.paper)))
                .collect::<Result<_, RenderError>>()
                .map_err(failed)?;
            let mut known = self.papers.write().await;
            for p in prepared {
                known.insert(p.id.clone(), p);
            }
        }
        let view = {
            let known = self.papers.read().await;
            super::view_of(
                ctx,
                reader,
                digest.day,
                &digest.content,
                top.as_ref(),
                &known,
            )
        };
        super::message(ctx, reader, &view, &digest.message_id).map_err(failed)
    }
}

/// Confirmation, "already subscribed" and welcome mails, rendered when they go out (their
/// links are made then).
struct SubscriptionMails;

impl Outbox for SubscriptionMails {
    type Row = ClaimedMail;
    const TABLE: OutboxTable = OutboxTable::SubscriptionMails;
    const KIND: MessageKind = MessageKind::SubscriptionMail;

    async fn claim(
        ctx: &Context,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        ctx.store
            .claim_subscription_mails(clock::timestamp(), due_by, lease_seconds, limit)
            .await
    }

    fn claim_of(row: &ClaimedMail) -> Claim {
        row.claim
    }

    fn subscriber_of(row: &ClaimedMail) -> i64 {
        row.subscriber_id
    }

    fn skip(mail: &ClaimedMail, reader: &Subscriber) -> Option<String> {
        use SubscriberStatus::{Active, Pending, Suppressed};
        let wanted = match mail.kind {
            // A suppressed address confirms again to be lifted.
            SubscriptionMailKind::Confirmation => matches!(reader.status, Pending | Suppressed),
            SubscriptionMailKind::AlreadySubscribed | SubscriptionMailKind::Welcome => {
                reader.status == Active
            }
        };
        (!wanted).then(|| format!("the reader is {}", reader.status))
    }

    fn observe(mail: &ClaimedMail, outcome: &Outcome) {
        if mail.kind.answers_a_sign_up() {
            crate::subscriptions::count_sign_up_mail(match outcome {
                Outcome::Sent => "sent",
                Outcome::Bounced { .. } => "refused",
                Outcome::Retry { .. } => "deferred",
                Outcome::Failed { .. } => "failed",
                // The reader confirmed or left before it went: nothing was wrong with it.
                Outcome::Skipped { .. } => "skipped",
            });
        }
    }

    async fn message(
        &self,
        ctx: &Context,
        cfg: &DeliveryConfig,
        mail: &ClaimedMail,
        reader: &Subscriber,
    ) -> Result<Message, Outcome> {
        use crate::subscriptions::ServiceError;
        crate::subscriptions::mail_message(ctx, mail.kind, reader, mail.claim.id)
            .await
            .map_err(|e| match e {
                ServiceError::Store(e) => retry(
                    cfg,
                    mail.claim.attempts,
                    format!("reading what the mail shows: {e}"),
                    clock::timestamp(),
                ),
                other => Outcome::Failed {
                    error: other.to_string(),
                },
            })
    }
}

fn failed(e: RenderError) -> Outcome {
    Outcome::Failed {
        error: e.to_string(),
    }
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

/// What a send's answer makes of the row, at its `attempts`th attempt: sent; bounced
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
    use crate::domain::{DigestStatus, MailEventKind, NewSubscription, SubscriptionInput};
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

    #[test]
    fn a_worker_claims_no_more_than_it_can_send_within_its_lease() {
        let cfg = DeliveryConfig {
            rate_per_second: 10,
            lease_seconds: 120,
            batch: 64,
            ..policy(5, 60)
        };
        // 10 a second for 90 s (the lease less a 30 s margin): 900, two thirds 600.
        assert_eq!(claim_limit(&cfg, 30), 64);
        let slow = DeliveryConfig {
            rate_per_second: 1,
            ..cfg.clone()
        };
        assert_eq!(claim_limit(&slow, 30), 60);
        let short = DeliveryConfig {
            rate_per_second: 1,
            lease_seconds: 2,
            ..cfg.clone()
        };
        assert_eq!(claim_limit(&short, 0), 1, "at least one");
        let unlimited = DeliveryConfig {
            rate_per_second: 0,
            ..cfg
        };
        assert_eq!(claim_limit(&unlimited, 30), 64);
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
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
        assert_eq!(deliver(&outbox.ctx).await.unwrap(), Delivered::default());
        assert_eq!(relay.given().len(), 1);
    }

    #[tokio::test]
    async fn a_5xx_bounces_and_suppresses_the_reader() {
        let refused = "550 5.1.1 <reader@example.org>: no such mailbox";
        let relay = Scripted::new(vec![Err(SendError::Permanent(refused.into()))]);
        let outbox = Outbox::new(relay.clone(), &[]).await;
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
        let claimed = claim::<Digests>(&outbox.ctx, clock::timestamp(), 60, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let (digest, _) = claimed.into_iter().next().unwrap();
        let outcome = deliver_one(
            &outbox.ctx,
            &outbox.ctx.config.delivery,
            &Digests::default(),
            &digest,
            None,
            0,
        )
        .await;
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
        let report = deliver(&outbox.ctx).await.unwrap().digests;
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
