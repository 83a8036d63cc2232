//! Providers' bounce and complaint webhooks, through HTTP: Amazon SES (SNS messages signed
//! with a certificate served over HTTPS by a CA the config trusts), Postmark (basic auth),
//! SendGrid (ECDSA P-256) and Mailgun (HMAC). Signatures are made with the openssl command,
//! not with the code under test. A valid event suppresses or notes the right reader and is
//! recorded with its source; forged, stale, replayed, malformed and oversized requests are
//! refused with a JSON error and change nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use hmac::{Hmac, Mac};
use paperboy::domain::{EventSource, MailEventKind, SubscriberStatus};
use paperboy::store::{EventFilter, StoredMailEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    ses_bounces_and_complaints_suppress_or_note_their_readers,
    ses_forged_stale_foreign_and_replayed_messages_change_nothing,
    ses_subscriptions_are_confirmed_from_allowed_hosts_only,
    postmark_records_bounces_and_complaints_behind_basic_auth,
    sendgrid_batches_are_taken_only_when_signed_and_fresh,
    mailgun_events_are_taken_only_when_signed_fresh_and_once,
    malformed_oversized_and_unconfigured_requests_get_clear_errors,
);

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:paperboy-bounces";
const POSTMARK_USER: &str = "postmark";
const POSTMARK_PASSWORD: &str = "pm-secret-9f3a";
const MAILGUN_KEY: &str = "mailgun-signing-key-for-tests";

/// Keys and the HTTPS server an app with every provider on needs.
struct Providers {
    dir: tempfile::TempDir,
    /// The test CA (trusted through `webhooks.ses_ca_file`).
    ca: PathBuf,
    /// The SNS signing key and the URL of its certificate.
    sns_key: PathBuf,
    cert_url: String,
    /// The HTTPS server: its address, and how many subscription confirmations it got.
    https: std::net::SocketAddr,
    confirmations: Arc<AtomicUsize>,
    sendgrid_key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// Sign `data` with the PEM key at `key`: `sha1` or `sha256`, RSA or ECDSA as the key is.
fn sign(key: &Path, digest: &str, data: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

impl Providers {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Webhook test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
            d,
        );
        // The HTTPS server's certificate, for 127.0.0.1, issued by the CA.
        openssl(
            &[
                "req",
                "-x509",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=sns.test",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-keyout",
                "https.key",
                "-out",
                "https.pem",
            ],
            d,
        );
        // SNS's signing certificate (what SigningCertURL serves).
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=sns.amazonaws.com",
                "-keyout",
                "sns.key",
                "-out",
                "sns.pem",
            ],
            d,
        );
        openssl(
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sendgrid.key",
            ],
            d,
        );
        let confirmations = Arc::new(AtomicUsize::new(0));
        let https = serve_https(
            &d.join("https.pem"),
            &d.join("https.key"),
            std::fs::read(d.join("sns.pem")).unwrap(),
            confirmations.clone(),
        )
        .await;
        Self {
            ca: d.join("ca.pem"),
            sns_key: d.join("sns.key"),
            cert_url: format!("https://{https}/SimpleNotificationService-test.pem"),
            https,
            confirmations,
            sendgrid_key: d.join("sendgrid.key"),
            dir,
        }
    }

    /// SendGrid's verification key, as its console shows it: base64 DER.
    fn sendgrid_public_key(&self) -> String {
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&self.sendgrid_key)
            .output()
            .unwrap();
        assert!(out.status.success());
        base64::engine::general_purpose::STANDARD.encode(out.stdout)
    }

    fn overrides(&self) -> Vec<(&'static str, toml::Value)> {
        vec![
            ("mail.bounce_address", "bounces@lists.paperboy.test".into()),
            (
                "webhooks.ses_topic_arns",
                toml::Value::Array(vec![TOPIC.into()]),
            ),
            (
                "webhooks.ses_cert_hosts",
                toml::Value::Array(vec!["127.0.0.1".into()]),
            ),
            ("webhooks.ses_ca_file", self.ca.display().to_string().into()),
            ("webhooks.postmark_user", POSTMARK_USER.into()),
            ("webhooks.postmark_password", POSTMARK_PASSWORD.into()),
            (
                "webhooks.sendgrid_public_key",
                self.sendgrid_public_key().into(),
            ),
            ("webhooks.mailgun_signing_key", MAILGUN_KEY.into()),
        ]
    }

    /// An SNS message of `kind` carrying `message`, signed as SNS signs (SignatureVersion
    /// 1: SHA-1, 2: SHA-256), `age` seconds old.
    fn sns(&self, kind: &str, id: &str, message: &str, version: u8, age: i64) -> Value {
        let at = chrono::Utc::now() - chrono::Duration::seconds(age);
        let mut m = json!({
            "Type": kind,
            "MessageId": id,
            "TopicArn": TOPIC,
            "Message": message,
            "Timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "SignatureVersion": version.to_string(),
            "SigningCertURL": self.cert_url,
        });
        if kind == "Notification" {
            m["Subject"] = "Amazon SES Email Event Notification".into();
            m["UnsubscribeURL"] = format!("https://{}/unsubscribe", self.https).into();
        } else {
            m["Token"] = "2336412f37fb687f5d51e6e2425c464de12884".into();
            m["SubscribeURL"] = format!("https://{}/confirm?Token=2336", self.https).into();
        }
        self.sign_sns(&mut m);
        m
    }

    /// (Re)sign an SNS message: the canonical string of its fields, each `name\nvalue\n`.
    fn sign_sns(&self, m: &mut Value) {
        let fields: &[&str] = if m["Type"] == "Notification" {
            &[
                "Message",
                "MessageId",
                "Subject",
                "Timestamp",
                "TopicArn",
                "Type",
            ]
        } else {
            &[
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            ]
        };
        let mut canonical = String::new();
        for f in fields {
            if let Some(v) = m[*f].as_str() {
                canonical.push_str(&format!("{f}\n{v}\n"));
            }
        }
        let digest = if m["SignatureVersion"] == "1" {
            "sha1"
        } else {
            "sha256"
        };
        m["Signature"] = sign(&self.sns_key, digest, canonical.as_bytes()).into();
    }

    /// SendGrid's headers for `body` signed at `at` (unix seconds).
    fn sendgrid_headers(&self, body: &str, at: i64) -> (String, String) {
        let ts = at.to_string();
        let sig = sign(
            &self.sendgrid_key,
            "sha256",
            format!("{ts}{body}").as_bytes(),
        );
        (sig, ts)
    }
}

