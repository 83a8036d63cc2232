//! The dashboard's daily figures: counted from the raw tables by the daily job (every run,
//! after delivering, under the compose lock) and on demand (`paperboy maintenance stats`),
//! read by the console without counting anything. A day is counted again only while it is
//! recent: each refresh goes back to the day before the last one, so the figures of older
//! days stay when retention removes the rows they were counted from.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};

use crate::context::Context;
use crate::domain::Metric;
use crate::store::{DAY, JobRun, StoreError};

/// Days a chart shows, and how far back the first count ever goes.
pub const CHART_DAYS: i64 = 90;
/// The daily job counts again only when the last count is this old (or of another day): a
/// count scans the readers (1.1 s at a million on SQLite), and a schedule of every minute
/// or second would otherwise hold SQLite's one writer for it at every tick.
pub const COUNT_EVERY_SECONDS: i64 = 600;

#[derive(Clone)]
pub struct Stats {
    ctx: Context,
}

/// What one refresh counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshReport {
    /// The days counted again, first and last.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: usize,
}

/// The figures of the last [`CHART_DAYS`] days, ready to draw.
#[derive(Clone, Debug)]
pub struct Daily {
    /// Oldest first; every day of the window, counted or not.
    pub days: Vec<NaiveDate>,
    /// For each metric, one value per day (`None`: not counted that day).
    pub values: HashMap<Metric, Vec<Option<i64>>>,
    /// When the figures were counted (`None`: never yet).
    pub counted_at: Option<i64>,
}

impl Daily {
    /// The latest counted value of `metric`.
    pub fn latest(&self, metric: Metric) -> Option<i64> {
        self.values
            .get(&metric)
            .and_then(|v| v.iter().rev().find_map(|x| *x))
    }

    /// The sum of `metric` over the last `days` days of the window.
    pub fn total(&self, metric: Metric, days: usize) -> i64 {
        self.values.get(&metric).map_or(0, |v| {
            v.iter().rev().take(days).map(|x| x.unwrap_or(0)).sum()
        })
    }
}

fn day_of(index: i64) -> NaiveDate {
    DateTime::from_timestamp(index * DAY, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn index_of(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        / DAY
}

impl Stats {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Count again at `now` if the last count is [`COUNT_EVERY_SECONDS`] old or of an
    /// earlier day; `None` when it was recent enough.
    pub async fn refresh_if_due(&self, now: i64) -> Result<Option<RefreshReport>, StoreError> {
        if let Some(at) = self.ctx.store.stats_counted_at().await?
            && at.div_euclid(DAY) == now.div_euclid(DAY)
            && (0..COUNT_EVERY_SECONDS).contains(&(now - at))
        {
            return Ok(None);
        }
        self.refresh(now).await.map(Some)
    }

    /// Count the recent days again at `now` (unix seconds).
    pub async fn refresh(&self, now: i64) -> Result<RefreshReport, StoreError> {
        let store = &self.ctx.store;
        let today = now.div_euclid(DAY);
        let last = store.stats_counted_at().await?;
        // The day before the last count: a report dated late that day may have been written
        // after it (a DSN, a webhook replayed).
        let from = last
            .map_or(today - CHART_DAYS + 1, |t| t.div_euclid(DAY) - 1)
            .clamp(today - CHART_DAYS + 1, today);
        let mut counted: HashMap<(i64, Metric), i64> = HashMap::new();
        for (d, metric, n) in store.count_days(from * DAY).await? {
            if (from..=today).contains(&d) {
                *counted.entry((d, metric)).or_default() += n;
            }
        }
        let mut rows = Vec::new();
        for d in from..=today {
            let day = day_of(d).to_string();
            for metric in Metric::ALL.into_iter().filter(|m| !m.is_snapshot()) {
                rows.push((
                    day.clone(),
                    metric,
                    counted.get(&(d, metric)).copied().unwrap_or(0),
                ));
            }
        }
        // Readers by state: today's value, overwritten by each count of the day; the last
        // count of a day stays as its figure.
        let today_text = day_of(today).to_string();
        for (status, n) in store.counts_by_status().await? {
            let metric = Metric::STATES
                .into_iter()
                .find(|m| m.as_str() == status.as_str())
                .expect("a state metric for every reader state");
            rows.push((today_text.clone(), metric, n));
        }
        let (waiting, failed) = store.outbox_snapshot().await?;
        rows.push((today_text.clone(), Metric::OutboxWaiting, waiting));
        rows.push((today_text, Metric::OutboxFailed, failed));
        store.write_daily_stats(&rows, now).await?;
        Ok(RefreshReport {
            from: day_of(from),
            to: day_of(today),
            rows: rows.len(),
        })
    }

    /// The last [`CHART_DAYS`] days up to `today`.
    pub async fn daily(&self, today: NaiveDate) -> Result<Daily, StoreError> {
        let last = index_of(today);
        let first = last - CHART_DAYS + 1;
        let days: Vec<NaiveDate> = (first..=last).map(day_of).collect();
        let (rows, counted_at) = self.ctx.store.daily_stats(&days[0].to_string()).await?;
        let position: HashMap<String, usize> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (d.to_string(), i))
            .collect();
        let mut values: HashMap<Metric, Vec<Option<i64>>> = Metric::ALL
            .into_iter()
            .map(|m| (m, vec![None; days.len()]))
            .collect();
        for (day, metric, n) in rows {
            if let (Some(i), Some(v)) = (position.get(&day), values.get_mut(&metric)) {
                v[*i] = Some(n);
            }
        }
        Ok(Daily {
            days,
            values,
            counted_at,
        })
    }

    pub(crate) async fn record_run(&self, run: &JobRun) -> Result<(), StoreError> {
        self.ctx.store.record_job_run(run).await
    }

    /// The latest runs of the daily job, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<JobRun>, StoreError> {
        self.ctx.store.recent_job_runs(limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_their_indexes_agree() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(day_of(index_of(d)), d);
        assert_eq!(index_of(d), 1_796_601_600 / DAY);
    }
}
