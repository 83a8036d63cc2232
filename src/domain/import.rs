//! Bringing an existing list in: what an import asks of each address, and what it does to an
//! address already here. The one rule that matters most: an import never makes a
//! suppressed, unsubscribed or erased address active again (keila's bug #259 was an import
//! that reset statuses).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::SubscriberStatus;

/// What the file is, as the operator says: it decides what each new address becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImportMode {
    /// Readers who consented elsewhere (each row says when): active at once, nobody mailed.
    Confirmed,
    /// Addresses to ask: each new one is pending and gets a confirmation mail.
    OptIn,
    /// A list of addresses that left: kept as unsubscribed, never mailed.
    Unsubscribed,
    /// A do-not-mail list (bounced, complained, blocklisted): kept as suppressed.
    Suppressed,
}

impl ImportMode {
    pub const ALL: [Self; 4] = [
        Self::Confirmed,
        Self::OptIn,
        Self::Unsubscribed,
        Self::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::OptIn => "opt-in",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }

    /// The status a row asks for: the mode's, unless the file says the address left or is
    /// blocked elsewhere (a `status` column), which always wins. An address the file lists
    /// as not yet confirmed cannot come in as confirmed.
    pub fn target(self, listed: Option<ListedStatus>) -> Result<SubscriberStatus, String> {
        use SubscriberStatus as S;
        let by_mode = match self {
            Self::Confirmed => S::Active,
            Self::OptIn => S::Pending,
            Self::Unsubscribed => S::Unsubscribed,
            Self::Suppressed => S::Suppressed,
        };
        Ok(match (listed, by_mode) {
            (Some(ListedStatus::Suppressed), _) | (_, S::Suppressed) => S::Suppressed,
            (Some(ListedStatus::Unsubscribed), _) => S::Unsubscribed,
            (Some(ListedStatus::Unconfirmed), S::Active) => {
                return Err(
                    "the file says this address never confirmed: import it with --mode opt-in"
                        .into(),
                );
            }
            (_, target) => target,
        })
    }
}

impl FromStr for ImportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown import mode {s:?}: confirmed, opt-in, unsubscribed or suppressed")
            })
    }
}

impl fmt::Display for ImportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `status` column says of an address where the file comes from, in the words of
/// paperboy's own export, listmonk's (`enabled`, `disabled`, `blocklisted`) and Mailchimp's
/// (`subscribed`, `unsubscribed`, `cleaned`, `pending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListedStatus {
    Subscribed,
    Unconfirmed,
    Unsubscribed,
    Suppressed,
}

impl FromStr for ListedStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "active" | "subscribed" | "confirmed" | "enabled" => Self::Subscribed,
            "pending" | "unconfirmed" => Self::Unconfirmed,
            "unsubscribed" | "disabled" => Self::Unsubscribed,
            "suppressed" | "blocklisted" | "blacklisted" | "blocked" | "cleaned" | "bounced"
            | "complained" => Self::Suppressed,
            other => {
                return Err(format!(
                    "unknown status {other:?}: active, pending, unsubscribed or suppressed \
                     (listmonk's and Mailchimp's words are read too)"
                ));
            }
        })
    }
}

/// What importing one row did, or would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A new address, stored with this status (pending: a confirmation mail queued).
    Created(SubscriberStatus),
    /// An address here already, moved from one status to another.
    Changed {
        from: SubscriberStatus,
        to: SubscriberStatus,
    },
    /// An address here already, left as it is (its status given).
    Unchanged(SubscriberStatus),
    /// Erased at its owner's request: refused (only its owner can sign up again).
    Erased,
}

impl Outcome {
    /// What `decide` decided, in the report's words.
    pub fn label(self) -> String {
        match self {
            Self::Created(SubscriberStatus::Pending) => {
                "new, pending: confirmation mail queued".into()
            }
            Self::Created(s) => format!("new, {s}"),
            Self::Changed { from, to } => format!("{to} (was {from})"),
            Self::Unchanged(s) => format!("already here, {s}: left as it is"),
            Self::Erased => "refused: erased at its owner's request".into(),
        }
    }
}