/// An HTTPS server on 127.0.0.1: `*.pem` gives the signing certificate, `/confirm` counts a
/// subscription confirmation; anything else is 404.
async fn serve_https(
    cert: &Path,
    key: &Path,
    signing_cert: Vec<u8>,
    confirmations: Arc<AtomicUsize>,
) -> std::net::SocketAddr {
    let acceptor = crate::helpers::tls_acceptor(cert, key);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let signing_cert = Arc::new(signing_cert);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, cert, confirmations) = (
                acceptor.clone(),
                signing_cert.clone(),
                confirmations.clone(),
            );
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let (status, body): (&str, Vec<u8>) = if path.ends_with(".pem") {
                    ("200 OK", cert.to_vec())
                } else if path.starts_with("/confirm") {
                    confirmations.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", b"<ConfirmSubscriptionResponse/>".to_vec())
                } else {
                    ("404 Not Found", b"no".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

async fn spawn(backend: Backend, more: &[(&str, toml::Value)]) -> Option<(TestApp, Providers)> {
    let providers = Providers::start().await;
    let mut overrides = providers.overrides();
    overrides.extend(more.iter().cloned());
    let app = spawn_app_with(backend, &overrides).await?;
    Some((app, providers))
}

/// Subscribe and confirm `email`; the envelope sender (signed tag) of its welcome mail.
async fn reader(app: &TestApp, email: &str) -> String {
    app.subscribe_and_confirm(email, &[("topics", "llm")]).await;
    app.smtp.to(email).last().unwrap().from.clone()
}

async fn events(app: &TestApp) -> Vec<StoredMailEvent> {
    let mut all = app
        .ctx
        .store
        .mail_events(&EventFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    all.reverse();
    all
}

async fn status_of(app: &TestApp, email: &str) -> SubscriberStatus {
    app.subscriber(email).await.unwrap().status
}

/// POST `body` to `/webhooks/<provider>` with `headers`; the status and the JSON answer.
async fn post(
    app: &TestApp,
    provider: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut r = app
        .client
        .post(app.url(&format!("/webhooks/{provider}")))
        .body(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("{provider}: {status} with a body that is not JSON ({e}): {text}")
    });
    (status, json)
}

async fn post_sns(app: &TestApp, m: &Value) -> (StatusCode, Value) {
    post(
        app,
        "ses",
        &[
            ("content-type", "text/plain; charset=UTF-8"),
            ("x-amz-sns-message-type", "Notification"),
        ],
        m.to_string(),
    )
    .await
}

fn ses_bounce(kind: &str, recipient: &str, source: &str, status: &str, diagnostic: &str) -> String {
    json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": if kind == "Permanent" { "General" } else { "MailboxFull" },
            "bouncedRecipients": [{
                "emailAddress": recipient, "action": "failed", "status": status,
                "diagnosticCode": diagnostic
            }],
            "timestamp": "2026-12-02T10:00:00.000Z",
            "feedbackId": "0102017f-feedback"
        },
        "mail": {
            "timestamp": "2026-12-02T09:59:58.000Z",
            "source": source,
            "messageId": "0102017f-ses-message",
            "destination": [recipient]
        }
    })
    .to_string()
}

