//! Amazon SES bounce and complaint notifications, delivered by SNS. SNS signs each message
//! with the key of a certificate it serves over HTTPS (`SigningCertURL`); we fetch it only
//! from the configured hosts (`sns.<region>.amazonaws.com`), keep it, and check the
//! signature over the message's canonical string (SignatureVersion 1: RSA with SHA-1, 2:
//! with SHA-256). Anyone can have SNS sign messages of a topic of their own, so only the
//! configured topics are taken. A message older than `ses_max_age_seconds` is refused; one
//! posted again (the same MessageId) is recorded once.
//!
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>,
//! <https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html>.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use serde::Deserialize;
use x509_cert::der::{DecodePem, Encode};

use super::{Event, KeyError, WebhookError, fresh, json, message_of, refused};
use crate::bounces::Notice;
use crate::config::WebhooksConfig;
use crate::domain::{EventSource, MailEventKind, StatusCode};
use crate::mail::verp::Verp;

const SOURCE: EventSource = EventSource::Ses;
/// A signing certificate is a few KB; refuse to read more.
const MAX_CERT_BYTES: usize = 64 * 1024;
/// Certificates kept; SNS uses one per region at a time, rotated every year or so.
const MAX_CERTS: usize = 32;
/// How long a fetch of a certificate or a confirmation may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The SES endpoint's settings and its certificates.
#[derive(Clone)]
pub struct Ses {
    topics: Vec<String>,
    hosts: Vec<String>,
    max_age: i64,
    confirm: bool,
    client: reqwest::Client,
    certs: Arc<Mutex<HashMap<String, Kept>>>,
}

/// A signing certificate's public key (SubjectPublicKeyInfo, DER) and its notAfter (unix
/// seconds), by URL.
type Kept = (Arc<Vec<u8>>, i64);

/// An SNS message, as posted (`Content-Type: text/plain`, a JSON body).
#[derive(Deserialize)]
struct SnsMessage {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: String,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

impl SnsMessage {
    /// The string SNS signs: each field's name and value on their own lines, in this
    /// order, for the fields the message type has.
    fn canonical(&self) -> Result<String, WebhookError> {
        let mut out = String::new();
        let mut add = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        match self.kind.as_str() {
            "Notification" => {
                add("Message", &self.message);
                add("MessageId", &self.message_id);
                if let Some(subject) = &self.subject {
                    add("Subject", subject);
                }
                add("Timestamp", &self.timestamp);
                add("TopicArn", &self.topic_arn);
                add("Type", &self.kind);
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let missing =
                    |f: &str| WebhookError::Malformed(format!("an SNS {} without {f}", self.kind));
                add("Message", &self.message);
                add("MessageId", &self.message_id);
                add(
                    "SubscribeURL",
                    self.subscribe_url
                        .as_deref()
                        .ok_or_else(|| missing("SubscribeURL"))?,
                );
                add("Timestamp", &self.timestamp);
                add(
                    "Token",
                    self.token.as_deref().ok_or_else(|| missing("Token"))?,
                );
                add("TopicArn", &self.topic_arn);
                add("Type", &self.kind);
            }
            other => {
                return Err(WebhookError::Malformed(format!(
                    "an SNS message of type {other:?} (expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation)"
                )));
            }
        }
        Ok(out)
    }
}

/// The SES notification inside an SNS `Message` (notifications, or event publishing with
/// `eventType`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesNotification {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<SesBounce>,
    complaint: Option<SesComplaint>,
    delivery_delay: Option<SesDelay>,
    mail: Option<SesMail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    bounced_recipients: Vec<SesRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    complained_recipients: Vec<SesRecipient>,
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesDelay {
    delayed_recipients: Vec<SesRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesRecipient {
    email_address: String,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

#[derive(Deserialize)]
struct SesMail {
    /// The envelope sender (MAIL FROM): our signed tag when `mail.bounce_address` is set.
    source: Option<String>,
}

impl Ses {
    /// On when topics are configured.
    pub fn from_config(c: &WebhooksConfig) -> Result<Option<Self>, KeyError> {
        let topics: Vec<String> = c
            .ses_topic_arns
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return Ok(None);
        }
        if c.ses_cert_hosts.is_empty() {
            return Err(KeyError {
                key: "ses_cert_hosts",
                why: "empty: no signing certificate could be fetched (the default is [\"sns.*.amazonaws.com\"])".into(),
            });
        }
        let tls = crate::net::tls_client_config(&c.ses_ca_file).map_err(|why| KeyError {
            key: "ses_ca_file",
            why,
        })?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            // A certificate URL that redirects elsewhere would escape the host check.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| KeyError {
                key: "ses_ca_file",
                why: format!("cannot build the HTTPS client: {e}"),
            })?;
        Ok(Some(Self {
            topics,
            hosts: c
                .ses_cert_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            max_age: c.ses_max_age_seconds,
            confirm: c.ses_confirm_subscriptions,
            client,
            certs: Arc::new(Mutex::new(HashMap::new())),
        }))
    }

