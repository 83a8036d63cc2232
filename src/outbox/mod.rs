//! The outbox: every mail the service sends (confirmation, "already subscribed", welcome,
//! digests) is a row written with the change that causes it, and this one worker delivers
//! them all. A producer says what its rows are and what message each one is (a [`Kind`]);
//! the outbox claims due rows under a lease, builds each at send time, sends it through the
//! mailer's transport (the SMTP pool, or the `.eml` folder) at a concurrency and rate shared
//! by every run in the process, and records the outcome: sent, retry later (4xx, network),
//! bounced (5xx: the reader is suppressed), failed (too many attempts) or skipped (the
//! reader left).
//!
//! Never twice: a worker claims no more than it can send within its lease at the
//! configured rate; a row whose lease has run short by its turn to send is left unsent for
//! the next claim; and an outcome is recorded only while the row still carries the claim
//! that made the attempt.

mod policy;

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use lettre::Message;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::bounces::{self, Bounces};
use crate::clock;
use crate::context::Context;
use crate::domain::{EventSource, MessageKind, MessageRef, Subscriber};
use crate::store::{Claim, Claimed, Outcome, StoreError};

/// One kind of mail in the outbox, as its producer describes it.
pub trait Kind: Send + Sync + 'static {
    /// A claimed row of this kind's table.
    type Row: Claimed;
    /// What a bounce tag calls a message of this kind.
    const MESSAGE: MessageKind;

    /// Why `reader` is not sent this row any more, if they are not.
    fn skip(row: &Self::Row, reader: &Subscriber) -> Option<String>;

    /// Count what became of a row, for the operator's metrics.
    fn observe(_row: &Self::Row, _outcome: &Outcome) {}

    /// The message `row` is for `reader`, built now.
    fn message(
        &self,
        row: &Self::Row,
        reader: &Subscriber,
    ) -> impl Future<Output = Result<Message, Unbuilt>> + Send;
}

/// Why a row's message could not be built.
#[derive(Debug)]
pub enum Unbuilt {
    /// What it shows could not be read now (the database): try again later, as a deferred
    /// send is.
    Later(String),
    /// It never will be (a template that does not render): the row fails.
    Never(String),
}

/// What one delivery run of one kind of mail did.
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

/// Outcomes are recorded in groups, one write transaction each: a group closes at this many
/// outcomes...
const RECORD_GROUP: usize = 128;
/// ...or this long after its first outcome arrived, or as soon as no other message is in
/// flight. A mail the server accepted whose outcome is not recorded yet is sent again if the
/// process dies (see the README, "At least once"), so this stays short.
const RECORD_WITHIN: Duration = Duration::from_millis(20);
/// Messages rendered ahead of the ones being sent: one per core of a small machine.
const RENDER_AHEAD: usize = 2;

/// The delivery worker. Cheap to clone: every delivery run in a process shares one, however
/// many go at once (the scheduler's, the subscription-mail loop's, a CLI's), and with it one
/// rate limit, one bound on the messages in the SMTP conversation, and the bell a producer
/// rings when it queues a mail.
#[derive(Clone)]
pub struct Outbox {
    ctx: Context,
    bounces: Bounces,
    shared: Arc<Shared>,
}

struct Shared {
    limiter: Option<DefaultDirectRateLimiter>,
    sending: Semaphore,
    queued: Notify,
}

/// A claimed row and its reader (`None`: erased since).
type ClaimedFor<R> = Vec<(R, Option<Subscriber>)>;

impl Outbox {
    pub fn new(ctx: Context, bounces: Bounces) -> Self {
        let cfg = &ctx.config.delivery;
        let shared = Shared {
            limiter: NonZeroU32::new(cfg.rate_per_second)
                .map(|r| RateLimiter::direct(Quota::per_second(r))),
            sending: Semaphore::new(cfg.concurrency.max(1)),
            queued: Notify::new(),
        };
        Self {
            ctx,
            bounces,
            shared: Arc::new(shared),
        }
    }

    /// A mail was put in the outbox: wake the loop that sends them as they come.
    pub(crate) fn wake(&self) {
        self.shared.queued.notify_one();
    }

