//! The outbox of subscription mails (confirmation, "already subscribed", welcome): rows are
//! written with the change that causes them (`subscribers.rs`), claimed and recorded here
//! through the machinery the digests use (`outbox.rs`).

use super::outbox::{Claim, ClaimedRow, OutboxTable};
use super::{Store, StoreError};
use crate::domain::{DigestStatus, SubscriptionMailKind};

/// A subscription mail a worker has claimed: it holds the lease until it records an outcome.
#[derive(Clone, Debug)]
pub struct ClaimedMail {
    pub claim: Claim,
    pub kind: SubscriptionMailKind,
    pub subscriber_id: i64,
    pub created_at: i64,
}

/// A subscription mail as stored, for status pages and tests.
#[derive(Clone, Debug)]
pub struct StoredMail {
    pub id: i64,
    pub kind: SubscriptionMailKind,
    pub subscriber_id: i64,
    pub client_ip: Option<String>,
    pub status: DigestStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// A row as read; `pub` only because [`super::outbox::Claimed`] names it.
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    kind: String,
    subscriber_id: i64,
    client_ip: Option<String>,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

const COLUMNS: &str =
    "id, kind, subscriber_id, client_ip, status, attempts, last_error, created_at, sent_at";

impl ClaimedRow for Row {
    fn id(&self) -> i64 {
        self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
}

// The row as read is the store's own business (see `Claimed`).
#[allow(private_interfaces)]
impl super::outbox::Claimed for ClaimedMail {
    const TABLE: OutboxTable = OutboxTable::SubscriptionMails;
    const COLUMNS: &'static str = COLUMNS;
    type Raw = Row;

    fn read(claim: Claim, raw: Row) -> Result<Self, StoreError> {
        StoredMail::try_from(raw).map(|m| ClaimedMail {
            claim,
            kind: m.kind,
            subscriber_id: m.subscriber_id,
            created_at: m.created_at,
        })
    }

    fn claim(&self) -> Claim {
        self.claim
    }

    fn reader(&self) -> i64 {
        self.subscriber_id
    }
}

impl TryFrom<Row> for StoredMail {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Corrupt {
            what: format!("subscription mail {}", r.id),
            why,
        };
        Ok(Self {
            id: r.id,
            kind: r.kind.parse().map_err(bad)?,
            subscriber_id: r.subscriber_id,
            status: r.status.parse().map_err(bad)?,
            client_ip: r.client_ip,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        })
    }
}

impl Store {
    /// A subscriber's subscription mails, oldest first.
    #[cfg(any(test, feature = "testing"))]
    pub async fn subscription_mails_of(
        &self,
        subscriber_id: i64,
    ) -> Result<Vec<StoredMail>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscription_mails WHERE subscriber_id = $1 ORDER BY id"
        );
        let rows: Vec<Row> = super::on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(subscriber_id).fetch_all(pool).await)?;
        rows.into_iter().map(StoredMail::try_from).collect()
    }
}