    /// Check an SNS message and read its SES events. A subscription confirmation is
    /// confirmed (or logged) and yields none.
    pub async fn read(
        &self,
        body: &[u8],
        verp: Option<&Verp>,
    ) -> Result<Vec<Option<Event>>, WebhookError> {
        let sns: SnsMessage = json("an SNS message", body)?;
        let canonical = sns.canonical()?;
        if !self.topics.contains(&sns.topic_arn) {
            return Err(refused(
                SOURCE,
                "topic",
                format!(
                    "topic {} is not one of webhooks.ses_topic_arns",
                    sns.topic_arn
                ),
            ));
        }
        let algorithm = match sns.signature_version.as_str() {
            "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &RSA_PKCS1_2048_8192_SHA256,
            v => {
                return Err(refused(
                    SOURCE,
                    "signature",
                    format!("SignatureVersion {v:?} is not 1 or 2"),
                ));
            }
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(sns.signature.trim())
            .map_err(|_| refused(SOURCE, "signature", "the Signature is not base64".into()))?;
        let key = self.signing_key(&sns.signing_cert_url).await?;
        UnparsedPublicKey::new(algorithm, key.as_slice())
            .verify(canonical.as_bytes(), &signature)
            .map_err(|_| {
                refused(
                    SOURCE,
                    "signature",
                    "the SNS signature does not match the message: forged or altered".into(),
                )
            })?;
        let signed_at = chrono::DateTime::parse_from_rfc3339(&sns.timestamp)
            .map_err(|e| WebhookError::Malformed(format!("Timestamp {:?}: {e}", sns.timestamp)))?
            .timestamp();
        fresh(SOURCE, signed_at, self.max_age)?;
        match sns.kind.as_str() {
            "Notification" => events(&sns, verp),
            "SubscriptionConfirmation" => {
                self.subscribe(&sns).await?;
                Ok(Vec::new())
            }
            _ => {
                tracing::warn!(topic = %sns.topic_arn, "SNS says this endpoint was unsubscribed from the topic: bounces from it no longer arrive");
                Ok(Vec::new())
            }
        }
    }

    /// Confirm a subscription to an allowed topic by fetching its SubscribeURL (from an
    /// allowed host), or log the URL for the operator.
    async fn subscribe(&self, sns: &SnsMessage) -> Result<(), WebhookError> {
        let url = sns.subscribe_url.as_deref().unwrap_or_default();
        if !self.confirm {
            tracing::warn!(topic = %sns.topic_arn, url, "SNS subscription to confirm: open this URL (webhooks.ses_confirm_subscriptions is false)");
            return Ok(());
        }
        self.allowed(url, "SubscribeURL")?;
        let response =
            self.client.get(url).send().await.map_err(|e| {
                WebhookError::Upstream(format!("confirming the SNS subscription: {e}"))
            })?;
        if !response.status().is_success() {
            return Err(WebhookError::Upstream(format!(
                "confirming the SNS subscription: {} answered {}",
                url,
                response.status()
            )));
        }
        tracing::info!(topic = %sns.topic_arn, "confirmed the SNS subscription");
        Ok(())
    }

    /// `url` is https on an allowed host, or the message is refused.
    fn allowed(&self, url: &str, what: &str) -> Result<reqwest::Url, WebhookError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| refused(SOURCE, "url", format!("{what} {url:?} is not a URL")))?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let ok = parsed.scheme() == "https"
            && parsed.username().is_empty()
            && parsed.password().is_none()
            && self.hosts.iter().any(|p| host_matches(p, &host));
        if !ok {
            return Err(refused(
                SOURCE,
                "url",
                format!(
                    "{what} {url:?} is not https on a host of webhooks.ses_cert_hosts ({})",
                    self.hosts.join(", ")
                ),
            ));
        }
        Ok(parsed)
    }

    /// The public key of the certificate at `url`: kept, or fetched and checked.
    async fn signing_key(&self, url: &str) -> Result<Arc<Vec<u8>>, WebhookError> {
        let now = crate::clock::timestamp();
        if let Some((key, not_after)) = self.certs.lock().expect("not poisoned").get(url)
            && *not_after >= now
        {
            return Ok(key.clone());
        }
        let parsed = self.allowed(url, "SigningCertURL")?;
        if !parsed.path().ends_with(".pem") {
            return Err(refused(
                SOURCE,
                "url",
                format!("SigningCertURL {url:?} does not name a .pem file"),
            ));
        }
        let upstream = |why: String| {
            WebhookError::Upstream(format!("fetching the SNS signing certificate {url}: {why}"))
        };
        let mut response = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| upstream(e.to_string()))?;
        if !response.status().is_success() {
            return Err(upstream(format!("answered {}", response.status())));
        }
        let mut pem = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| upstream(e.to_string()))?
        {
            pem.extend_from_slice(&chunk);
            if pem.len() > MAX_CERT_BYTES {
                return Err(upstream(format!("larger than {MAX_CERT_BYTES} bytes")));
            }
        }
        let cert = x509_cert::Certificate::from_pem(&pem)
            .map_err(|e| upstream(format!("not a PEM certificate: {e}")))?;
        let validity = cert.tbs_certificate().validity();
        let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
        let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
        if now < not_before || now > not_after {
            return Err(refused(
                SOURCE,
                "certificate",
                format!("the SNS signing certificate {url} is not valid now"),
            ));
        }
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| upstream(e.to_string()))?;
        let key = Arc::new(spki);
        let mut certs = self.certs.lock().expect("not poisoned");
        if certs.len() >= MAX_CERTS {
            certs.clear();
        }
        certs.insert(url.to_string(), (key.clone(), not_after));
        tracing::info!(url, "fetched an SNS signing certificate");
        Ok(key)
    }
}

