//! Postmark bounce and spam complaint webhooks. Postmark signs nothing: the operator puts a
//! user and password in the webhook URL (`https://user:password@host/webhooks/postmark`)
//! and Postmark sends them as HTTP basic auth, compared here in constant time. A record
//! posted again (the same record ID) is recorded once.
//!
//! <https://postmarkapp.com/developer/webhooks/bounce-webhook>,
//! <https://postmarkapp.com/developer/api/bounce-api#bounce-types>.

use base64::Engine;
use serde::Deserialize;

use super::{Event, WebhookError, json, same_secret};
use crate::bounces::Notice;
use crate::config::WebhooksConfig;
use crate::domain::{EventSource, MailEventKind, StatusCode};

const SOURCE: EventSource = EventSource::Postmark;

#[derive(Clone)]
pub struct Postmark {
    user: String,
    password: String,
}

/// A bounce or spam complaint record (other record types carry only what we skip).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    record_type: String,
    #[serde(rename = "ID")]
    id: Option<serde_json::Value>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    type_code: Option<u64>,
    email: Option<String>,
    description: Option<String>,
    details: Option<String>,
}

impl Postmark {
    /// On when a user and password are configured (the config insists on both or neither).
    pub fn from_config(c: &WebhooksConfig) -> Option<Self> {
        (!c.postmark_user.is_empty()).then(|| Self {
            user: c.postmark_user.clone(),
            password: c.postmark_password.clone(),
        })
    }

    /// Check the credentials, then read the record.
    pub fn read(
        &self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<Option<Event>>, WebhookError> {
        self.authorize(authorization)?;
        let r: Record = json("a Postmark webhook record", body)?;
        let Some(kind) = kind_of(&r) else {
            return Ok(vec![None]);
        };
        let id = match &r.id {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(WebhookError::Malformed(format!(
                    "a Postmark {} record without its ID",
                    r.record_type
                )));
            }
        };
        let email = r.email.clone().ok_or_else(|| {
            WebhookError::Malformed(format!("a Postmark {} record without Email", r.record_type))
        })?;
        let diagnostic = r
            .details
            .clone()
            .filter(|d| !d.is_empty())
            .or(r.description.clone());
        Ok(vec![Some(Event {
            notice: Notice {
                kind,
                recipient: Some(email),
                status: diagnostic.as_deref().and_then(StatusCode::find),
                diagnostic,
            },
            message: None,
            dedupe_key: format!("postmark:{}:{id}", r.record_type),
        })])
    }

    fn authorize(&self, header: Option<&str>) -> Result<(), WebhookError> {
        let unauthorized = |why: &str| {
            metrics::counter!("paperboy_webhook_refused_total", "source" => SOURCE.as_str(), "reason" => "credentials")
                .increment(1);
            tracing::warn!(source = %SOURCE, "webhook request refused: {why}");
            WebhookError::Unauthorized(format!(
                "{why}: put the user and password of webhooks.postmark_user and webhooks.postmark_password in the webhook URL (https://user:password@host/webhooks/postmark)"
            ))
        };
        let encoded = header
            .and_then(|h| h.strip_prefix("Basic "))
            .ok_or_else(|| unauthorized("no basic-auth credentials"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| unauthorized("credentials that are not base64"))?;
        let (user, password) = match decoded.iter().position(|&b| b == b':') {
            Some(i) => (&decoded[..i], &decoded[i + 1..]),
            None => return Err(unauthorized("credentials without a password")),
        };
        // Both compared, whatever the first gives, so the time says nothing of which failed.
        let user_ok = same_secret(user, self.user.as_bytes());
        let password_ok = same_secret(password, self.password.as_bytes());
        if user_ok & password_ok {
            Ok(())
        } else {
            Err(unauthorized("wrong user or password"))
        }
    }
}

/// What a record means for its reader; `None`: nothing (deliveries, opens, auto-replies,
/// address changes...).
fn kind_of(r: &Record) -> Option<MailEventKind> {
    if r.record_type == "SpamComplaint" {
        return Some(MailEventKind::Complaint);
    }
    if r.record_type != "Bounce" {
        return None;
    }
    // The type's name, else its code (the bounce API's table).
    let name = match (r.kind.as_deref(), r.type_code) {
        (Some(name), _) => name,
        (None, Some(1)) => "HardBounce",
        (None, Some(2)) => "Transient",
        (None, Some(256)) => "DnsError",
        (None, Some(4096)) => "SoftBounce",
        (None, Some(100_000)) => "BadEmailAddress",
        (None, Some(100_001)) => "SpamComplaint",
        (None, Some(100_006)) => "Blocked",
        (None, Some(100_008)) => "InboxFull",
        _ => "",
    };
    match name {
        "HardBounce" | "BadEmailAddress" => Some(MailEventKind::HardBounce),
        "SpamComplaint" => Some(MailEventKind::Complaint),
        // Given up on, for now: counted toward the soft-bounce limit.
        "SoftBounce" | "DnsError" | "InboxFull" | "Blocked" => Some(MailEventKind::SoftBounce),
        // Delayed, Postmark still trying.
        "Transient" => Some(MailEventKind::Delayed),
        _ => None,
    }
}
