//! The delivery policy, without I/O: what a send's answer makes of a row, how long a retry
//! waits, and how much a worker may claim within its lease.

use crate::config::{Config, DeliveryConfig};
use crate::mail::SendError;
use crate::store::Outcome;

/// How long before its lease runs out a row may still start its send: a send takes up to
/// the mail timeout, and one that outlives the lease may be made a second time by the
/// worker that claims the row next. At most a third of the lease.
pub(super) fn lease_margin(config: &Config) -> i64 {
    let timeout = i64::try_from(config.mail.timeout_seconds).unwrap_or(i64::MAX);
    timeout.min(config.delivery.lease_seconds / 3).max(0)
}

/// Rows claimed at once: `delivery.batch`, but no more than can be sent within the lease
/// (less the margin) at `delivery.rate_per_second`, knowing that a worker holds up to one
/// and a half batches (it claims the next half-way through the current one).
pub(super) fn claim_limit(cfg: &DeliveryConfig, margin: i64) -> i64 {
    let batch = cfg.batch.max(1);
    if cfg.rate_per_second == 0 {
        return batch;
    }
    let window = (cfg.lease_seconds - margin).max(1);
    let sendable = i64::from(cfg.rate_per_second).saturating_mul(window) * 2 / 3;
    batch.min(sendable.max(1))
}

/// What a send's answer makes of the row, at its `attempts`th attempt: sent; bounced
/// for a permanent refusal (the reader is then suppressed), whichever the attempt; else
/// tried again later, see [`retry`].
pub(super) fn outcome_of(
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
pub(super) fn retry(cfg: &DeliveryConfig, attempts: i64, error: String, now: i64) -> Outcome {
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
    use super::*;

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
}
