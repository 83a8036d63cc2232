//! The error every service returns to the web layer and the CLI: what went wrong, in the
//! words the reader or the operator is shown.

use crate::domain::{EmailAddress, FieldErrors};
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
    /// An operator (or an import) tried to add back an address erased at its owner's request.
    #[error(
        "{email} was erased at its owner's request ({when}) and is not added back by an operator \
         or an import; its owner can sign up again through the form, and confirming by the link \
         in that mail is their consent"
    )]
    Erased { email: EmailAddress, when: String },
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
