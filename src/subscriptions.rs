//! The subscriber lifecycle as the web pages, the JSON API and the CLI all use it:
//! subscribe (double opt-in), confirm, change preferences, unsubscribe, erase.

use std::sync::Arc;

use serde::Serialize;
use tera::Context;

use crate::config::Config;
use crate::domain::{
    FieldErrors, NewSubscription, Subscriber, SubscriberStatus, SubscriptionInput, TopicCatalogue,
    parse_profile,
};
use crate::mail::{Mail, MailError, Mailer};
use crate::store::{Store, StoreError, SubscribeOutcome};
use crate::tokens::{Purpose, Signer, TokenError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("some fields are not valid")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("this subscription no longer exists")]
    Gone,
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What happened to a confirmation link.
#[derive(Debug)]
pub enum Confirmation {
    Confirmed(Subscriber),
    AlreadyActive(Subscriber),
    /// The reader unsubscribed after the link was sent: they must subscribe again.
    Unsubscribed,
}

/// What a subscribe request led to, for logs and metrics only: the requester always
/// gets the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailDecision {
    Sent,
    RateLimited,
    RefusedByServer,
}

#[derive(Clone)]
pub struct Subscriptions {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    pub signer: Signer,
    pub config: Arc<Config>,
    pub catalogue: Arc<TopicCatalogue>,
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[derive(Serialize)]
struct ConfirmationValues {
    confirm_url: String,
    ttl_hours: u32,
}

#[derive(Serialize)]
struct ManageValues {
    preferences_url: String,
    unsubscribe_url: String,
}

impl Subscriptions {
    fn confirm_ttl(&self) -> i64 {
        i64::from(self.config.subscribe.confirm_ttl_hours) * 3600
    }

    fn manage_ttl(&self) -> i64 {
        i64::from(self.config.subscribe.manage_ttl_days) * 86_400
    }

    pub fn confirm_url(&self, s: &Subscriber) -> String {
        let t = self
            .signer
            .sign(Purpose::Confirm, &s.public_id, now(), self.confirm_ttl());
        format!("{}/confirm/{t}", self.config.base_url)
    }

    pub fn manage_token(&self, s: &Subscriber) -> String {
        self.signer
            .sign(Purpose::Manage, &s.public_id, now(), self.manage_ttl())
    }

    pub fn preferences_url(&self, s: &Subscriber) -> String {
        format!(
            "{}/preferences/{}",
            self.config.base_url,
            self.manage_token(s)
        )
    }

    pub fn unsubscribe_url(&self, s: &Subscriber) -> String {
        let t = self
            .signer
            .sign(Purpose::Unsubscribe, &s.public_id, now(), self.manage_ttl());
        format!("{}/unsubscribe/{t}", self.config.base_url)
    }

    /// Values every mail and page footer shows.
    pub fn common_context(&self) -> Context {
        let mut ctx = Context::new();
        ctx.insert("operator_name", &self.config.operator.name);
        ctx.insert("operator_address", &self.config.operator.postal_address);
        ctx.insert("base_url", &self.config.base_url);
        ctx
    }

    pub fn parse(&self, input: &SubscriptionInput) -> Result<NewSubscription, ServiceError> {
        NewSubscription::parse(input, &self.catalogue).map_err(ServiceError::Invalid)
    }

