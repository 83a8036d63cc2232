//! The judgements, at chosen times: what the integration tests cannot wait for (a heartbeat
//! gone stale, an ingest two days old).

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn config() -> HealthConfig {
    crate::config::Config::with_overrides(&[]).unwrap().health
}

#[test]
fn a_scheduler_that_stopped_beating_fails() {
    let now = at("2026-12-07T12:00:00Z");
    let hb = Heartbeat::default();
    // Never started.
    let c = judge_scheduler(true, &hb.read(), now);
    assert_eq!(c.state, State::Fail, "{}", c.detail);
    assert!(c.detail.contains("not started"), "{}", c.detail);
    // Off by configuration: neither.
    let c = judge_scheduler(false, &hb.read(), now);
    assert_eq!(c.state, State::Disabled);

    hb.waiting(now, at("2026-12-07T13:00:00Z"));
    let c = judge_scheduler(true, &hb.read(), now + chrono::Duration::seconds(30));
    assert_eq!(
        (c.state, c.beat_seconds_ago),
        (State::Ok, Some(30)),
        "{}",
        c.detail
    );
    assert_eq!(c.next_run, Some(at("2026-12-07T13:00:00Z")));
    // At the bound still alive, one second past it stopped.
    let edge = now + chrono::Duration::seconds(STALE_AFTER_SECONDS);
    assert_eq!(judge_scheduler(true, &hb.read(), edge).state, State::Ok);
    let c = judge_scheduler(true, &hb.read(), edge + chrono::Duration::seconds(1));
    assert_eq!(c.state, State::Fail);
    assert!(c.detail.contains("no heartbeat for 121 s"), "{}", c.detail);
}

#[test]
fn a_long_or_failed_job_is_a_warning() {
    let start = at("2026-12-07T06:00:00Z");
    let hb = Heartbeat::default();
    hb.running(start);
    hb.beat(start + chrono::Duration::hours(7));
    let c = judge_scheduler(true, &hb.read(), start + chrono::Duration::hours(7));
    assert_eq!(c.state, State::Warn, "{}", c.detail);
    assert_eq!(c.running_since, Some(start));
    hb.finished(start + chrono::Duration::hours(7), false);
    let c = judge_scheduler(true, &hb.read(), start + chrono::Duration::hours(7));
    assert_eq!(c.state, State::Warn);
    assert!(c.detail.contains("failed"), "{}", c.detail);
    hb.running(start + chrono::Duration::hours(8));
    hb.finished(start + chrono::Duration::hours(8), true);
    let c = judge_scheduler(true, &hb.read(), start + chrono::Duration::hours(8));
    assert_eq!(c.state, State::Ok, "{}", c.detail);
    hb.ended(start + chrono::Duration::hours(8));
    let c = judge_scheduler(true, &hb.read(), start + chrono::Duration::hours(8));
    assert_eq!(c.state, State::Fail);
}

#[test]
fn the_outbox_is_judged_by_its_oldest_due_mail() {
    let config = config();
    let now = at("2026-12-07T12:00:00Z");
    let t = now.timestamp();
    let due = |n: i64, since: Option<i64>| DueMail {
        due: n,
        oldest_due_since: since,
    };
    let c = judge_outbox(Ok((due(0, None), due(0, None))), now, &config);
    assert_eq!(
        (c.state, c.due, c.oldest_due_seconds),
        (State::Ok, Some(0), None)
    );
    // The oldest of either table counts.
    let c = judge_outbox(
        Ok((
            due(5, Some(t - 60)),
            due(1, Some(t - config.outbox_warn_seconds - 1)),
        )),
        now,
        &config,
    );
    assert_eq!((c.state, c.due), (State::Warn, Some(6)), "{}", c.detail);
    let c = judge_outbox(
        Ok((
            due(DUE_CAP, Some(t - config.outbox_fail_seconds - 1)),
            due(0, None),
        )),
        now,
        &config,
    );
    assert_eq!(c.state, State::Fail);
    assert!(c.detail.contains("10000+ digests"), "{}", c.detail);
    let c = judge_outbox(Err("database: gone".into()), now, &config);
    assert_eq!(c.state, State::Fail);
}

#[test]
fn an_old_ingest_fails_only_when_the_scheduler_ingests() {
    let config = config();
    let now = at("2026-12-07T12:00:00Z");
    let long_up = now - chrono::Duration::days(10);
    let hours_ago = |h: i64| Ok(Some((now - chrono::Duration::hours(h)).timestamp()));
    assert_eq!(
        judge_ingest(hours_ago(2), true, long_up, now, &config).state,
        State::Ok
    );
    assert_eq!(
        judge_ingest(hours_ago(31), true, long_up, now, &config).state,
        State::Warn
    );
    let c = judge_ingest(hours_ago(49), true, long_up, now, &config);
    assert_eq!(
        (c.state, c.age_seconds),
        (State::Fail, Some(49 * 3600)),
        "{}",
        c.detail
    );
    assert_eq!(
        judge_ingest(hours_ago(49), false, long_up, now, &config).state,
        State::Warn
    );
    // None yet: a warning while the instance is new, a failure once it has run two days.
    let c = judge_ingest(
        Ok(None),
        true,
        now - chrono::Duration::minutes(5),
        now,
        &config,
    );
    assert_eq!(c.state, State::Warn, "{}", c.detail);
    assert_eq!(
        judge_ingest(Ok(None), true, long_up, now, &config).state,
        State::Fail
    );
}

#[test]
fn migrations_say_what_to_do() {
    let current = MigrationState {
        embedded: 14,
        applied: 14,
        ..Default::default()
    };
    assert_eq!(migration_verdict(&current).0, State::Ok);
    let behind = MigrationState {
        applied: 12,
        pending: vec![13, 14],
        ..current.clone()
    };
    let (state, detail) = migration_verdict(&behind);
    assert_eq!(state, State::Fail);
    assert!(
        detail.contains("2 of 14") && detail.contains("paperboy migrate"),
        "{detail}"
    );
    let ahead = MigrationState {
        applied: 15,
        unknown: vec![20270101000001],
        ..current
    };
    let (state, detail) = migration_verdict(&ahead);
    assert_eq!(state, State::Fail);
    assert!(
        detail.contains("20270101000001") && detail.contains("newer"),
        "{detail}"
    );
}