/// What importing a row that asks for `target` does to an address that is `existing` here
/// (`None`: not here) and was `erased` or not. Only moves that keep a reader from being
/// mailed against their will are made:
/// - a new address becomes `target`, unless it was erased;
/// - an import may stop mail (unsubscribe, suppress) to an address here, and may confirm a
///   pending one when the operator vouches for its consent;
/// - it never makes an unsubscribed, suppressed or erased address active or pending, and
///   never changes an active reader's interests (what the reader chose stays theirs).
pub fn decide(
    target: SubscriberStatus,
    existing: Option<SubscriberStatus>,
    erased: bool,
) -> Outcome {
    use SubscriberStatus as S;
    let mails = matches!(target, S::Active | S::Pending);
    if erased && (mails || existing.is_none()) {
        return Outcome::Erased;
    }
    let Some(from) = existing else {
        return Outcome::Created(target);
    };
    let to = match (from, target) {
        (S::Suppressed, _) => S::Suppressed,
        (S::Unsubscribed, S::Suppressed) => S::Suppressed,
        (S::Unsubscribed, _) => S::Unsubscribed,
        (S::Pending, S::Active) => S::Active,
        (S::Pending | S::Active, S::Unsubscribed | S::Suppressed) => target,
        (from, _) => from,
    };
    if to == from {
        Outcome::Unchanged(from)
    } else {
        Outcome::Changed { from, to }
    }
}

/// A column an import reads, by its header; `None` for one it ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Email,
    Topics,
    Keywords,
    Authors,
    Categories,
    Liked,
    MutedAuthors,
    Trending,
    SendWhenEmpty,
    Frequency,
    Weekday,
    DeliveryHour,
    Timezone,
    PapersPerDigest,
    Status,
    ConsentedAt,
    /// Mailchimp's `CONFIRM_TIME` (and paperboy's `confirmed_at`): preferred over the time of
    /// the sign-up when both are given.
    ConfirmedAt,
    /// listmonk's `created_at` (it keeps no time of consent): taken when nothing better is.
    CreatedAt,
    ConsentIp,
    /// Mailchimp's `CONFIRM_IP`: preferred over its `OPTIN_IP`.
    ConfirmIp,
    ConsentSource,
}

impl Column {
    /// The column's name as the import's report shows it.
    pub fn name(self) -> &'static str {
        match self {
            Column::Email => "email",
            Column::Topics => "topics",
            Column::Keywords => "keywords",
            Column::Authors => "authors",
            Column::Categories => "categories",
            Column::Liked => "liked",
            Column::MutedAuthors => "muted_authors",
            Column::Trending => "trending",
            Column::SendWhenEmpty => "send_when_empty",
            Column::Frequency => "frequency",
            Column::Weekday => "weekday",
            Column::DeliveryHour => "delivery_hour",
            Column::Timezone => "timezone",
            Column::PapersPerDigest => "papers_per_digest",
            Column::Status => "status",
            Column::ConsentedAt => "consented_at",
            Column::ConfirmedAt => "consented_at (confirmation)",
            Column::CreatedAt => "consented_at",
            Column::ConsentIp => "consent_ip",
            Column::ConfirmIp => "consent_ip (confirmation)",
            Column::ConsentSource => "consent_source",
        }
    }

    /// The column a header names: paperboy's names (those of `subscribers export --format
    /// csv` too), listmonk's subscriber export (`email`, `status`, `created_at` as the time
    /// of consent) and Mailchimp's audience export (`Email Address`, `OPTIN_TIME`,
    /// `CONFIRM_TIME`, `OPTIN_IP`, `CONFIRM_IP`, `TIMEZONE`). Case and spaces do not matter.
    pub fn from_header(header: &str) -> Option<Self> {
        let h: String = header
            .trim()
            .trim_start_matches('\u{feff}')
            .to_ascii_lowercase()
            .replace([' ', '-'], "_");
        Some(match h.as_str() {
            "email" | "email_address" | "e_mail" | "e_mail_address" => Self::Email,
            "topics" => Self::Topics,
            "keywords" => Self::Keywords,
            "authors" => Self::Authors,
            "categories" => Self::Categories,
            "liked" => Self::Liked,
            "muted_authors" => Self::MutedAuthors,
            "trending" => Self::Trending,
            "send_when_empty" => Self::SendWhenEmpty,
            "frequency" => Self::Frequency,
            "weekday" => Self::Weekday,
            "delivery_hour" => Self::DeliveryHour,
            "timezone" | "time_zone" => Self::Timezone,
            "papers_per_digest" => Self::PapersPerDigest,
            "status" => Self::Status,
            "consented_at" | "consent_at" | "optin_time" => Self::ConsentedAt,
            "created_at" => Self::CreatedAt,
            "confirm_time" | "confirmed_at" => Self::ConfirmedAt,
            "consent_ip" | "optin_ip" => Self::ConsentIp,
            "confirm_ip" => Self::ConfirmIp,
            "consent_source" => Self::ConsentSource,
            _ => return None,
        })
    }
}

