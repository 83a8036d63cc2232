//! Mail: templates rendered to HTML + text, built into messages, sent through a pooled SMTP
//! transport, or written as `.eml` files when no relay is configured.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tera::Context;

pub mod digest;
mod outgoing;
mod smtp;
mod templates;

pub use outgoing::DigestHeaders;

use crate::config::Config;
use crate::domain::EmailAddress;
pub use digest::{DigestPaper, DigestView, RenderedMail};
use smtp::{RelayTls, SmtpPool, SmtpTarget, TlsMode};
pub use templates::{CssInlining, Templates};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail_from {0:?} is not a valid mailbox (write `Name <address>` or an address)")]
    From(String),
    #[error("smtp_url is not valid: {0}")]
    SmtpUrl(String),
    #[error("cannot create the mail folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error("DKIM: {0}")]
    Dkim(String),
    #[error("mail.tls_ca_file: {0}")]
    TlsCa(String),
    #[error("mail template {name}: {source}")]
    Template { name: String, source: tera::Error },
    #[error("mail templates folder {0}: {1}")]
    TemplatesDir(String, String),
    #[error("inlining the CSS of mail template {name}: {reason}")]
    Inline { name: String, reason: String },
    #[error("building the message: {0}")]
    Build(String),
    #[error("the mail server refused the message permanently: {0}")]
    Permanent(String),
    #[error("the mail could not be sent now, try again later: {0}")]
    Transient(String),
}

enum Transport {
    /// `smtp://` and `smtps://`: our pool of connections (see `smtp.rs`).
    Pool(Box<SmtpPool>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Templates,
    dkim: Option<lettre::message::dkim::DkimConfig>,
    /// Where `.eml` files go when there is no SMTP relay.
    pub file_folder: Option<PathBuf>,
}

/// One mail to render: its template name and the values it shows.
pub struct Mail<'a, T: Serialize> {
    pub template: &'static str,
    pub subject: String,
    pub to: &'a EmailAddress,
    pub values: &'a T,
    /// Extra headers, e.g. List-Unsubscribe; values are never user text.
    pub list_unsubscribe: Option<String>,
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|_| MailError::From(config.mail_from.clone()))?;
        let dir = &config.mail.templates_dir;
        let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
        let templates = Templates::load(dir, CssInlining::AtLoad)?;
        let (transport, file_folder) = if config.smtp_url.trim().is_empty() {
            let folder = config.data_dir.join("mail");
            std::fs::create_dir_all(&folder)
                .map_err(|e| MailError::Folder(folder.display().to_string(), e))?;
            (
                Transport::Files(AsyncFileTransport::new(&folder)),
                Some(folder),
            )
        } else {
            let target = SmtpTarget::parse(config.smtp_url.trim())?;
            let tls = match target.tls {
                TlsMode::Plain => None,
                _ => Some(RelayTls::new(&target.host, &config.mail.tls_ca_file)?),
            };
            let timeout = Duration::from_secs(config.mail.timeout_seconds);
            let pool = SmtpPool::new(target, config.mail.pool_size as usize, timeout, tls);
            (Transport::Pool(Box::new(pool)), None)
        };
        Ok(Self {
            transport,
            from,
            templates,
            file_folder,
            dkim: dkim_config(&config.mail)?,
        })
    }

    fn render<T: Serialize>(
        &self,
        name: &str,
        values: &T,
        extra: &Context,
    ) -> Result<String, MailError> {
        let mut ctx = Context::from_serialize(values).map_err(|source| MailError::Template {
            name: name.into(),
            source,
        })?;
        ctx.extend(extra.clone());
        if name.ends_with(".html") {
            self.templates.render_html(name, &ctx)
        } else {
            self.templates.render_text(name, &ctx)
        }
    }

    /// A paper with its HTML card rendered, to be shown in many digests.
    pub fn prepare(&self, paper: DigestPaper) -> Result<DigestPaper, MailError> {
        self.templates.prepare(paper)
    }

    /// Render a digest: subject, HTML (CSS inlined) and text.
    pub fn render_digest(&self, view: &DigestView) -> Result<RenderedMail, MailError> {
        self.templates.render_digest(view)
    }

    /// Render both parts of a mail and build the message.
    pub fn build<T: Serialize>(
        &self,
        mail: &Mail<'_, T>,
        common: &Context,
    ) -> Result<Message, MailError> {
        let html = self.render(&format!("{}.html", mail.template), mail.values, common)?;
        let text = self.render(&format!("{}.txt", mail.template), mail.values, common)?;
        let to: Mailbox = mail
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date_now();
        if let Some(lu) = &mail.list_unsubscribe {
            builder = builder
                .header(ListUnsubscribe(lu.clone()))
                .header(ListUnsubscribePost);
        }
        builder
            .multipart(outgoing::alternative(text, html))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    pub async fn send(&self, mut message: Message) -> Result<(), MailError> {
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        match &self.transport {
            Transport::Pool(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Transport::Files(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Transient(e.to_string())),
        }
    }

    /// Render, build and send.
    pub async fn deliver<T: Serialize>(
        &self,
        mail: &Mail<'_, T>,
        common: &Context,
    ) -> Result<(), MailError> {
        let message = self.build(mail, common)?;
        self.send(message).await
    }

    pub fn describe(&self) -> String {
        match (&self.transport, &self.file_folder) {
            (Transport::Files(_), Some(f)) => format!(
                "no SMTP relay configured: mail is written as .eml files to {}",
                f.display()
            ),
            _ => "mail goes to the configured SMTP relay".into(),
        }
    }
}

/// The DKIM key from config: all of domain, selector and key file, or none.
fn dkim_config(
    mail: &crate::config::MailConfig,
) -> Result<Option<lettre::message::dkim::DkimConfig>, MailError> {
    use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
    let key_file = mail.dkim_key_file.as_os_str();
    match (
        mail.dkim_domain.trim(),
        mail.dkim_selector.trim(),
        key_file.is_empty(),
    ) {
        ("", "", true) => Ok(None),
        (domain, selector, false) if !domain.is_empty() && !selector.is_empty() => {
            let text = std::fs::read_to_string(&mail.dkim_key_file).map_err(|e| {
                MailError::Dkim(format!("cannot read {}: {e}", mail.dkim_key_file.display()))
            })?;
            let algorithm = if text.contains("BEGIN RSA PRIVATE KEY") {
                DkimSigningAlgorithm::Rsa
            } else {
                DkimSigningAlgorithm::Ed25519
            };
            let key = DkimSigningKey::new(text.trim(), algorithm).map_err(|e| {
                MailError::Dkim(format!(
                    "{} is neither a PKCS#1 RSA PEM (openssl genrsa -traditional 2048) nor a base64 Ed25519 key: {e}",
                    mail.dkim_key_file.display()
                ))
            })?;
            Ok(Some(DkimConfig::default_config(
                selector.to_string(),
                domain.to_string(),
                key,
            )))
        }
        _ => Err(MailError::Dkim(
            "set all of mail.dkim_domain, mail.dkim_selector and mail.dkim_key_file, or none"
                .into(),
        )),
    }
}

/// RFC 2369 `List-Unsubscribe`.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 8058 one-click unsubscribe.
#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// HTML-escape the five characters that matter in text and quoted attributes. (Tera's
/// default also escapes `/`, which mangles every URL in an href for no gain.)
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    let mut done = 0;
    for (i, b) in input.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.push_str(&input[done..i]);
        out.push_str(entity);
        done = i + 1;
    }
    out.push_str(&input[done..]);
    out
}