fn summary(recorded: u64, duplicates: u64, ignored: u64) -> Value {
    json!({"recorded": recorded, "duplicates": duplicates, "ignored": ignored})
}

async fn ses_bounces_and_complaints_suppress_or_note_their_readers(backend: Backend) {
    let Some((app, p)) = spawn(backend, &[]).await else {
        return;
    };
    let tag = reader(&app, "gone@example.net").await;
    reader(&app, "angry@example.net").await;
    reader(&app, "full@example.net").await;
    reader(&app, "stays@example.net").await;

    // A permanent bounce naming its message by our signed envelope sender (SignatureVersion 1).
    let bounce = ses_bounce(
        "Permanent",
        "gone@example.net",
        &tag,
        "5.1.1",
        "smtp; 550 5.1.1 user unknown",
    );
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-1", &bounce, 1, 5)).await;
    assert_eq!((s, body), (StatusCode::OK, summary(1, 0, 0)));
    let gone = app.subscriber("gone@example.net").await.unwrap();
    assert_eq!(gone.status, SubscriberStatus::Suppressed);
    assert_eq!(
        gone.suppression_reason.as_deref(),
        Some("hard bounce (5.1.1)")
    );

    // A complaint, by address (SignatureVersion 2).
    let complaint = json!({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.net"}],
                      "complaintFeedbackType": "abuse", "feedbackId": "f-2"},
        "mail": {"source": "digest@paperboy.test", "destination": ["angry@example.net"]}
    })
    .to_string();
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-2", &complaint, 2, 5)).await;
    assert_eq!((s, body), (StatusCode::OK, summary(1, 0, 0)));
    assert_eq!(
        status_of(&app, "angry@example.net").await,
        SubscriberStatus::Suppressed
    );

    // A transient bounce is noted: the reader stays.
    let soft = ses_bounce(
        "Transient",
        "full@example.net",
        "digest@paperboy.test",
        "4.2.2",
        "smtp; 452 4.2.2 mailbox full",
    );
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-3", &soft, 2, 5)).await;
    assert_eq!((s, body), (StatusCode::OK, summary(1, 0, 0)));
    assert_eq!(
        status_of(&app, "full@example.net").await,
        SubscriberStatus::Active
    );

    // An address we do not know, and a delivery notification: acknowledged, ignored.
    let stranger = ses_bounce(
        "Permanent",
        "nobody@example.org",
        "digest@paperboy.test",
        "5.1.1",
        "x",
    );
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-4", &stranger, 2, 5)).await;
    assert_eq!((s, body), (StatusCode::OK, summary(0, 0, 1)));
    let delivery = json!({"notificationType": "Delivery", "delivery": {}, "mail": {}}).to_string();
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-5", &delivery, 2, 5)).await;
    assert_eq!((s, body), (StatusCode::OK, summary(0, 0, 1)));

    assert_eq!(
        status_of(&app, "stays@example.net").await,
        SubscriberStatus::Active
    );
    let all = events(&app).await;
    let seen: Vec<(&str, MailEventKind, EventSource, Option<&str>, &str)> = all
        .iter()
        .map(|e| {
            (
                e.email.as_str(),
                e.kind,
                e.source,
                e.status.as_deref(),
                e.effect.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "gone@example.net",
                MailEventKind::HardBounce,
                EventSource::Ses,
                Some("5.1.1"),
                "suppressed"
            ),
            (
                "angry@example.net",
                MailEventKind::Complaint,
                EventSource::Ses,
                None,
                "suppressed"
            ),
            (
                "full@example.net",
                MailEventKind::SoftBounce,
                EventSource::Ses,
                Some("4.2.2"),
                "noted"
            ),
        ]
    );
    // The tag named the message: the welcome mail.
    assert_eq!(all[0].message_kind.as_deref(), Some("subscription_mail"));
    assert_eq!(
        all[0].diagnostic.as_deref(),
        Some("smtp; 550 5.1.1 user unknown")
    );
    assert_eq!(all[1].message_kind, None);
}