/// A time of consent as exports write it: RFC 3339, `YYYY-MM-DD HH:MM:SS[.frac][±zone]`
/// (UTC when no zone, as Mailchimp writes it), a bare date (midnight UTC), or unix seconds
/// (paperboy's own export). Refused: a time after `now` or before 1990.
pub fn parse_consent_time(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    let t = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        Some(t.timestamp())
    } else if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        Some(t.timestamp())
    } else if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        Some(t.and_utc().timestamp())
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp())
    } else {
        None
    };
    let t = t.ok_or_else(|| {
        format!("{s:?} is not a time: write it as 2026-05-08T09:30:00Z, 2026-05-08 09:30:00 or 2026-05-08")
    })?;
    // 1990-01-01: older consent is no consent anyone can show.
    if t < 631_152_000 {
        return Err(format!("{s:?} is before 1990"));
    }
    if t > now + 86_400 {
        return Err(format!("{s:?} is in the future"));
    }
    Ok(t)
}

/// Does this cell start like a spreadsheet formula (`=`, `+`, `@`, a tab or a carriage
/// return)? Such a cell in an imported file is refused: it is either an attack on whoever
/// opens the file next or a spreadsheet's mangling. A leading `-` is allowed: it excludes a
/// keyword.
pub fn looks_like_formula(cell: &str) -> bool {
    matches!(
        cell.trim_start_matches(' ').chars().next(),
        Some('=' | '+' | '@' | '\t' | '\r')
    )
}