/// `pattern` (`*` for one label) matches `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .all(|(p, h)| !h.is_empty() && (*p == "*" || p == h))
}

/// The events of a checked SES notification: one per recipient, kept apart by the SNS
/// MessageId and the address.
fn events(sns: &SnsMessage, verp: Option<&Verp>) -> Result<Vec<Option<Event>>, WebhookError> {
    let n: SesNotification = json("an SES notification", sns.message.as_bytes())?;
    let kind = n
        .notification_type
        .as_deref()
        .or(n.event_type.as_deref())
        .unwrap_or_default();
    let message = message_of(verp, n.mail.as_ref().and_then(|m| m.source.as_deref()));
    let event = |kind: MailEventKind, r: &SesRecipient, extra: Option<String>| {
        let diagnostic = r.diagnostic_code.clone().or(extra);
        let status = r
            .status
            .as_deref()
            .and_then(StatusCode::parse)
            .or_else(|| diagnostic.as_deref().and_then(StatusCode::find));
        Some(Event {
            notice: Notice {
                kind,
                recipient: Some(r.email_address.clone()),
                status,
                diagnostic,
            },
            message,
            dedupe_key: format!(
                "ses:{}:{}",
                sns.message_id,
                r.email_address.to_ascii_lowercase()
            ),
        })
    };
    let missing = |what: &str| {
        WebhookError::Malformed(format!(
            "an SES {kind} notification without its {what} object"
        ))
    };
    Ok(match kind {
        "Bounce" => {
            let b = n.bounce.as_ref().ok_or_else(|| missing("bounce"))?;
            // Permanent: the address does not take mail. Transient (SES gave up retrying, or
            // a full mailbox) and Undetermined: soft.
            let kind = if b.bounce_type == "Permanent" {
                MailEventKind::HardBounce
            } else {
                MailEventKind::SoftBounce
            };
            let what = Some(format!("{} bounce ({})", b.bounce_type, b.bounce_sub_type));
            b.bounced_recipients
                .iter()
                .map(|r| event(kind, r, what.clone()))
                .collect()
        }
        "Complaint" => {
            let c = n.complaint.as_ref().ok_or_else(|| missing("complaint"))?;
            let what = c
                .complaint_feedback_type
                .as_ref()
                .map(|t| format!("complaint: {t}"));
            c.complained_recipients
                .iter()
                .map(|r| event(MailEventKind::Complaint, r, what.clone()))
                .collect()
        }
        "DeliveryDelay" => {
            let d = n
                .delivery_delay
                .as_ref()
                .ok_or_else(|| missing("deliveryDelay"))?;
            d.delayed_recipients
                .iter()
                .map(|r| event(MailEventKind::Delayed, r, None))
                .collect()
        }
        // Deliveries, sends, opens...: nothing to do.
        _ => vec![None],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_take_one_label_per_star() {
        assert!(host_matches(
            "sns.*.amazonaws.com",
            "sns.eu-west-1.amazonaws.com"
        ));
        assert!(!host_matches("sns.*.amazonaws.com", "sns.amazonaws.com"));
        assert!(!host_matches(
            "sns.*.amazonaws.com",
            "sns.a.b.amazonaws.com"
        ));
        assert!(!host_matches(
            "sns.*.amazonaws.com",
            "sns.eu-west-1.amazonaws.com.evil.org"
        ));
        assert!(!host_matches("sns.*.amazonaws.com", "evil.org"));
        assert!(host_matches("127.0.0.1", "127.0.0.1"));
    }
}