async fn ses_forged_stale_foreign_and_replayed_messages_change_nothing(backend: Backend) {
    let Some((app, p)) = spawn(backend, &[]).await else {
        return;
    };
    reader(&app, "reader@example.net").await;
    let bounce = ses_bounce(
        "Permanent",
        "reader@example.net",
        "digest@paperboy.test",
        "5.1.1",
        "550 5.1.1 no",
    );
    let refused = |body: &Value, what: &str| {
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(what), "{what:?} not in {error:?}");
    };

    // Forged: the message altered after signing.
    let mut forged = p.sns("Notification", "sns-f", &bounce, 1, 5);
    forged["Message"] = bounce.replace("5.1.1", "5.1.2").into();
    let (s, body) = post_sns(&app, &forged).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    refused(&body, "does not match");
    // Signed by someone else's key, with our certificate's URL.
    let mut other = p.sns("Notification", "sns-o", &bounce, 2, 5);
    let d = p.dir.path();
    openssl(&["genrsa", "-out", "other.key", "2048"], d);
    let canonical = format!(
        "Message\n{}\nMessageId\n{}\nSubject\n{}\nTimestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
        other["Message"].as_str().unwrap(),
        other["MessageId"].as_str().unwrap(),
        other["Subject"].as_str().unwrap(),
        other["Timestamp"].as_str().unwrap(),
        TOPIC
    );
    other["Signature"] = sign(&d.join("other.key"), "sha256", canonical.as_bytes()).into();
    let (s, _) = post_sns(&app, &other).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Stale: signed two hours ago.
    let (s, body) = post_sns(&app, &p.sns("Notification", "sns-s", &bounce, 2, 7200)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    refused(&body, "s ago");
    // Another topic (SNS signs anyone's topics).
    let mut foreign = p.sns("Notification", "sns-t", &bounce, 2, 5);
    foreign["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:not-ours".into();
    p.sign_sns(&mut foreign);
    let (s, body) = post_sns(&app, &foreign).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    refused(&body, "ses_topic_arns");
    // A certificate from a host that is not allowed, or over plain HTTP.
    for url in [
        format!(
            "https://localhost:{}/SimpleNotificationService-test.pem",
            p.https.port()
        ),
        format!("http://{}/SimpleNotificationService-test.pem", p.https),
    ] {
        let mut elsewhere = p.sns("Notification", "sns-h", &bounce, 2, 5);
        elsewhere["SigningCertURL"] = url.into();
        p.sign_sns(&mut elsewhere);
        let (s, body) = post_sns(&app, &elsewhere).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        refused(&body, "ses_cert_hosts");
    }
    assert!(events(&app).await.is_empty());
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Active
    );

    // A soft bounce taken once; the same message posted again (SNS retrying) is no second.
    let soft = ses_bounce(
        "Transient",
        "reader@example.net",
        "digest@paperboy.test",
        "4.2.2",
        "452 4.2.2 full",
    );
    let m = p.sns("Notification", "sns-r", &soft, 2, 5);
    assert_eq!(post_sns(&app, &m).await, (StatusCode::OK, summary(1, 0, 0)));
    assert_eq!(post_sns(&app, &m).await, (StatusCode::OK, summary(0, 1, 0)));
    assert_eq!(events(&app).await.len(), 1);
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Active
    );
}