/// A cell made safe to open in a spreadsheet: prefixed with `'` when it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return (OWASP's advice on CSV injection).
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    ) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell as it was before [`spreadsheet_safe`]: a leading `'` before one of the
/// characters it guards is dropped, so that an export imports back as it was.
pub fn unquote_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if matches!(
                rest.chars().next(),
                Some('=' | '+' | '-' | '@' | '\t' | '\r')
            ) =>
        {
            rest
        }
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriberStatus as S;
    use proptest::prelude::*;

    #[test]
    fn modes_and_listed_statuses_pick_the_target() {
        assert_eq!(ImportMode::Confirmed.target(None), Ok(S::Active));
        assert_eq!(ImportMode::OptIn.target(None), Ok(S::Pending));
        // What the file says of an address that left or is blocked wins over the mode.
        for mode in ImportMode::ALL {
            assert_eq!(
                mode.target(Some(ListedStatus::Suppressed)),
                Ok(S::Suppressed)
            );
        }
        assert_eq!(
            ImportMode::Confirmed.target(Some(ListedStatus::Unsubscribed)),
            Ok(S::Unsubscribed)
        );
        assert_eq!(
            ImportMode::Suppressed.target(Some(ListedStatus::Subscribed)),
            Ok(S::Suppressed)
        );
        assert!(
            ImportMode::Confirmed
                .target(Some(ListedStatus::Unconfirmed))
                .unwrap_err()
                .contains("--mode opt-in")
        );
        assert_eq!(
            ImportMode::OptIn.target(Some(ListedStatus::Unconfirmed)),
            Ok(S::Pending)
        );
        for (word, status) in [
            ("enabled", ListedStatus::Subscribed),
            ("Blocklisted", ListedStatus::Suppressed),
            ("cleaned", ListedStatus::Suppressed),
            ("disabled", ListedStatus::Unsubscribed),
            (" unconfirmed ", ListedStatus::Unconfirmed),
        ] {
            assert_eq!(word.parse(), Ok(status), "{word}");
        }
        assert!("maybe".parse::<ListedStatus>().is_err());
        assert_eq!("opt-in".parse(), Ok(ImportMode::OptIn));
        assert!(
            "optin"
                .parse::<ImportMode>()
                .unwrap_err()
                .contains("opt-in")
        );
    }

    #[test]
    fn the_table_of_what_an_import_does() {
        let all = [S::Pending, S::Active, S::Unsubscribed, S::Suppressed];
        assert_eq!(decide(S::Active, None, false), Outcome::Created(S::Active));
        assert_eq!(
            decide(S::Pending, None, false),
            Outcome::Created(S::Pending)
        );
        assert_eq!(
            decide(S::Active, Some(S::Pending), false),
            Outcome::Changed {
                from: S::Pending,
                to: S::Active
            }
        );
        assert_eq!(
            decide(S::Pending, Some(S::Pending), false),
            Outcome::Unchanged(S::Pending)
        );
        assert_eq!(
            decide(S::Suppressed, Some(S::Unsubscribed), false),
            Outcome::Changed {
                from: S::Unsubscribed,
                to: S::Suppressed
            }
        );
        assert_eq!(
            decide(S::Unsubscribed, Some(S::Active), false),
            Outcome::Changed {
                from: S::Active,
                to: S::Unsubscribed
            }
        );
        // An erased address is refused for mail and not stored again; one that signed up
        // again (pending, its record still kept) may still be stopped.
        assert_eq!(decide(S::Active, None, true), Outcome::Erased);
        assert_eq!(decide(S::Suppressed, None, true), Outcome::Erased);
        assert_eq!(decide(S::Active, Some(S::Pending), true), Outcome::Erased);
        assert_eq!(
            decide(S::Suppressed, Some(S::Pending), true),
            Outcome::Changed {
                from: S::Pending,
                to: S::Suppressed
            }
        );
        for target in all {
            for from in all {
                for erased in [false, true] {
                    let out = decide(target, Some(from), erased);
                    let to = match out {
                        Outcome::Changed { to, .. } => to,
                        Outcome::Unchanged(s) => s,
                        Outcome::Erased => continue,
                        Outcome::Created(_) => panic!("{out:?} for an address that is here"),
                    };
                    // Never back to mail from a stopped address; never active from
                    // anything but a pending one.
                    if matches!(from, S::Unsubscribed | S::Suppressed) {
                        assert!(matches!(to, S::Unsubscribed | S::Suppressed), "{out:?}");
                    }
                    if to == S::Active {
                        assert!(matches!(from, S::Active | S::Pending), "{out:?}");
                    }
                    if from == S::Suppressed {
                        assert_eq!(to, S::Suppressed);
                    }
                }
            }
        }
    }

    #[test]
    fn headers_of_paperboy_listmonk_and_mailchimp() {
        for (h, c) in [
            ("email", Column::Email),
            ("\u{feff}Email Address", Column::Email),
            ("OPTIN_TIME", Column::ConsentedAt),
            ("CONFIRM_TIME", Column::ConfirmedAt),
            ("created_at", Column::CreatedAt),
            ("consent_at", Column::ConsentedAt),
            ("CONFIRM_IP", Column::ConfirmIp),
            ("OPTIN_IP", Column::ConsentIp),
            ("TIMEZONE", Column::Timezone),
            (" Papers Per Digest ", Column::PapersPerDigest),
        ] {
            assert_eq!(Column::from_header(h), Some(c), "{h}");
        }
        for h in ["name", "First Name", "attributes", "uuid", "TAGS", ""] {
            assert_eq!(Column::from_header(h), None, "{h}");
        }
    }

    #[test]
    fn consent_times_as_exports_write_them() {
        let now = 1_800_000_000;
        for (s, t) in [
            ("2026-05-08T09:30:00Z", 1_778_232_600),
            ("2026-05-08 09:30:00", 1_778_232_600),
            ("2026-05-08 11:30:00.213946+02:00", 1_778_232_600),
            ("2026-05-08", 1_778_198_400),
            ("1778232600", 1_778_232_600),
        ] {
            assert_eq!(parse_consent_time(s, now), Ok(t), "{s}");
        }
        assert!(
            parse_consent_time("yesterday", now)
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            parse_consent_time("2099-01-01", now)
                .unwrap_err()
                .contains("future")
        );
        assert!(
            parse_consent_time("1970-01-02", now)
                .unwrap_err()
                .contains("1990")
        );
        assert!(parse_consent_time("", now).is_err());
    }

    #[test]
    fn formulas_are_spotted_and_exports_quote_them() {
        for cell in ["=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "\tx", "  =x"] {
            assert!(looks_like_formula(cell), "{cell:?}");
        }
        for cell in ["-survey", "graph", "", "a=b"] {
            assert!(!looks_like_formula(cell), "{cell:?}");
        }
        assert_eq!(spreadsheet_safe("=1+2"), "'=1+2");
        assert_eq!(spreadsheet_safe("-survey"), "'-survey");
        assert_eq!(spreadsheet_safe("graph"), "graph");
        assert_eq!(unquote_cell("'-survey"), "-survey");
        assert_eq!(unquote_cell("'quoted'"), "'quoted'");
    }

    proptest! {
        #[test]
        fn a_safe_cell_unquotes_to_itself_and_never_starts_a_formula(cell in "\\PC{0,12}") {
            // A cell that itself starts with the quote before such a character loses it:
            // the ambiguity every CSV tool has.
            prop_assume!(!cell.starts_with('\''));
            let safe = spreadsheet_safe(&cell);
            prop_assert!(!matches!(safe.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r')));
            prop_assert_eq!(unquote_cell(&safe), cell.as_str());
        }
    }
}
