//! The record of what operators change: who did it, from where, and what.

use std::fmt;
use std::str::FromStr;

/// What [`Actor::kind`] says: where a change came from.
pub const ACTOR_KINDS: [&str; 3] = ["cli", "api", "console"];

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A command on the server: the system user who ran it, and the host.
    Cli { user: String, host: String },
    /// The admin API, with the bearer token: the client's address, where known.
    Api { client: Option<String> },
    /// Someone signed in to the console.
    Console {
        operator: String,
        client: Option<String>,
    },
}

impl Actor {
    /// The command line's actor: `$USER` (or `$LOGNAME`) on this host.
    pub fn cli_from_env(user: Option<String>, host: Option<String>) -> Self {
        Self::Cli {
            user: user
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| "unknown user".into()),
            host: host.unwrap_or_else(|| "this host".into()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cli { .. } => "cli",
            Self::Api { .. } => "api",
            Self::Console { .. } => "console",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Cli { user, .. } => user,
            Self::Api { .. } => "admin token",
            Self::Console { operator, .. } => operator,
        }
    }

    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Cli { host, .. } => Some(host),
            Self::Api { client } | Self::Console { client, .. } => client.as_deref(),
        }
    }
}

/// What an operator did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// Added a confirmed reader they vouch for.
    Add,
    /// Erased a reader (named by id only).
    Erase,
    /// Exported what is stored about one reader or all.
    Export,
    /// Imported a list.
    Import,
    /// Suppressed an address by hand.
    Suppress,
    /// Lifted a suppression.
    Lift,
    /// Unsubscribed a reader by hand.
    Unsubscribe,
    /// Asked an unsubscribed reader to confirm again (a confirmation mail).
    Resubscribe,
    /// Sent a pending reader their confirmation mail again.
    ResendConfirmation,
    /// Created an operator of the console, or changed their password.
    SetPassword,
    /// Signed in to the console.
    SignIn,
    SignOut,
}

impl AuditAction {
    pub const ALL: [Self; 12] = [
        Self::Add,
        Self::Erase,
        Self::Export,
        Self::Import,
        Self::Suppress,
        Self::Lift,
        Self::Unsubscribe,
        Self::Resubscribe,
        Self::ResendConfirmation,
        Self::SetPassword,
        Self::SignIn,
        Self::SignOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Erase => "erase",
            Self::Export => "export",
            Self::Import => "import",
            Self::Suppress => "suppress",
            Self::Lift => "lift",
            Self::Unsubscribe => "unsubscribe",
            Self::Resubscribe => "resubscribe",
            Self::ResendConfirmation => "resend_confirmation",
            Self::SetPassword => "set_password",
            Self::SignIn => "sign_in",
            Self::SignOut => "sign_out",
        }
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!("unknown action {s:?}: one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change, as recorded: what, to what, and a short before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub action: AuditAction,
    pub subject: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The longest before or after kept: a summary, not a copy of the data.
pub const AUDIT_TEXT_MAX: usize = 300;

impl AuditEntry {
    pub fn new(action: AuditAction, subject: impl Into<String>) -> Self {
        Self {
            action,
            subject: Some(subject.into()),
            before: None,
            after: None,
        }
    }

    pub fn change(mut self, before: impl Into<String>, after: impl Into<String>) -> Self {
        self.before = Some(short(before.into()));
        self.after = Some(short(after.into()));
        self
    }

    pub fn result(mut self, after: impl Into<String>) -> Self {
        self.after = Some(short(after.into()));
        self
    }
}

fn short(s: String) -> String {
    if s.chars().count() <= AUDIT_TEXT_MAX {
        return s;
    }
    let mut cut: String = s.chars().take(AUDIT_TEXT_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_texts_stay_short() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse(), Ok(a));
        }
        assert!(
            "delete"
                .parse::<AuditAction>()
                .unwrap_err()
                .contains("erase")
        );
        let e = AuditEntry::new(AuditAction::Import, "list.csv").result("x".repeat(1000));
        assert_eq!(e.after.unwrap().chars().count(), AUDIT_TEXT_MAX);
        let cli = Actor::cli_from_env(Some(String::new()), None);
        assert_eq!(cli.name(), "unknown user");
        assert_eq!(cli.kind(), "cli");
        assert_eq!(Actor::Api { client: None }.name(), "admin token");
    }
}
