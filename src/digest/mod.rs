//! The daily digest: for a date, match → compose → outbox; then deliver.

mod compose;
mod deliver;

pub use compose::{ComposeReport, Composer, compose, message_id};
pub use deliver::{DeliverReport, deliver, list_id};

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::domain::{ArxivId, DigestContent, DigestKind, Subscriber};
use crate::mail::{DigestPaper, DigestView};
use crate::store::StoreError;
use crate::subscriptions::Subscriptions;

/// What a reader's digest shows, from what the outbox holds, for the "view in browser" page
/// and `paperboy preview`; delivery, which reads each paper once per run, uses [`view_of`].
pub async fn view(
    subs: &Subscriptions,
    reader: &Subscriber,
    day: NaiveDate,
    content: &DigestContent,
) -> Result<DigestView, StoreError> {
    let top = subs
        .store
        .papers(Some(day), 1)
        .await?
        .pop()
        .map(|t| DigestPaper::of(&t.paper));
    let ids: Vec<ArxivId> = content.entries.iter().map(|e| e.paper.clone()).collect();
    let papers: HashMap<ArxivId, DigestPaper> = subs
        .store
        .papers_by_ids(&ids)
        .await?
        .into_iter()
        .map(|p| (p.paper.id.clone(), DigestPaper::of(&p.paper)))
        .collect();
    Ok(view_of(subs, reader, day, content, top.as_ref(), &papers))
}

/// [`view`] with the papers at hand, as [`DigestPaper::of`] makes them. `top` is the day's
/// most upvoted paper, shown when the reader's own list is thin.
pub fn view_of(
    subs: &Subscriptions,
    reader: &Subscriber,
    day: NaiveDate,
    content: &DigestContent,
    top: Option<&DigestPaper>,
    by_id: &HashMap<ArxivId, DigestPaper>,
) -> DigestView {
    let token = subs.manage_token(reader);
    let base = &subs.config.base_url;
    DigestView {
        date: day,
        papers: content
            .entries
            .iter()
            .filter_map(|e| {
                let p = by_id.get(&e.paper)?.clone().with_reasons(&e.reasons);
                Some(match e.version {
                    Some(v) if e.new_version => p.with_new_version(v),
                    _ => p,
                })
            })
            .collect(),
        trending_instead: content.kind == DigestKind::Trending,
        weekly: content.weekly,
        top_trending: top.cloned(),
        preferences_url: format!("{base}/preferences/{token}"),
        unsubscribe_url: subs.unsubscribe_url(reader),
        browser_url: format!("{base}/digests/{token}/{day}"),
        operator_name: subs.config.operator.name.clone(),
        operator_address: subs.config.operator.postal_address.clone(),
    }
}

/// The host of the service's public URL, for `Message-ID` and `List-Id`.
fn host_of(base_url: &str) -> &str {
    base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or("paperboy.invalid")
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
