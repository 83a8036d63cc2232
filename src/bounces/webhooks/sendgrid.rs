//! SendGrid's signed event webhook: a batch of events, signed with ECDSA P-256 over the
//! timestamp header followed by the raw body; the signature (base64 DER) is in
//! `X-Twilio-Email-Event-Webhook-Signature`, the timestamp in
//! `X-Twilio-Email-Event-Webhook-Timestamp`. A batch signed longer ago than
//! `max_age_seconds` is refused; an event posted again (the same `sg_event_id`) is
//! recorded once.
//!
//! <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features>,
//! <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event>.

use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use serde::Deserialize;

use super::{Event, KeyError, WebhookError, fresh, json, refused};
use crate::bounces::Notice;
use crate::config::WebhooksConfig;
use crate::domain::{EventSource, MailEventKind, StatusCode};

const SOURCE: EventSource = EventSource::Sendgrid;

#[derive(Clone)]
pub struct Sendgrid {
    key: Arc<ParsedPublicKey>,
    max_age: i64,
}

#[derive(Deserialize)]
struct SgEvent {
    email: Option<String>,
    event: String,
    sg_event_id: Option<String>,
    /// For `bounce`: `bounce` or `blocked`.
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
    reason: Option<String>,
}

impl Sendgrid {
    /// On when the verification key is configured; a key that is not a P-256 public key
    /// stops the start.
    pub fn from_config(c: &WebhooksConfig) -> Result<Option<Self>, KeyError> {
        let text = c.sendgrid_public_key.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| KeyError {
            key: "sendgrid_public_key",
            why: format!("{why} (paste the verification key SendGrid shows, base64)"),
        };
        // Taken with or without PEM armour.
        let b64: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
            .split_whitespace()
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .map_err(|_| bad("not base64"))?;
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
            .map_err(|_| bad("not an ECDSA P-256 public key"))?;
        Ok(Some(Self {
            key: Arc::new(key),
            max_age: c.max_age_seconds,
        }))
    }

    /// Check the signature and its age, then read the batch.
    pub fn read(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<Option<Event>>, WebhookError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(refused(
                SOURCE,
                "signature",
                "no X-Twilio-Email-Event-Webhook-Signature and X-Twilio-Email-Event-Webhook-Timestamp headers: turn on the signed event webhook".into(),
            ));
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| refused(SOURCE, "signature", "the signature is not base64".into()))?;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        self.key.verify_sig(&signed, &signature).map_err(|_| {
            refused(
                SOURCE,
                "signature",
                "the signature does not match the body and timestamp: forged or altered".into(),
            )
        })?;
        let signed_at: i64 = timestamp.trim().parse().map_err(|_| {
            refused(
                SOURCE,
                "timestamp",
                format!("timestamp {timestamp:?} is not unix seconds"),
            )
        })?;
        fresh(SOURCE, signed_at, self.max_age)?;
        let batch: Vec<serde_json::Value> = json("a JSON array of SendGrid events", body)?;
        Ok(batch.into_iter().map(event).collect())
    }
}

/// One event of the batch; `None`: nothing to do (deliveries, opens, deferrals...). One
/// event SendGrid got wrong is skipped with a warning, not the whole batch: the rest is
/// signed and good, and refusing it would have SendGrid post it again for a day.
fn event(value: serde_json::Value) -> Option<Event> {
    let e: SgEvent = match serde_json::from_value(value.clone()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(source = %SOURCE, error = %e, "a SendGrid event that does not parse: skipped");
            return None;
        }
    };
    let kind = match (e.event.as_str(), e.kind.as_deref(), e.reason.as_deref()) {
        ("bounce", Some("blocked"), _) => MailEventKind::SoftBounce,
        ("bounce", _, _) => MailEventKind::HardBounce,
        ("spamreport", _, _) => MailEventKind::Complaint,
        // Dropped by SendGrid: for an address on its own bounce or spam list, or one it
        // cannot send to. Other drops (unsubscribed at SendGrid, a bad header) are no
        // news about the address.
        ("dropped", _, Some(r)) if r.contains("Bounced Address") || r.contains("Invalid") => {
            MailEventKind::HardBounce
        }
        ("dropped", _, Some(r)) if r.contains("Spam Reporting Address") => MailEventKind::Complaint,
        _ => return None,
    };
    let Some(email) = e.email else {
        tracing::warn!(source = %SOURCE, event = e.event, "a SendGrid event without email: skipped");
        return None;
    };
    let status = e
        .status
        .as_deref()
        .and_then(StatusCode::parse)
        .or_else(|| e.reason.as_deref().and_then(StatusCode::find));
    // SendGrid gives every event an id; without one, the event itself names it.
    let id = e.sg_event_id.unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(value.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    });
    Some(Event {
        notice: Notice {
            kind,
            recipient: Some(email),
            status,
            diagnostic: e.reason,
        },
        message: None,
        dedupe_key: format!("sendgrid:{id}"),
    })
}
