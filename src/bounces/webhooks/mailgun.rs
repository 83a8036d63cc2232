//! Mailgun webhooks: one event per request, its `signature` object an HMAC-SHA256 of
//! timestamp and token with the webhook signing key. The signature covers only those two,
//! not the event: so a token is taken once (a second request with it must carry the same
//! event, a provider's retry, else it is refused), and a signature older than
//! `max_age_seconds` is refused. The event's id keeps it from being recorded twice.
//!
//! Mailgun echoes the envelope sender (`envelope.sender`), our signed tag, so an event maps
//! to its message and reader exactly.
//!
//! <https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks>,
//! <https://documentation.mailgun.com/docs/mailgun/user-manual/events/>.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{Event, WebhookError, fresh, json, message_of, refused};
use crate::bounces::Notice;
use crate::config::WebhooksConfig;
use crate::domain::{EventSource, MailEventKind, StatusCode};
use crate::mail::verp::Verp;

const SOURCE: EventSource = EventSource::Mailgun;

#[derive(Clone)]
pub struct Mailgun {
    key: Vec<u8>,
    max_age: i64,
    /// Tokens seen within `max_age` (older ones are refused as stale anyway).
    tokens: Arc<Mutex<Tokens>>,
}

#[derive(Default)]
struct Tokens {
    /// Token → the event it came with.
    seen: HashMap<String, String>,
    /// Tokens by their signature's time, oldest first, to forget them.
    order: VecDeque<(i64, String)>,
}

#[derive(Deserialize)]
struct Posted {
    signature: Signature,
    #[serde(rename = "event-data")]
    event_data: EventData,
}

#[derive(Deserialize)]
struct Signature {
    timestamp: String,
    token: String,
    signature: String,
}

#[derive(Deserialize)]
struct EventData {
    event: String,
    id: String,
    recipient: Option<String>,
    severity: Option<String>,
    reason: Option<String>,
    envelope: Option<Envelope>,
    #[serde(rename = "delivery-status")]
    delivery_status: Option<DeliveryStatus>,
}

#[derive(Deserialize)]
struct Envelope {
    sender: Option<String>,
}

#[derive(Deserialize)]
struct DeliveryStatus {
    code: Option<serde_json::Value>,
    message: Option<String>,
    description: Option<String>,
    #[serde(rename = "enhanced-code")]
    enhanced_code: Option<String>,
}

impl Mailgun {
    /// On when the signing key is configured.
    pub fn from_config(c: &WebhooksConfig) -> Option<Self> {
        let key = c.mailgun_signing_key.trim();
        (!key.is_empty()).then(|| Self {
            key: key.as_bytes().to_vec(),
            max_age: c.max_age_seconds,
            tokens: Arc::new(Mutex::new(Tokens::default())),
        })
    }

    /// Check the signature, its age and its token, then read the event.
    pub fn read(
        &self,
        body: &[u8],
        verp: Option<&Verp>,
    ) -> Result<Vec<Option<Event>>, WebhookError> {
        let posted: Posted = json("a Mailgun webhook (signature and event-data)", body)?;
        let s = &posted.signature;
        let given = decode_hex(s.signature.trim())
            .ok_or_else(|| refused(SOURCE, "signature", "the signature is not hex".into()))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(s.timestamp.as_bytes());
        mac.update(s.token.as_bytes());
        mac.verify_slice(&given).map_err(|_| {
            refused(
                SOURCE,
                "signature",
                "the signature does not match timestamp and token: forged, or signed with another key than webhooks.mailgun_signing_key".into(),
            )
        })?;
        let signed_at: i64 = s.timestamp.trim().parse().map_err(|_| {
            refused(
                SOURCE,
                "timestamp",
                format!("timestamp {:?} is not unix seconds", s.timestamp),
            )
        })?;
        fresh(SOURCE, signed_at, self.max_age)?;
        self.once(&s.token, &posted.event_data.id, signed_at)?;
        Ok(vec![event(&posted.event_data, verp)])
    }

    /// Take `token` for `event`: new, or seen before with the same event (Mailgun posting
    /// it again); with another event it is a replay of the signature on a forged body.
    fn once(&self, token: &str, event: &str, signed_at: i64) -> Result<(), WebhookError> {
        let mut tokens = self.tokens.lock().expect("not poisoned");
        let horizon = crate::clock::timestamp() - self.max_age - 60;
        while tokens.order.front().is_some_and(|(at, _)| *at < horizon) {
            let (_, old) = tokens.order.pop_front().expect("just looked");
            tokens.seen.remove(&old);
        }
        match tokens.seen.get(token) {
            Some(seen) if seen == event => Ok(()),
            Some(_) => Err(refused(
                SOURCE,
                "replay",
                "this signature's token came before with another event: a replay".into(),
            )),
            None => {
                tokens.seen.insert(token.to_string(), event.to_string());
                tokens.order.push_back((signed_at, token.to_string()));
                Ok(())
            }
        }
    }
}

/// What a Mailgun event means; `None`: nothing (deliveries, opens, unsubscribes...).
fn event(e: &EventData, verp: Option<&Verp>) -> Option<Event> {
    let kind = match (e.event.as_str(), e.severity.as_deref(), e.reason.as_deref()) {
        ("complained", _, _) => MailEventKind::Complaint,
        // Mailgun posts a temporary failure for each attempt and keeps trying: a delay.
        ("failed", Some("temporary"), _) => MailEventKind::Delayed,
        // "old": Mailgun gave up after temporary failures: a soft bounce.
        ("failed", _, Some("old")) => MailEventKind::SoftBounce,
        ("failed", _, _) => MailEventKind::HardBounce,
        _ => return None,
    };
    let Some(recipient) = e.recipient.clone() else {
        tracing::warn!(source = %SOURCE, event = e.event, "a Mailgun event without recipient: skipped");
        return None;
    };
    let ds = e.delivery_status.as_ref();
    let text = ds.and_then(|d| {
        d.message
            .clone()
            .filter(|m| !m.is_empty())
            .or(d.description.clone())
            .filter(|m| !m.is_empty())
    });
    let code = ds.and_then(|d| d.code.as_ref()).map(|c| match c {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let diagnostic = match (code, text) {
        (Some(c), Some(t)) => Some(format!("{c} {t}")),
        (c, t) => t.or(c).or(e.reason.clone()),
    };
    let status = ds
        .and_then(|d| d.enhanced_code.as_deref())
        .and_then(StatusCode::parse)
        .or_else(|| diagnostic.as_deref().and_then(StatusCode::find));
    Some(Event {
        notice: Notice {
            kind,
            recipient: Some(recipient),
            status,
            diagnostic,
        },
        message: message_of(verp, e.envelope.as_ref().and_then(|v| v.sender.as_deref())),
        dedupe_key: format!("mailgun:{}", e.id),
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
