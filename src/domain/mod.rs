//! Plain types and rules: no I/O. Everything here is parsed once at the edge and
//! carried typed through the rest of the crate.

mod audit;
mod digest;
mod email;
mod erased;
mod import;
mod interests;
mod mail_event;
mod paper;
mod rating;
mod stats;
mod subscriber;
mod topic;

pub use audit::{ACTOR_KINDS, AUDIT_TEXT_MAX, Actor, AuditAction, AuditEntry};
pub use digest::{DigestContent, DigestEntry, DigestKind, DigestStatus, EntryReasons, Reason};
pub use email::{EmailAddress, EmailError};
pub use erased::{AddressHash, ErasureKey};
pub use import::{
    Column, ImportMode, ListedStatus, Outcome as ImportOutcome, decide as decide_import,
    looks_like_formula, parse_consent_time, spreadsheet_safe, unquote_cell,
};
pub use interests::{
    DEFAULT_TRENDING, Interest, Interests, InterestsError, InterestsForm, Keyword,
};
pub use mail_event::{
    BouncePolicy, EventSource, MailEventKind, MessageKind, MessageRef, StatusCode, Verdict,
};
pub use paper::{AnnounceType, ArxivId, Paper, PaperError, PaperSource, clean_text};
pub use rating::{PaperRating, Rating};
pub use stats::{
    COMPLAINT_AIM_PERCENT, COMPLAINT_LIMIT_PERCENT, Family, Metric, RateStanding, rate_percent,
};
pub use subscriber::{
    DeliveryPrefs, FieldErrors, Frequency, MAX_PAPERS_PER_DIGEST, NewSubscription, PrefsError,
    ReaderAction, Subscriber, SubscriberStatus, SubscriptionInput, SubscriptionMailKind,
    parse_profile, weekday_name,
};
pub use topic::{Topic, TopicCatalogue, TopicError, TopicId};

/// True when `s` holds a character that must never reach a mail header or a log line
/// unescaped: CR, LF and the other C0/C1 controls (tab excepted).
pub(crate) fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}
