//! Every service, built once over one [`Context`] and holding its own state (the outbox's
//! rate limit and wake-up, the previews' composers, the "more like this" week). The web
//! layer, the CLI and the scheduler call these, never the store.

use crate::admin::Admin;
use crate::audit::Audit;
use crate::bounces::Bounces;
use crate::context::Context;
use crate::digest::Digests;
use crate::health::Health;
use crate::import::Import;
use crate::maintenance::Maintenance;
use crate::operators::Operators;
use crate::outbox::{DeliverReport, Outbox};
use crate::papers::Papers;
use crate::ratings::Ratings;
use crate::stats::Stats;
use crate::store::StoreError;
use crate::subscriptions::Subscriptions;

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Services {
    pub ctx: Context,
    pub outbox: Outbox,
    pub subscriptions: Subscriptions,
    pub digests: Digests,
    pub ratings: Ratings,
    pub papers: Papers,
    pub admin: Admin,
    pub bounces: Bounces,
    pub maintenance: Maintenance,
    /// Bringing a list in from a CSV file.
    pub import: Import,
    /// The record of what operators changed.
    pub audit: Audit,
    /// The console's operators and their sessions.
    pub operators: Operators,
    /// The dashboard's daily figures and the daily job's runs.
    pub stats: Stats,
    /// What `/readyz` checks, and the scheduler's heartbeat.
    pub health: Health,
}

/// What a delivery of every kind of mail did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Confirmation, "already subscribed" and welcome mails: sent first.
    pub mails: DeliverReport,
    pub digests: DeliverReport,
}

impl Services {
    pub fn new(ctx: Context) -> Self {
        let bounces = Bounces::new(ctx.clone());
        let outbox = Outbox::new(ctx.clone(), bounces.clone());
        let digests = Digests::new(ctx.clone(), outbox.clone());
        let audit = Audit::new(ctx.clone());
        Self {
            subscriptions: Subscriptions::new(
                ctx.clone(),
                outbox.clone(),
                digests.clone(),
                audit.clone(),
            ),
            ratings: Ratings::new(ctx.clone()),
            papers: Papers::new(ctx.clone()),
            admin: Admin::new(ctx.clone(), audit.clone()),
            maintenance: Maintenance::new(ctx.clone()),
            health: Health::new(ctx.clone()),
            stats: Stats::new(ctx.clone()),
            import: Import::new(ctx.clone(), outbox.clone(), audit.clone()),
            operators: Operators::new(ctx.clone(), audit.clone()),
            audit,
            outbox,
            digests,
            bounces,
            ctx,
        }
    }

    /// Deliver every subscription mail, then every digest, that is due now.
    pub async fn deliver(&self) -> Result<Delivered, StoreError> {
        let mails = self.subscriptions.deliver_mails().await?;
        let digests = self.digests.deliver().await?;
        Ok(Delivered { mails, digests })
    }
}
