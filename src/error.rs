//! The error every service returns to the web layer and the CLI: what went wrong, in the
//! words the reader or the operator is shown.

use crate::domain::FieldErrors;
use crate::mail::MailError;
use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("some fields are not valid")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("this subscription no longer exists")]
    Gone,
    /// A rating names a paper this service does not hold (any more).
    #[error("paper {0} is not stored here")]
    UnknownPaper(crate::domain::ArxivId),
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<crate::digest::DigestError> for ServiceError {
    fn from(e: crate::digest::DigestError) -> Self {
        match e {
            crate::digest::DigestError::Store(e) => Self::Store(e),
            crate::digest::DigestError::Render(e) => Self::Mail(e.into()),
        }
    }
}