    /// Store the request and mail the address: a confirmation link, or, if it is already
    /// subscribed, a link to its preferences. At most a few mails per address and per
    /// client an hour; beyond that the request is stored but nothing is sent.
    pub async fn subscribe(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
    ) -> Result<MailDecision, ServiceError> {
        let t = now();
        let (subscriber, outcome) = self.store.subscribe(new, client_ip, t).await?;
        let limits = &self.config.subscribe;
        let reservation = self
            .store
            .reserve_confirmation_mail(
                subscriber.id,
                client_ip,
                t,
                i64::from(limits.max_mails_per_address_per_hour),
                i64::from(limits.max_mails_per_client_per_hour),
            )
            .await?;
        let Some(reservation) = reservation else {
            tracing::info!(subscriber = subscriber.id, "confirmation mail rate-limited");
            metrics::counter!("paperboy_confirmation_mails_total", "result" => "rate_limited")
                .increment(1);
            return Ok(MailDecision::RateLimited);
        };
        let name = &self.config.operator.name;
        let result = if outcome == SubscribeOutcome::AlreadyActive {
            let values = ManageValues {
                preferences_url: self.preferences_url(&subscriber),
                unsubscribe_url: self.unsubscribe_url(&subscriber),
            };
            let mail = Mail {
                template: "already_subscribed",
                subject: format!("You are already subscribed to {name}"),
                to: &subscriber.email,
                values: &values,
                list_unsubscribe: Some(format!("<{}>", values.unsubscribe_url)),
            };
            self.mailer.deliver(&mail, &self.common_context()).await
        } else {
            let values = ConfirmationValues {
                confirm_url: self.confirm_url(&subscriber),
                ttl_hours: self.config.subscribe.confirm_ttl_hours,
            };
            let mail = Mail {
                template: "confirmation",
                subject: format!("Confirm your subscription to {name}"),
                to: &subscriber.email,
                values: &values,
                list_unsubscribe: None,
            };
            self.mailer.deliver(&mail, &self.common_context()).await
        };
        match result {
            Ok(()) => {
                metrics::counter!("paperboy_confirmation_mails_total", "result" => "sent")
                    .increment(1);
                Ok(MailDecision::Sent)
            }
            // The relay refused the address for good: the answer must not differ from a
            // delivered one, and the row expires unconfirmed.
            Err(MailError::Permanent(e)) => {
                tracing::warn!(subscriber = subscriber.id, error = %e, "confirmation mail refused");
                metrics::counter!("paperboy_confirmation_mails_total", "result" => "refused")
                    .increment(1);
                Ok(MailDecision::RefusedByServer)
            }
            Err(e) => {
                self.store.release_confirmation_mail(reservation).await?;
                metrics::counter!("paperboy_confirmation_mails_total", "result" => "failed")
                    .increment(1);
                Err(e.into())
            }
        }
    }

    /// The subscriber a token names, if the token is valid for `purpose`.
    pub async fn subscriber_for(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<Subscriber, ServiceError> {
        let claims = self.signer.verify(token, purpose, now())?;
        self.store
            .find_by_public_id(&claims.subject)
            .await?
            .ok_or(ServiceError::Gone)
    }

    pub async fn confirm(&self, token: &str) -> Result<Confirmation, ServiceError> {
        let s = self.subscriber_for(token, Purpose::Confirm).await?;
        match s.status {
            SubscriberStatus::Active => Ok(Confirmation::AlreadyActive(s)),
            SubscriberStatus::Unsubscribed => Ok(Confirmation::Unsubscribed),
            SubscriberStatus::Pending | SubscriberStatus::Suppressed => {
                if self.store.confirm(s.id, now()).await? {
                    metrics::counter!("paperboy_confirmations_total").increment(1);
                }
                let s = self
                    .store
                    .find_by_id(s.id)
                    .await?
                    .ok_or(ServiceError::Gone)?;
                Ok(Confirmation::Confirmed(s))
            }
        }
    }

    /// Replace a subscriber's interests and delivery preferences.
    pub async fn update(
        &self,
        s: &Subscriber,
        input: &SubscriptionInput,
    ) -> Result<Subscriber, ServiceError> {
        let (interests, prefs) =
            parse_profile(input, &self.catalogue).map_err(ServiceError::Invalid)?;
        if !self
            .store
            .update_profile(s.id, &interests, &prefs, now())
            .await?
        {
            return Err(ServiceError::Gone);
        }
        self.store.find_by_id(s.id).await?.ok_or(ServiceError::Gone)
    }

    pub async fn unsubscribe(&self, s: &Subscriber) -> Result<(), ServiceError> {
        if self.store.unsubscribe(s.id, now()).await? {
            metrics::counter!("paperboy_unsubscribes_total").increment(1);
        }
        Ok(())
    }

    pub async fn erase(&self, s: &Subscriber) -> Result<(), ServiceError> {
        self.store.delete(s.id).await?;
        Ok(())
    }

    /// Remove sign-ups whose confirmation link has expired.
    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        Ok(self
            .store
            .delete_expired_pending(now() - self.confirm_ttl())
            .await?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("topic catalogue {path}: {source}")]
    Topics {
        path: String,
        source: crate::domain::TopicError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl Subscriptions {
    /// Open the database (applying migrations), load the catalogue and the mailer.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let topics_path = config.topics_file.display().to_string();
        let text = config.topics_toml().map_err(|source| StartError::Io {
            what: format!("reading {topics_path}"),
            source,
        })?;
        let catalogue = TopicCatalogue::from_toml(&text).map_err(|source| StartError::Topics {
            path: topics_path,
            source,
        })?;
        let key = config.signing_key().map_err(|source| StartError::Io {
            what: "the signing key".into(),
            source,
        })?;
        let store = Store::connect(&config.database_url).await?;
        let mailer = Mailer::from_config(&config)?;
        Ok(Self {
            store,
            mailer: Arc::new(mailer),
            signer: Signer::new(&key),
            config: Arc::new(config),
            catalogue: Arc::new(catalogue),
        })
    }
}
