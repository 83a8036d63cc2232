//! The daily digest: for a date, match → compose → outbox; delivered by the outbox
//! worker ([`crate::outbox`]); previewed and viewed in the browser from here.

mod compose;
mod composer;
mod deliver;
mod previews;

pub use compose::{ComposeReport, compose};

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::clock;
use crate::context::Context;
use crate::domain::{ArxivId, DigestContent, DigestKind, Rating, Subscriber};
use crate::mail::{DigestPaper, DigestView, Headers, ListHeaders, RenderError, RenderedMail};
use crate::outbox::{DeliverReport, Outbox};
use crate::store::{ComposeLock, StoreError};

/// Digests as a service: compose a day into the outbox, deliver what is due, preview and
/// show what a reader gets. Cheap to clone; holds the day's composers previews are answered
/// from.
#[derive(Clone)]
pub struct Digests {
    ctx: Context,
    outbox: Outbox,
    previews: Arc<previews::Previews>,
}

impl Digests {
    pub fn new(ctx: Context, outbox: Outbox) -> Self {
        Self {
            ctx,
            outbox,
            previews: Arc::default(),
        }
    }

    /// Match every due reader against `day`'s papers and write their digests to the
    /// outbox; `at` is when the scheduler's run is (`None`: everyone, as a hand-run does).
    pub async fn compose(
        &self,
        day: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<ComposeReport, DigestError> {
        compose(&self.ctx, day, at).await
    }

    /// The lock one instance holds while it composes (and ingests) a day; `None` while
    /// another holds it.
    pub async fn try_compose_lock(&self) -> Result<Option<ComposeLock>, StoreError> {
        self.ctx.store.try_compose_lock().await
    }

    /// Deliver every digest that is due now.
    pub async fn deliver(&self) -> Result<DeliverReport, StoreError> {
        self.outbox
            .deliver(deliver::Outgoing::new(self.ctx.clone()))
            .await
    }

    /// The digest a reader got for `day` from the outbox, or as it would be composed now;
    /// nothing is sent or stored.
    pub async fn preview(
        &self,
        reader: &Subscriber,
        day: NaiveDate,
    ) -> Result<Preview, DigestError> {
        let ctx = &self.ctx;
        let content = match ctx.store.digest_for(reader.id, day).await? {
            Some(d) => Some(d.content),
            None => match self.previews.preview(ctx, reader, day).await? {
                previews::Matched::Digest(content) => Some(content),
                previews::Matched::Nothing => None,
                previews::Matched::NoPapers => return Ok(Preview::NoPapers),
            },
        };
        Ok(match content {
            Some(content) => Preview::Digest(Box::new(view(ctx, reader, day, &content).await?)),
            None => Preview::Nothing,
        })
    }

    /// What a reader who typed `new` into the form would have got from the latest stored
    /// day, without storing anything: a reader that exists nowhere (id 0, nothing sent to
    /// it, no ratings), matched as composing matches. `None` when no papers are stored.
    pub async fn preview_interests(
        &self,
        new: &crate::domain::NewSubscription,
    ) -> Result<Option<(NaiveDate, Preview)>, DigestError> {
        let Some(day) = self.ctx.store.latest_featured_day().await? else {
            return Ok(None);
        };
        let reader = new.unsaved(clock::timestamp());
        Ok(Some((day, self.preview(&reader, day).await?)))
    }

    /// A digest as the message that goes out (`paperboy preview --format eml`).
    pub fn message(
        &self,
        reader: &Subscriber,
        view: &DigestView,
        message_id: &str,
    ) -> Result<lettre::Message, RenderError> {
        message(&self.ctx, reader, view, message_id)
    }

    /// The digest a reader was sent for `day`, rendered as the mail showed it (the "view in
    /// browser" page); `None` if they were sent none that day.
    pub async fn sent_digest(
        &self,
        reader: &Subscriber,
        day: NaiveDate,
    ) -> Result<Option<RenderedMail>, DigestError> {
        let ctx = &self.ctx;
        let Some(digest) = ctx.store.digest_for(reader.id, day).await? else {
            return Ok(None);
        };
        let view = view(ctx, reader, day, &digest.content).await?;
        Ok(Some(ctx.mailer.render_digest(&view)?))
    }
}

/// What a reader's digest shows, from what the outbox holds, for the "view in browser" page
/// and `paperboy preview`; delivery, which reads each paper once per run, uses [`view_of`].
async fn view(
    ctx: &Context,
    reader: &Subscriber,
    day: NaiveDate,
    content: &DigestContent,
) -> Result<DigestView, StoreError> {
    let top = top_of_day(ctx, day).await?;
    let ids: Vec<ArxivId> = content.entries.iter().map(|e| e.paper.clone()).collect();
    let papers: HashMap<ArxivId, DigestPaper> = ctx
        .store
        .papers_by_ids(&ids)
        .await?
        .into_iter()
        .map(|p| (p.paper.id.clone(), DigestPaper::of(&p.paper)))
        .collect();
    Ok(view_of(ctx, reader, day, content, top.as_ref(), &papers))
}

/// The day's most upvoted paper, shown when a reader's own list is thin.
pub(crate) async fn top_of_day(
    ctx: &Context,
    day: NaiveDate,
) -> Result<Option<DigestPaper>, StoreError> {
    Ok(ctx
        .store
        .papers(Some(day), 1)
        .await?
        .pop()
        .map(|t| DigestPaper::of(&t.paper)))
}

/// [`view`] with the papers at hand, as [`DigestPaper::of`] makes them. `top` is the day's
/// most upvoted paper, shown when the reader's own list is thin.
fn view_of(
    ctx: &Context,
    reader: &Subscriber,
    day: NaiveDate,
    content: &DigestContent,
    top: Option<&DigestPaper>,
    by_id: &HashMap<ArxivId, DigestPaper>,
) -> DigestView {
    let links = &ctx.links;
    let now = clock::timestamp();
    let token = links.manage_token(reader, now);
    DigestView {
        date: day,
        papers: content
            .entries
            .iter()
            .filter_map(|e| {
                let rate = links.rate_token(reader, &e.paper, now);
                let p = by_id
                    .get(&e.paper)?
                    .clone()
                    .with_reasons(&e.reasons)
                    .with_rating_links(
                        links.rate_url(&rate, &e.paper, Rating::More),
                        links.rate_url(&rate, &e.paper, Rating::Fewer),
                    );
                Some(match e.version {
                    Some(v) if e.new_version => p.with_new_version(v),
                    _ => p,
                })
            })
            .collect(),
        trending_instead: content.kind == DigestKind::Trending,
        weekly: content.weekly,
        top_trending: top.cloned(),
        preferences_url: links.preferences_url(&token),
        unsubscribe_url: links.unsubscribe_url(reader, now),
        browser_url: links.browser_url(&token, day),
        operator_name: ctx.config.operator.name.clone(),
        operator_address: ctx.config.operator.postal_address.clone(),
    }
}

/// What `paperboy preview` shows for a reader and a day.
pub enum Preview {
    /// No papers are stored for the day (or the week, for a weekly reader).
    NoPapers,
    /// Nothing matched, and the reader asked for nothing then.
    Nothing,
    Digest(Box<DigestView>),
}

/// A digest as the message that goes out: its rendered parts, and the reader's list
/// headers and links. Delivery and `paperboy preview --format eml` both build it here.
fn message(
    ctx: &Context,
    reader: &Subscriber,
    view: &DigestView,
    message_id: &str,
) -> Result<lettre::Message, RenderError> {
    let mail = ctx.mailer.render_digest(view)?;
    let headers = Headers {
        message_id: Some(message_id),
        list: Some(ListHeaders {
            unsubscribe_url: &view.unsubscribe_url,
            list_id: ctx.links.list_id(),
        }),
    };
    ctx.mailer.build(&reader.email, mail, &headers)
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}