    /// Deliver the rows of `kind` as they come, until the process ends: woken when a
    /// producer in this process queues one ([`Outbox::wake`]), and every
    /// `delivery.poll_seconds` for the rows other instances queued and the retries that came
    /// due. `kind` makes what each run needs.
    pub(crate) async fn keep_delivering<K: Kind>(&self, kind: impl Fn() -> K) {
        let poll = Duration::from_secs(self.ctx.config.delivery.poll_seconds.max(1));
        loop {
            match self.deliver(kind()).await {
                Ok(r) if r == DeliverReport::default() => {}
                Ok(r) => tracing::info!(report = %r, kind = %K::MESSAGE.as_str(), "delivered"),
                Err(e) => {
                    tracing::warn!(error = %e, kind = %K::MESSAGE.as_str(), "delivering failed; trying again")
                }
            }
            // A wake-up that came while the run went is kept (`notify_one` stores one), so a
            // mail queued meanwhile is not left for the poll.
            let _ = tokio::time::timeout(poll, self.shared.queued.notified()).await;
        }
    }

    /// Deliver every row of `kind` that is due now, until none is left: claim due rows batch
    /// by batch, send each under the shared limits, and record every outcome before
    /// returning.
    pub async fn deliver<K: Kind>(&self, kind: K) -> Result<DeliverReport, StoreError> {
        let (outcomes, arrived) = mpsc::unbounded_channel();
        // Messages started whose outcome has not been handed to the recorder yet.
        let in_flight = Arc::new(AtomicUsize::new(0));
        let recorder = tokio::spawn(record::<K::Row>(
            self.ctx.store.clone(),
            arrived,
            in_flight.clone(),
        ));
        let mut tasks = JoinSet::new();
        let dispatched = self
            .dispatch(Arc::new(kind), &mut tasks, &outcomes, &recorder, &in_flight)
            .await;
        // Whatever happened, every message in flight finishes and its outcome is recorded
        // before this returns.
        drop(outcomes);
        while let Some(done) = tasks.join_next().await {
            done.expect("a delivery task panicked");
        }
        let report = recorder.await.expect("the recorder panicked")?;
        dispatched?;
        Ok(report)
    }

