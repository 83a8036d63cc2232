//! Operators of the console: their passwords (argon2id, set from the command line), signing
//! in (rate-limited per client), and sessions kept in the database so that every instance
//! knows them. The admin token signs in too, as the operator "admin token".

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::audit::Audit;
use crate::clock;
use crate::context::Context;
use crate::domain::{Actor, AuditAction, AuditEntry};
use crate::store::StoreError;

/// How long a console session lasts: a working day. Signing in again is cheap; a cookie
/// left on a shared machine should not open the console tomorrow.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// The shortest password taken (NIST SP 800-63B asks at least 8; an operator's account can
/// erase every reader).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Sign-in attempts a client may make a minute (the first five at once), right or wrong.
const ATTEMPTS_PER_MINUTE: u32 = 5;
/// The operator name the admin token signs in as.
pub const ADMIN_TOKEN_OPERATOR: &str = "admin token";

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(
        "an operator name is 1 to 64 letters, digits, '.', '_', '-' or '@' (and not \"admin token\")"
    )]
    BadName,
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters (and at most 1,024)")]
    WeakPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong name or password")]
    Wrong,
    #[error("too many sign-in attempts from your address: wait {0} s")]
    TooMany(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A session just started: the operator, and the token for the cookie (never stored).
pub struct SignedIn {
    pub operator: String,
    pub token: String,
}

#[derive(Clone)]
pub struct Operators {
    ctx: Context,
    audit: Audit,
    limiter: Arc<DefaultKeyedRateLimiter<Option<IpAddr>>>,
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name != ADMIN_TOKEN_OPERATOR
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

/// A hash to check a password against when the name is unknown, so that an unknown name
/// takes as long to refuse as a wrong password (no telling which names exist).
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"no such operator", &SaltString::generate(&mut OsRng))
        .expect("argon2 hashes")
        .to_string()
});

impl Operators {
    pub fn new(ctx: Context, audit: Audit) -> Self {
        let per_minute = NonZeroU32::new(ATTEMPTS_PER_MINUTE).expect("not zero");
        Self {
            ctx,
            audit,
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
        }
    }

    /// Set an operator's password (creating the operator). Returns whether they are new.
    pub async fn set_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<bool, OperatorError> {
        if !valid_name(name) {
            return Err(OperatorError::BadName);
        }
        let chars = password.chars().count();
        if !(MIN_PASSWORD_CHARS..=1024).contains(&chars) {
            return Err(OperatorError::WeakPassword);
        }
        let password = password.to_string();
        // argon2id with the crate's defaults (OWASP's first choice: 19 MiB, 2 passes): tens
        // of ms of CPU, off the async threads.
        let hash = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .expect("argon2 hashes")
                .to_string()
        })
        .await
        .expect("hashing does not panic");
        let store = &self.ctx.store;
        let new = store.operator_password(name).await?.is_none();
        store
            .set_operator_password(name, &hash, clock::timestamp())
            .await?;
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::SetPassword, name).result(if new {
                    "operator created"
                } else {
                    "password changed"
                }),
            )
            .await?;
        Ok(new)
    }

    /// Check a name and password (or the admin token, with the name "admin token" or none)
    /// and start a session. At most [`ATTEMPTS_PER_MINUTE`] attempts a minute per client.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, SignInError> {
        if let Err(not_until) = self.limiter.check_key(&client) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("paperboy_console_sign_ins_total", "outcome" => "rate_limited")
                .increment(1);
            return Err(SignInError::TooMany(wait.as_secs() + 1));
        }
        let name = name.trim();
        let operator = if name.is_empty() || name == ADMIN_TOKEN_OPERATOR {
            let configured = self.ctx.config.admin_token.as_bytes();
            use subtle::ConstantTimeEq;
            let right = !configured.is_empty()
                && password.len() == configured.len()
                && bool::from(password.as_bytes().ct_eq(configured));
            right.then(|| ADMIN_TOKEN_OPERATOR.to_string())
        } else {
            let stored = self.ctx.store.operator_password(name).await?;
            let known = stored.is_some();
            let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let password = password.to_string();
            let matches = tokio::task::spawn_blocking(move || {
                PasswordHash::new(&hash).is_ok_and(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
            })
            .await
            .expect("verifying does not panic");
            (known && matches).then(|| name.to_string())
        };
        let Some(operator) = operator else {
            tracing::warn!(name, client = ?client, "console sign-in refused");
            metrics::counter!("paperboy_console_sign_ins_total", "outcome" => "refused")
                .increment(1);
            return Err(SignInError::Wrong);
        };
        let token = crate::tokens::random_id(32);
        let now = clock::timestamp();
        self.ctx
            .store
            .start_operator_session(&token_hash(&token), &operator, now, now + SESSION_SECONDS)
            .await?;
        metrics::counter!("paperboy_console_sign_ins_total", "outcome" => "signed_in").increment(1);
        let actor = Actor::Console {
            operator: operator.clone(),
            client: client.map(|c| c.to_string()),
        };
        self.audit
            .record(
                &actor,
                AuditEntry::new(AuditAction::SignIn, operator.as_str()),
            )
            .await?;
        Ok(SignedIn { operator, token })
    }

    /// The operator whose live session `token` is.
    pub async fn session(&self, token: &str) -> Result<Option<String>, StoreError> {
        if token.len() != 43 {
            return Ok(None);
        }
        self.ctx
            .store
            .operator_session(&token_hash(token), clock::timestamp())
            .await
    }

    /// End a session.
    pub async fn sign_out(&self, actor: &Actor, token: &str) -> Result<(), StoreError> {
        if self
            .ctx
            .store
            .end_operator_session(&token_hash(token))
            .await?
        {
            self.audit
                .record(actor, AuditEntry::new(AuditAction::SignOut, actor.name()))
                .await?;
        }
        Ok(())
    }

    /// Drop the buckets of clients that are back to full (memory stays bounded).
    pub(crate) fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_token_hashes() {
        for good in ["ada", "ops.team", "a-b_c@example.com"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "admin token", "a b", "x\n", &"a".repeat(65), "é"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        let h = token_hash("abc");
        assert_eq!(h.len(), 64);
        assert_ne!(h, token_hash("abd"));
    }
}