async fn ses_subscriptions_are_confirmed_from_allowed_hosts_only(backend: Backend) {
    let Some((app, p)) = spawn(backend, &[]).await else {
        return;
    };
    let m = p.sns(
        "SubscriptionConfirmation",
        "sub-1",
        "You have chosen to subscribe...",
        1,
        5,
    );
    let (s, body) = post_sns(&app, &m).await;
    assert_eq!((s, body), (StatusCode::OK, summary(0, 0, 0)));
    assert_eq!(p.confirmations.load(Ordering::SeqCst), 1);
    // A SubscribeURL elsewhere is not fetched.
    let mut elsewhere = p.sns("SubscriptionConfirmation", "sub-2", "...", 1, 5);
    elsewhere["SubscribeURL"] =
        format!("https://localhost:{}/confirm?Token=x", p.https.port()).into();
    p.sign_sns(&mut elsewhere);
    let (s, _) = post_sns(&app, &elsewhere).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(p.confirmations.load(Ordering::SeqCst), 1);
    // With confirmations off, the URL is only logged.
    let Some(manual) = spawn_app_with(
        backend,
        &[
            p.overrides(),
            vec![("webhooks.ses_confirm_subscriptions", false.into())],
        ]
        .concat(),
    )
    .await
    else {
        return;
    };
    let m = p.sns("SubscriptionConfirmation", "sub-3", "...", 2, 5);
    assert_eq!(post_sns(&manual, &m).await.0, StatusCode::OK);
    assert_eq!(p.confirmations.load(Ordering::SeqCst), 1);
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn postmark_bounce(id: u64, kind: &str, code: u64, email: &str, details: &str) -> String {
    json!({
        "RecordType": "Bounce", "ID": id, "Type": kind, "TypeCode": code,
        "Name": kind, "Tag": "", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23, "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message.",
        "Details": details, "Email": email, "From": "digest@paperboy.test",
        "BouncedAt": "2026-12-02T16:33:54.9070259Z", "DumpAvailable": true, "Inactive": true,
        "CanActivate": true, "Subject": "Your papers"
    })
    .to_string()
}

async fn postmark_records_bounces_and_complaints_behind_basic_auth(backend: Backend) {
    let Some((app, _p)) = spawn(backend, &[]).await else {
        return;
    };
    for r in ["gone@example.net", "full@example.net", "angry@example.net"] {
        reader(&app, r).await;
    }
    let auth = basic(POSTMARK_USER, POSTMARK_PASSWORD);
    let json_auth = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let hard = postmark_bounce(
        101,
        "HardBounce",
        1,
        "gone@example.net",
        "smtp;550 5.1.1 The email account does not exist",
    );

    // Without credentials, or with wrong ones: 401 and nothing recorded.
    let (s, body) = post(
        &app,
        "postmark",
        &[("content-type", "application/json")],
        hard.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"].as_str().unwrap().contains("basic-auth"),
        "{body}"
    );
    let wrong = basic(POSTMARK_USER, "guess");
    let (s, _) = post(
        &app,
        "postmark",
        &[("authorization", wrong.as_str())],
        hard.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(events(&app).await.is_empty());

    assert_eq!(
        post(&app, "postmark", &json_auth, hard.clone()).await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    // Posted again (Postmark retrying): one event.
    assert_eq!(
        post(&app, "postmark", &json_auth, hard).await,
        (StatusCode::OK, summary(0, 1, 0))
    );
    let soft = postmark_bounce(
        102,
        "SoftBounce",
        4096,
        "full@example.net",
        "452 4.2.2 mailbox full",
    );
    assert_eq!(
        post(&app, "postmark", &json_auth, soft).await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    let complaint = json!({
        "RecordType": "SpamComplaint", "ID": 103, "Type": "SpamComplaint", "TypeCode": 512,
        "Email": "angry@example.net", "Details": "Test spam complaint details",
        "BouncedAt": "2026-12-02T16:40:00Z"
    })
    .to_string();
    assert_eq!(
        post(&app, "postmark", &json_auth, complaint).await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    let delivery = json!({"RecordType": "Delivery", "Recipient": "gone@example.net"}).to_string();
    assert_eq!(
        post(&app, "postmark", &json_auth, delivery).await,
        (StatusCode::OK, summary(0, 0, 1))
    );
    let unknown = postmark_bounce(104, "HardBounce", 1, "nobody@example.org", "550 5.1.1");
    assert_eq!(
        post(&app, "postmark", &json_auth, unknown).await,
        (StatusCode::OK, summary(0, 0, 1))
    );

    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "full@example.net").await,
        SubscriberStatus::Active
    );
    assert_eq!(
        status_of(&app, "angry@example.net").await,
        SubscriberStatus::Suppressed
    );
    let all = events(&app).await;
    let seen: Vec<(String, MailEventKind, EventSource, Option<String>)> = all
        .into_iter()
        .map(|e| (e.email.to_string(), e.kind, e.source, e.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "gone@example.net".into(),
                MailEventKind::HardBounce,
                EventSource::Postmark,
                Some("5.1.1".into())
            ),
            (
                "full@example.net".into(),
                MailEventKind::SoftBounce,
                EventSource::Postmark,
                Some("4.2.2".into())
            ),
            (
                "angry@example.net".into(),
                MailEventKind::Complaint,
                EventSource::Postmark,
                None
            ),
        ]
    );
}

async fn sendgrid_batches_are_taken_only_when_signed_and_fresh(backend: Backend) {
    let Some((app, p)) = spawn(backend, &[]).await else {
        return;
    };
    for r in [
        "gone@example.net",
        "angry@example.net",
        "blocked@example.net",
    ] {
        reader(&app, r).await;
    }
    let now = chrono::Utc::now().timestamp();
    let batch = json!([
        {"email": "gone@example.net", "timestamp": now, "event": "bounce", "type": "bounce",
         "status": "5.1.1", "reason": "550 5.1.1 The email account that you tried to reach does not exist",
         "sg_event_id": "ev-1", "sg_message_id": "m-1"},
        {"email": "angry@example.net", "timestamp": now, "event": "spamreport", "sg_event_id": "ev-2"},
        {"email": "blocked@example.net", "timestamp": now, "event": "bounce", "type": "blocked",
         "status": "4.7.1", "reason": "421 4.7.1 try again later", "sg_event_id": "ev-3"},
        {"email": "gone@example.net", "timestamp": now, "event": "delivered", "sg_event_id": "ev-4"},
        {"email": "nobody@example.org", "timestamp": now, "event": "bounce", "type": "bounce",
         "status": "5.1.1", "reason": "550", "sg_event_id": "ev-5"}
    ])
    .to_string();
    let headers = |sig: &str, ts: &str| -> Vec<(String, String)> {
        vec![
            ("x-twilio-email-event-webhook-signature".into(), sig.into()),
            ("x-twilio-email-event-webhook-timestamp".into(), ts.into()),
            ("content-type".into(), "application/json".into()),
        ]
    };
    let send = |h: Vec<(String, String)>, body: String| {
        let app = &app;
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(app, "sendgrid", &h, body).await
        }
    };

    // Forged: the body changed after signing; signed by another key; no signature; stale.
    let (sig, ts) = p.sendgrid_headers(&batch, now);
    let altered = batch.replace("blocked@example.net", "gone@example.net");
    let (s, body) = send(headers(&sig, &ts), altered).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["error"].as_str().unwrap().contains("does not match"),
        "{body}"
    );
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "other-ec.key",
        ],
        p.dir.path(),
    );
    let other = sign(
        &p.dir.path().join("other-ec.key"),
        "sha256",
        format!("{ts}{batch}").as_bytes(),
    );
    assert_eq!(
        send(headers(&other, &ts), batch.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = post(
        &app,
        "sendgrid",
        &[("content-type", "application/json")],
        batch.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (old_sig, old_ts) = p.sendgrid_headers(&batch, now - 600);
    let (s, body) = send(headers(&old_sig, &old_ts), batch.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("s ago"), "{body}");
    assert!(events(&app).await.is_empty());

    // Signed and fresh: three recorded, a delivery and a stranger ignored.
    assert_eq!(
        send(headers(&sig, &ts), batch.clone()).await,
        (StatusCode::OK, summary(3, 0, 2))
    );
    // The same batch again (a retry, or a replay within the window): nothing new.
    assert_eq!(
        send(headers(&sig, &ts), batch).await,
        (StatusCode::OK, summary(0, 3, 2))
    );
    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "angry@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "blocked@example.net").await,
        SubscriberStatus::Active
    );
    let seen: Vec<(String, MailEventKind, EventSource)> = events(&app)
        .await
        .into_iter()
        .map(|e| (e.email.to_string(), e.kind, e.source))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "gone@example.net".into(),
                MailEventKind::HardBounce,
                EventSource::Sendgrid
            ),
            (
                "angry@example.net".into(),
                MailEventKind::Complaint,
                EventSource::Sendgrid
            ),
            (
                "blocked@example.net".into(),
                MailEventKind::SoftBounce,
                EventSource::Sendgrid
            ),
        ]
    );
}

