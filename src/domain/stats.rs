//! The dashboard's daily figures: what is counted, under which name, in which chart.

/// One daily figure. Days are UTC days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Readers in each state at the day's last count (a snapshot, not a flow).
    Pending,
    Active,
    Unsubscribed,
    Suppressed,
    /// Readers who signed up that day (by their row's creation).
    SignUps,
    /// Readers whose confirmation is dated that day.
    Confirmations,
    /// Readers whose unsubscription is dated that day (a reader who came back since is
    /// counted on neither day: the row keeps the latest only).
    Unsubscribes,
    Suppressions,
    /// Digest delivery attempts that day, by outcome.
    DigestsSent,
    Deferred,
    /// Bounces reported that day (hard and soft, during the transaction or after).
    Bounced,
    Complaints,
    /// Ratings given that day (a reader who rated a paper again counts on the latest day).
    RatedMore,
    RatedFewer,
    /// Digests in the outbox at the day's last count: waiting to be sent (or being sent),
    /// and failed for good (a snapshot, as readers by state).
    OutboxWaiting,
    OutboxFailed,
}

/// A chart on the dashboard: a family of metrics drawn together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    pub title: &'static str,
    pub metrics: &'static [Metric],
}

impl Metric {
    pub const ALL: [Metric; 16] = [
        Self::Pending,
        Self::Active,
        Self::Unsubscribed,
        Self::Suppressed,
        Self::SignUps,
        Self::Confirmations,
        Self::Unsubscribes,
        Self::Suppressions,
        Self::DigestsSent,
        Self::Deferred,
        Self::Bounced,
        Self::Complaints,
        Self::RatedMore,
        Self::RatedFewer,
        Self::OutboxWaiting,
        Self::OutboxFailed,
    ];

    /// The readers-by-state snapshot.
    pub const STATES: [Metric; 4] = [
        Self::Pending,
        Self::Active,
        Self::Unsubscribed,
        Self::Suppressed,
    ];

    /// The dashboard's charts, in the order shown.
    pub const FAMILIES: [Family; 5] = [
        Family {
            title: "Readers by state",
            metrics: &Self::STATES,
        },
        Family {
            title: "Sign-ups and departures",
            metrics: &[
                Self::SignUps,
                Self::Confirmations,
                Self::Unsubscribes,
                Self::Suppressions,
            ],
        },
        Family {
            title: "Digests",
            metrics: &[
                Self::DigestsSent,
                Self::Deferred,
                Self::Bounced,
                Self::Complaints,
            ],
        },
        Family {
            title: "Ratings",
            metrics: &[Self::RatedMore, Self::RatedFewer],
        },
        Family {
            title: "Outbox",
            metrics: &[Self::OutboxWaiting, Self::OutboxFailed],
        },
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
            Self::SignUps => "sign_ups",
            Self::Confirmations => "confirmations",
            Self::Unsubscribes => "unsubscribes",
            Self::Suppressions => "suppressions",
            Self::DigestsSent => "digests_sent",
            Self::Deferred => "deferred",
            Self::Bounced => "bounced",
            Self::Complaints => "complaints",
            Self::RatedMore => "rated_more",
            Self::RatedFewer => "rated_fewer",
            Self::OutboxWaiting => "outbox_waiting",
            Self::OutboxFailed => "outbox_failed",
        }
    }

    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
            Self::SignUps => "sign-ups",
            Self::Confirmations => "confirmations",
            Self::Unsubscribes => "unsubscribes",
            Self::Suppressions => "suppressions",
            Self::DigestsSent => "sent",
            Self::Deferred => "deferred",
            Self::Bounced => "bounced",
            Self::Complaints => "complaints",
            Self::RatedMore => "more like this",
            Self::RatedFewer => "fewer like this",
            Self::OutboxWaiting => "waiting to send",
            Self::OutboxFailed => "failed for good",
        }
    }

    /// True for a snapshot (readers in a state), false for a count of what happened that day.
    pub fn is_snapshot(self) -> bool {
        Self::STATES.contains(&self) || matches!(self, Self::OutboxWaiting | Self::OutboxFailed)
    }
}

impl std::str::FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a daily metric"))
    }
}

/// The share of `part` in `whole`, in per cent; `None` when nothing was sent.
pub fn rate_percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Mailbox providers' published line for complaints: Google and Yahoo's sender rules (2024)
/// ask for a spam rate below 0.3 %, and advise staying under 0.1 %.
pub const COMPLAINT_LIMIT_PERCENT: f64 = 0.3;
pub const COMPLAINT_AIM_PERCENT: f64 = 0.1;

/// How a day's complaint rate stands against those lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateStanding {
    /// Below the advised 0.1 %.
    Good,
    /// Between 0.1 % and 0.3 %: allowed, but on the way to the limit.
    Watch,
    /// At or above 0.3 %: providers start to filter or refuse.
    OverLimit,
}

impl RateStanding {
    pub fn of_complaints(percent: f64) -> Self {
        if percent >= COMPLAINT_LIMIT_PERCENT {
            Self::OverLimit
        } else if percent >= COMPLAINT_AIM_PERCENT {
            Self::Watch
        } else {
            Self::Good
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "below 0.1 %",
            Self::Watch => "above the advised 0.1 %",
            Self::OverLimit => "over the 0.3 % limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_reads_back_and_sits_in_one_chart() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>(), Ok(m));
            let charts = Metric::FAMILIES
                .iter()
                .filter(|f| f.metrics.contains(&m))
                .count();
            assert_eq!(charts, 1, "{m:?}");
        }
        assert!("sent".parse::<Metric>().is_err());
    }

    #[test]
    fn complaint_rates_against_the_published_lines() {
        assert_eq!(rate_percent(3, 0), None);
        assert_eq!(rate_percent(1, 1000), Some(0.1));
        assert_eq!(RateStanding::of_complaints(0.05), RateStanding::Good);
        assert_eq!(RateStanding::of_complaints(0.1), RateStanding::Watch);
        assert_eq!(RateStanding::of_complaints(0.29), RateStanding::Watch);
        assert_eq!(RateStanding::of_complaints(0.3), RateStanding::OverLimit);
    }
}