    /// Claim due rows batch by batch and start each one's delivery under the concurrency
    /// and rate limits. The next batch is claimed while the current one is still going out.
    async fn dispatch<K: Kind>(
        &self,
        kind: Arc<K>,
        tasks: &mut JoinSet<()>,
        outcomes: &mpsc::UnboundedSender<(Claim, Option<Outcome>)>,
        recorder: &JoinHandle<Result<DeliverReport, StoreError>>,
        in_flight: &Arc<AtomicUsize>,
    ) -> Result<(), StoreError> {
        let config = &self.ctx.config;
        let cfg = &config.delivery;
        let pool = config.mail.pool_size as usize;
        if cfg.concurrency > pool && !config.smtp_url.trim().is_empty() {
            tracing::warn!(
                "delivery.concurrency is {} but mail.pool_size only {pool}: at most {pool} messages are sent at once",
                cfg.concurrency
            );
        }
        // `concurrency` bounds the messages in the SMTP conversation (process-wide, see
        // [`Outbox`]); a few more are rendered meanwhile, so that sending never waits for
        // rendering (at concurrency 1 in particular).
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1) + RENDER_AHEAD));
        let margin = policy::lease_margin(config);
        let limit = policy::claim_limit(cfg, margin);
        // Only what was due when the run started: a row this run deferred waits for the next.
        let started = clock::timestamp();
        let claim_next = || {
            let (outbox, lease) = (self.clone(), cfg.lease_seconds);
            tokio::spawn(async move { outbox.claim::<K::Row>(started, lease, limit).await })
        };
        let mut next = Some(claim_next());
        while let Some(claiming) = next.take() {
            let batch = claiming.await.expect("a claim panicked")?;
            // A recorder that failed has ended: send nothing more whose outcome would be lost.
            if batch.is_empty() || recorder.is_finished() {
                break;
            }
            // Half-way through a batch, claim the next, so the senders never wait for a
            // claim; a worker holds at most one and a half batches under its lease.
            let prefetch_at = batch.len() / 2;
            for (i, (row, reader)) in batch.into_iter().enumerate() {
                if i == prefetch_at && !recorder.is_finished() {
                    next = Some(claim_next());
                }
                let permit = permits.clone().acquire_owned().await.expect("never closed");
                if let Some(l) = &self.shared.limiter {
                    l.until_ready().await;
                }
                let (outbox, kind, outcomes, in_flight) = (
                    self.clone(),
                    kind.clone(),
                    outcomes.clone(),
                    in_flight.clone(),
                );
                in_flight.fetch_add(1, Ordering::AcqRel);
                tasks.spawn(async move {
                    let outcome = outbox.deliver_one(&*kind, &row, reader, margin).await;
                    drop(permit);
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    // Fails only once the recorder has failed; the row stays leased and is
                    // tried again when the lease runs out.
                    let _ = outcomes.send((row.claim(), outcome));
                });
                // Finished tasks leave nothing to collect.
                while tasks.try_join_next().is_some() {}
            }
        }
        Ok(())
    }

    /// Claim up to `limit` rows and read their readers in one query.
    pub(crate) async fn claim<R: Claimed>(
        &self,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<ClaimedFor<R>, StoreError> {
        let store = &self.ctx.store;
        let claimed: Vec<R> = store
            .claim(clock::timestamp(), due_by, lease_seconds, limit)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claimed.iter().map(R::reader).collect();
        let readers: HashMap<i64, Subscriber> = store
            .find_by_ids(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(claimed
            .into_iter()
            .map(|row| {
                // A reader may have two rows in one batch (a confirmation, then its welcome).
                let reader = readers.get(&row.reader()).cloned();
                (row, reader)
            })
            .collect())
    }

    /// Send one claimed row to its reader; `None` when its lease ran short before its turn
    /// to send came (it is then neither sent nor recorded).
    pub(crate) async fn deliver_one<K: Kind>(
        &self,
        kind: &K,
        row: &K::Row,
        reader: Option<Subscriber>,
        margin: i64,
    ) -> Option<Outcome> {
        let cfg = &self.ctx.config.delivery;
        let claim = row.claim();
        let Some(reader) = reader else {
            return Some(Outcome::Skipped {
                why: "the reader was erased".into(),
            });
        };
        if let Some(why) = K::skip(row, &reader) {
            return Some(Outcome::Skipped { why });
        }
        let message = match kind.message(row, &reader).await {
            Ok(m) => m,
            Err(Unbuilt::Later(error)) => {
                return Some(policy::retry(
                    cfg,
                    claim.attempts,
                    error,
                    clock::timestamp(),
                ));
            }
            Err(Unbuilt::Never(error)) => return Some(Outcome::Failed { error }),
        };
        let sent_from = MessageRef {
            kind: K::MESSAGE,
            id: claim.id,
            reader: reader.id,
        };
        let sent = {
            let _turn = self.shared.sending.acquire().await.expect("never closed");
            // Sent now, it might still be going out when another worker claims it again.
            if clock::timestamp() + margin >= claim.lease_until {
                return None;
            }
            self.ctx.mailer.send(message, sent_from).await
        };
        let outcome = policy::outcome_of(sent, cfg, claim.attempts, clock::timestamp());
        K::observe(row, &outcome);
        if let Outcome::Bounced { error } = &outcome {
            let recorded = self
                .bounces
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
}

/// Record outcomes as they arrive, in groups (see [`RECORD_GROUP`]), until every sender is
/// gone; counts what was recorded. Stops at the first failure.
async fn record<R: Claimed>(
    store: crate::store::Store,
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
            .record_outcomes(R::TABLE, &recorded, clock::timestamp())
            .await?;
        if changed < recorded.len() as u64 {
            // Another worker claimed them after this one's lease ran out: its outcome stands.
            tracing::warn!(
                table = ?R::TABLE,
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