/// A Mailgun webhook body, signed with `key` at `at` with `token`.
fn mailgun(key: &str, at: i64, token: &str, event: Value) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{at}{token}").as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "signature": {"timestamp": at.to_string(), "token": token, "signature": sig},
        "event-data": event
    })
    .to_string()
}

fn mailgun_failed(
    id: &str,
    severity: &str,
    reason: &str,
    recipient: &str,
    sender: &str,
    code: u16,
    enhanced: &str,
) -> Value {
    json!({
        "event": "failed", "id": id, "timestamp": 1_764_000_000.5, "severity": severity,
        "reason": reason, "recipient": recipient, "log-level": "error",
        "envelope": {"sender": sender, "transport": "smtp", "targets": recipient},
        "delivery-status": {"code": code, "message": format!("{enhanced} mailbox problem"),
                            "description": "", "attempt-no": 1, "enhanced-code": enhanced},
        "message": {"headers": {"message-id": "20261202.abc@paperboy.test"}}
    })
}

async fn mailgun_events_are_taken_only_when_signed_fresh_and_once(backend: Backend) {
    let Some((app, _p)) = spawn(backend, &[]).await else {
        return;
    };
    let tag = reader(&app, "gone@example.net").await;
    reader(&app, "later@example.net").await;
    reader(&app, "tired@example.net").await;
    reader(&app, "angry@example.net").await;
    let now = chrono::Utc::now().timestamp();
    let json_ct = [("content-type", "application/json")];
    let hard = mailgun_failed(
        "mg-1",
        "permanent",
        "bounce",
        "gone@example.net",
        &tag,
        550,
        "5.1.1",
    );

    // Forged (another key), stale, then a token reused on another event: refused.
    let forged = mailgun("not-the-key", now, "tok-1", hard.clone());
    let (s, body) = post(&app, "mailgun", &json_ct, forged).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["error"].as_str().unwrap().contains("does not match"),
        "{body}"
    );
    let stale = mailgun(MAILGUN_KEY, now - 600, "tok-0", hard.clone());
    assert_eq!(
        post(&app, "mailgun", &json_ct, stale).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(events(&app).await.is_empty());

    let good = mailgun(MAILGUN_KEY, now, "tok-1", hard.clone());
    assert_eq!(
        post(&app, "mailgun", &json_ct, good.clone()).await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    // Mailgun posting it again: the same token with the same event, one event recorded.
    assert_eq!(
        post(&app, "mailgun", &json_ct, good).await,
        (StatusCode::OK, summary(0, 1, 0))
    );
    // The captured signature on a forged event for another reader.
    let replay = mailgun(
        MAILGUN_KEY,
        now,
        "tok-1",
        json!({"event": "complained", "id": "mg-x", "recipient": "later@example.net"}),
    );
    let (s, body) = post(&app, "mailgun", &json_ct, replay).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("replay"), "{body}");
    assert_eq!(
        status_of(&app, "later@example.net").await,
        SubscriberStatus::Active
    );

    // Temporary: a delay, noted; given up after ("old"): a soft bounce, noted; a complaint.
    let temporary = mailgun_failed(
        "mg-2",
        "temporary",
        "generic",
        "later@example.net",
        "digest@paperboy.test",
        452,
        "4.2.2",
    );
    assert_eq!(
        post(
            &app,
            "mailgun",
            &json_ct,
            mailgun(MAILGUN_KEY, now, "tok-2", temporary)
        )
        .await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    let old = mailgun_failed(
        "mg-3",
        "permanent",
        "old",
        "tired@example.net",
        "digest@paperboy.test",
        452,
        "4.2.2",
    );
    assert_eq!(
        post(
            &app,
            "mailgun",
            &json_ct,
            mailgun(MAILGUN_KEY, now, "tok-3", old)
        )
        .await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    let complained = json!({"event": "complained", "id": "mg-4", "recipient": "angry@example.net"});
    assert_eq!(
        post(
            &app,
            "mailgun",
            &json_ct,
            mailgun(MAILGUN_KEY, now, "tok-4", complained)
        )
        .await,
        (StatusCode::OK, summary(1, 0, 0))
    );
    let stranger = mailgun_failed(
        "mg-5",
        "permanent",
        "bounce",
        "nobody@example.org",
        "digest@paperboy.test",
        550,
        "5.1.1",
    );
    assert_eq!(
        post(
            &app,
            "mailgun",
            &json_ct,
            mailgun(MAILGUN_KEY, now, "tok-5", stranger)
        )
        .await,
        (StatusCode::OK, summary(0, 0, 1))
    );

    assert_eq!(
        status_of(&app, "gone@example.net").await,
        SubscriberStatus::Suppressed
    );
    assert_eq!(
        status_of(&app, "later@example.net").await,
        SubscriberStatus::Active
    );
    assert_eq!(
        status_of(&app, "tired@example.net").await,
        SubscriberStatus::Active
    );
    assert_eq!(
        status_of(&app, "angry@example.net").await,
        SubscriberStatus::Suppressed
    );
    let all = events(&app).await;
    let seen: Vec<(String, MailEventKind, EventSource, Option<String>)> = all
        .iter()
        .map(|e| (e.email.to_string(), e.kind, e.source, e.status.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "gone@example.net".into(),
                MailEventKind::HardBounce,
                EventSource::Mailgun,
                Some("5.1.1".into())
            ),
            (
                "later@example.net".into(),
                MailEventKind::Delayed,
                EventSource::Mailgun,
                Some("4.2.2".into())
            ),
            (
                "tired@example.net".into(),
                MailEventKind::SoftBounce,
                EventSource::Mailgun,
                Some("4.2.2".into())
            ),
            (
                "angry@example.net".into(),
                MailEventKind::Complaint,
                EventSource::Mailgun,
                None
            ),
        ]
    );
    // The signed envelope sender named the message.
    assert_eq!(all[0].message_kind.as_deref(), Some("subscription_mail"));
    assert_eq!(
        all[0].diagnostic.as_deref(),
        Some("550 5.1.1 mailbox problem")
    );
}

async fn malformed_oversized_and_unconfigured_requests_get_clear_errors(backend: Backend) {
    let Some((app, p)) = spawn(backend, &[("webhooks.max_body_bytes", 4096.into())]).await else {
        return;
    };
    reader(&app, "reader@example.net").await;
    let auth = basic(POSTMARK_USER, POSTMARK_PASSWORD);
    let now = chrono::Utc::now().timestamp();
    let error = |body: &Value, what: &str| {
        let e = body["error"].as_str().unwrap_or_default();
        assert!(e.contains(what), "{what:?} not in {e:?}");
    };

    // Not JSON, to each (SendGrid's signed, so that the body is what is wrong).
    let (s, body) = post(&app, "ses", &[], "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error(&body, "not an SNS message");
    let (s, body) = post(
        &app,
        "postmark",
        &[("authorization", auth.as_str())],
        "[1, 2",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error(&body, "not a Postmark");
    let (sig, ts) = p.sendgrid_headers("{\"email\":", now);
    let (s, body) = post(
        &app,
        "sendgrid",
        &[
            ("x-twilio-email-event-webhook-signature", &sig),
            ("x-twilio-email-event-webhook-timestamp", &ts),
        ],
        "{\"email\":",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error(&body, "SendGrid events");
    let (s, body) = post(&app, "mailgun", &[], "{\"event-data\": {}}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error(&body, "not a Mailgun webhook");
    // An SNS message of a type SNS does not send.
    let mut odd = p.sns("Notification", "odd", "{}", 2, 5);
    odd["Type"] = "Surprise".into();
    let (s, body) = post_sns(&app, &odd).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error(&body, "Surprise");

    // Larger than webhooks.max_body_bytes.
    let big = format!(
        "{{\"RecordType\":\"Bounce\",\"Details\":\"{}\"}}",
        "x".repeat(5000)
    );
    let (s, body) = post(&app, "postmark", &[("authorization", auth.as_str())], big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    error(&body, "webhooks.max_body_bytes");
    assert!(events(&app).await.is_empty());
    assert_eq!(
        status_of(&app, "reader@example.net").await,
        SubscriberStatus::Active
    );

    // A provider that is not configured: 404, saying what to set.
    let Some(plain) = spawn_app_with(backend, &[]).await else {
        return;
    };
    for (provider, key) in [
        ("ses", "ses_topic_arns"),
        ("postmark", "postmark_user"),
        ("sendgrid", "sendgrid_public_key"),
        ("mailgun", "mailgun_signing_key"),
    ] {
        let (s, body) = post(&plain, provider, &[], "{}").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{provider}");
        error(&body, key);
    }
}
