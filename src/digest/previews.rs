//! Previews: what a reader would get, answered from composers kept while what they were
//! built from is unchanged.

use chrono::NaiveDate;

use super::DigestError;
use super::composer::Composer;
use crate::context::Context;
use crate::domain::{DigestContent, Frequency, Subscriber};

/// A preview's upper bound on liked papers kept analysed between previews (a few KB each):
/// past it they are analysed again.
const PREVIEW_LIKED: usize = 1_000;

/// The composers previews were last answered from, one for daily readers and one for
/// weekly ones, each kept while what it was built from is unchanged (the store's
/// [`crate::store::ComposingStamp`]): building one analyses the day's papers and the stored
/// corpus, 750 ms for a day of 2,000 (`cargo bench --bench compose`), while matching one
/// reader against it takes well under a millisecond. Shared by the process (the form's
/// preview refreshes as a reader types); another instance's ingest changes the stamp.
#[derive(Default)]
pub(super) struct Previews(crate::store::ComposingCache<(NaiveDate, Span), Composer>);

/// The papers a composer matches readers against: a day's, or the week's to that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Span {
    Day,
    Week,
}

/// What a preview finds for a reader.
pub(super) enum Matched {
    /// No papers are stored for the day (or the week, for a weekly reader).
    NoPapers,
    /// Nothing matched, and the reader asked for nothing then.
    Nothing,
    Digest(DigestContent),
}

impl Previews {
    /// What `reader` would get for `day` as composing would choose it now.
    pub(super) async fn preview(
        &self,
        ctx: &Context,
        reader: &Subscriber,
        day: NaiveDate,
    ) -> Result<Matched, DigestError> {
        let (store, config, catalogue) = (&ctx.store, &*ctx.config, &*ctx.catalogue);
        let weekly = matches!(reader.prefs.frequency, Frequency::Weekly(_));
        let span = if weekly { Span::Week } else { Span::Day };
        let build = Composer::over(store, config, catalogue, day, weekly);
        let same_slot = |k: &(NaiveDate, Span)| k.1 == span;
        let Some(mut composer) = self.0.get(store, (day, span), same_slot, build).await? else {
            return Ok(Matched::NoPapers);
        };
        if composer.liked.len() > PREVIEW_LIKED {
            composer.liked.clear();
        }
        Ok(match composer.preview(store, reader).await? {
            Some(content) => Matched::Digest(content),
            None => Matched::Nothing,
        })
    }
}
