//! The daily digest: for a date, match → compose → outbox; then deliver.

mod compose;

pub use compose::{ComposeReport, compose, message_id};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
