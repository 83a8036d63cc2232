//! The daily digest: for a date, match → compose → outbox; then deliver.

mod compose;
mod deliver;

pub use compose::{ComposeReport, compose, message_id};
pub use deliver::{DeliverReport, deliver, list_id};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
