//! What mail servers tell us about a message after it left: bounces and complaints, where
//! they came from, and the rule that turns them into suppressions.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Which outbox a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Digest,
    SubscriptionMail,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::SubscriptionMail => "subscription_mail",
        }
    }
}

/// One message sent: its outbox row and its reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageRef {
    pub kind: MessageKind,
    /// The row in `digests` or `subscription_mails`.
    pub id: i64,
    pub reader: i64,
}

/// What happened to a message at the far end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailEventKind {
    /// Refused for good (status 5.x.x): the address does not take mail.
    HardBounce,
    /// Given up on after temporary failures (status 4.x.x), or a bounce that says no more.
    SoftBounce,
    /// Still trying (a DSN with Action: delayed): noted, counts for nothing.
    Delayed,
    /// The reader marked it as spam (an ARF report or a provider's complaint event).
    Complaint,
}

impl MailEventKind {
    pub(crate) const ALL: [Self; 4] = [
        Self::HardBounce,
        Self::SoftBounce,
        Self::Delayed,
        Self::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardBounce => "hard_bounce",
            Self::SoftBounce => "soft_bounce",
            Self::Delayed => "delayed",
            Self::Complaint => "complaint",
        }
    }
}

/// Where an event was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// The relay refused the recipient while we were sending.
    Relay,
    /// A bounce or complaint mail through the built-in SMTP listener.
    Listener,
    /// A bounce or complaint mail read from the bounce mailbox (IMAP).
    Mailbox,
    /// Amazon SES through SNS.
    Ses,
    Postmark,
    Sendgrid,
    Mailgun,
}

impl EventSource {
    pub(crate) const ALL: [Self; 7] = [
        Self::Relay,
        Self::Listener,
        Self::Mailbox,
        Self::Ses,
        Self::Postmark,
        Self::Sendgrid,
        Self::Mailgun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Listener => "listener",
            Self::Mailbox => "mailbox",
            Self::Ses => "ses",
            Self::Postmark => "postmark",
            Self::Sendgrid => "sendgrid",
            Self::Mailgun => "mailgun",
        }
    }
}

macro_rules! str_enum {
    ($t:ty, $what:literal) => {
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        format!(
                            concat!("unknown ", $what, " {:?} (expected one of {})"),
                            s,
                            known.join(", ")
                        )
                    })
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
str_enum!(MailEventKind, "event kind");
str_enum!(EventSource, "event source");

/// An RFC 3463 enhanced status code, `class.subject.detail`, like `5.1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl StatusCode {
    /// Parse `5.1.1` (RFC 3463: each of subject and detail at most three digits). Text
    /// around it is not allowed: use [`StatusCode::find`] to look inside a sentence.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('.');
        let class = match parts.next()? {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let mut number = || {
            let p = parts.next()?;
            (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let (subject, detail) = (number()?, number()?);
        parts.next().is_none().then_some(Self {
            class,
            subject,
            detail,
        })
    }

    /// The first enhanced status code standing alone in `text` (as servers write it in
    /// diagnostics: `550 5.1.1 <x@example.org>: user unknown`).
    pub fn find(text: &str) -> Option<Self> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map(|w| w.trim_end_matches('.'))
            .find_map(Self::parse)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// When bounces and complaints stop a reader's mail (config `[bounces]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BouncePolicy {
    /// Soft bounces within `soft_window_days` that suppress.
    pub soft_limit: u32,
    pub soft_window_days: u32,
}

/// What an event does to its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stop all mail now, with this reason (shown to the operator).
    Suppress(String),
    /// Noted; nothing changes for the reader.
    Note,
}

impl BouncePolicy {
    /// The rule: a hard bounce or a complaint suppresses at once; soft bounces once
    /// `soft_limit` of them (this one included) fall within the window; a delay never.
    /// `soft_in_window` counts the reader's soft bounces in the window, this one included.
    pub(crate) fn verdict(
        &self,
        kind: MailEventKind,
        status: Option<StatusCode>,
        soft_in_window: u32,
    ) -> Verdict {
        let status = status.map(|s| format!(" ({s})")).unwrap_or_default();
        match kind {
            MailEventKind::HardBounce => Verdict::Suppress(format!("hard bounce{status}")),
            MailEventKind::Complaint => Verdict::Suppress("complaint: marked as spam".into()),
            MailEventKind::SoftBounce if soft_in_window >= self.soft_limit.max(1) => {
                Verdict::Suppress(format!(
                    "{soft_in_window} soft bounces within {} days{status}",
                    self.soft_window_days
                ))
            }
            MailEventKind::SoftBounce | MailEventKind::Delayed => Verdict::Note,
        }
    }

    /// The window's start for an event at `now` (unix seconds).
    pub(crate) fn window_start(&self, now: i64) -> i64 {
        now - i64::from(self.soft_window_days) * 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_codes_parse_alone_and_in_sentences() {
        let s = |c, su, d| StatusCode {
            class: c,
            subject: su,
            detail: d,
        };
        assert_eq!(StatusCode::parse("5.1.1"), Some(s(5, 1, 1)));
        assert_eq!(StatusCode::parse(" 4.7.650 "), Some(s(4, 7, 650)));
        for bad in [
            "", "5", "5.1", "3.1.1", "5.1.1.1", "5.1.1234", "5.x.1", "5..1",
        ] {
            assert_eq!(StatusCode::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            StatusCode::find("smtp; 550 5.1.1 <a@b.org>: Recipient address rejected"),
            Some(s(5, 1, 1))
        );
        assert_eq!(
            StatusCode::find("host said: 452 4.2.2 mailbox full."),
            Some(s(4, 2, 2))
        );
        assert_eq!(StatusCode::find("version 1.2.3 of nothing"), None);
        assert_eq!(StatusCode::find("no code at all"), None);
        assert_eq!(s(5, 7, 1).to_string(), "5.7.1");
    }

    #[test]
    fn the_policy_suppresses_hard_bounces_complaints_and_repeated_soft_bounces() {
        let p = BouncePolicy {
            soft_limit: 3,
            soft_window_days: 7,
        };
        let hard = StatusCode::parse("5.1.1");
        assert_eq!(
            p.verdict(MailEventKind::HardBounce, hard, 0),
            Verdict::Suppress("hard bounce (5.1.1)".into())
        );
        assert!(matches!(
            p.verdict(MailEventKind::Complaint, None, 0),
            Verdict::Suppress(_)
        ));
        let soft = StatusCode::parse("4.2.2");
        assert_eq!(p.verdict(MailEventKind::SoftBounce, soft, 2), Verdict::Note);
        assert_eq!(
            p.verdict(MailEventKind::SoftBounce, soft, 3),
            Verdict::Suppress("3 soft bounces within 7 days (4.2.2)".into())
        );
        assert_eq!(p.verdict(MailEventKind::Delayed, soft, 99), Verdict::Note);
        assert_eq!(p.window_start(86_400 * 10), 86_400 * 3);
    }

    #[test]
    fn names_round_trip() {
        for k in MailEventKind::ALL {
            assert_eq!(k.as_str().parse::<MailEventKind>(), Ok(k));
        }
        for s in EventSource::ALL {
            assert_eq!(s.as_str().parse::<EventSource>(), Ok(s));
        }
        assert!(
            "bounce"
                .parse::<MailEventKind>()
                .unwrap_err()
                .contains("hard_bounce")
        );
    }

    proptest! {
        #[test]
        fn finding_a_status_never_panics(s in "\\PC{0,300}") {
            if let Some(code) = StatusCode::find(&s) {
                prop_assert!(matches!(code.class, 2 | 4 | 5));
            }
        }
    }
}
