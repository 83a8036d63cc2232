//! Mail: templates rendered to HTML + text, built into messages, sent through a pooled SMTP
//! transport, or written as `.eml` files when no relay is configured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::Message;
use lettre::message::Mailbox;
use serde::Serialize;
use tera::Context;

pub mod digest;
mod dkim;
mod error;
mod message;
mod smtp;
mod templates;
pub mod transport;
pub mod verp;

pub use error::{MailError, RenderError, SendError, SetupError};
pub use message::{Headers, ListHeaders};
pub use transport::{EmlFolder, Transport};

use crate::config::Config;
use crate::domain::EmailAddress;
pub use digest::{DigestPaper, DigestView, RenderedMail};
pub use dkim::DkimRecord;
pub use smtp::RelayProbe;
use smtp::{RelayTls, SmtpPool, SmtpTarget, TlsMode};
pub use templates::{CssInlining, Templates};

/// Sends and writes: the mail settings, the templates, and where messages go.
pub struct Mailer {
    transport: Arc<dyn Transport>,
    from: Mailbox,
    templates: Templates,
    dkim: Option<dkim::Dkim>,
    /// The signed Return-Path of each message, when `mail.bounce_address` is set.
    verp: Option<verp::Verp>,
    /// Where `.eml` files go when there is no SMTP relay.
    pub file_folder: Option<PathBuf>,
}

impl Mailer {
    /// The mailer the config describes: through the SMTP relay of `smtp_url`, or into
    /// `.eml` files under `data_dir` when it is empty.
    pub fn from_config(config: &Config) -> Result<Self, SetupError> {
        let transport: Arc<dyn Transport> = if config.smtp_url.trim().is_empty() {
            Arc::new(EmlFolder::new(config.data_dir.join("mail"))?)
        } else {
            Arc::new(smtp_pool(config, config.mail.pool_size as usize)?)
        };
        Self::with_transport(config, transport)
    }

    /// The mailer the config describes, its messages handed to `transport`.
    pub(crate) fn with_transport(
        config: &Config,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, SetupError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|_| SetupError::From(config.mail_from.clone()))?;
        let dir = &config.mail.templates_dir;
        let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
        let templates = Templates::load(dir, CssInlining::AtLoad)?;
        Ok(Self {
            file_folder: transport.folder().map(PathBuf::from),
            transport,
            from,
            templates,
            dkim: dkim_config(&config.mail)?,
            verp: verp_config(config)?,
        })
    }

    // A mail goes render -> build -> sign -> send.

    /// Render a mail's `template` (`{template}.html` and `.txt`) with `values` and the
    /// values every mail shows (`common`).
    pub fn render<T: Serialize>(
        &self,
        template: &str,
        subject: String,
        values: &T,
        common: &Context,
    ) -> Result<RenderedMail, RenderError> {
        let mut ctx = Context::from_serialize(values).map_err(|source| RenderError::Template {
            name: template.into(),
            source,
        })?;
        ctx.extend(common.clone());
        Ok(RenderedMail {
            subject,
            html: self
                .templates
                .render_html(&format!("{template}.html"), &ctx)?,
            text: self
                .templates
                .render_text(&format!("{template}.txt"), &ctx)?,
        })
    }

    /// A paper with its HTML card rendered, to be shown in many digests.
    pub fn prepare(&self, paper: DigestPaper) -> Result<DigestPaper, RenderError> {
        digest::prepare(&self.templates, paper)
    }

    /// Render a digest: subject, HTML (CSS inlined) and text.
    pub(crate) fn render_digest(&self, view: &DigestView) -> Result<RenderedMail, RenderError> {
        digest::render(&self.templates, view)
    }

    /// The message a rendered mail is, to `to`, with `headers`.
    pub fn build(
        &self,
        to: &EmailAddress,
        mail: RenderedMail,
        headers: &Headers<'_>,
    ) -> Result<Message, RenderError> {
        message::build(&self.from, to, mail, headers)
    }

    /// The bounce mailbox and its tags, when `mail.bounce_address` is set.
    pub fn verp(&self) -> Option<&verp::Verp> {
        self.verp.as_ref()
    }

    /// Sign (if DKIM is configured) and hand to the transport. With a bounce address set,
    /// the envelope sender names `sent_from` (VERP); else it is the From address.
    pub async fn send(
        &self,
        message: Message,
        sent_from: crate::domain::MessageRef,
    ) -> Result<(), SendError> {
        let mut envelope = message.envelope().clone();
        if let Some(verp) = &self.verp {
            // Checked at start, so not expected: the mail waits (and a reader is never
            // suppressed for our own fault).
            let sender = verp
                .address(sent_from)
                .parse()
                .map_err(|e| SendError::Transient(format!("bounce address: {e}")))?;
            envelope = lettre::address::Envelope::new(Some(sender), envelope.to().to_vec())
                .map_err(|e| SendError::Transient(format!("envelope: {e}")))?;
        }
        let mut formatted = message.formatted();
        if let Some(dkim) = &self.dkim {
            // The key signed a probe at start, so this is not expected; if it happens the
            // mail waits rather than going out unsigned.
            formatted = dkim
                .sign(formatted)
                .map_err(|e| SendError::Transient(format!("DKIM signing failed: {e}")))?;
        }
        self.transport.send(&envelope, &formatted).await
    }

    pub fn describe(&self) -> String {
        self.transport.describe()
    }
}

/// The pool of sessions with the relay of `smtp_url` (which must be set).
fn smtp_pool(config: &Config, max_connections: usize) -> Result<SmtpPool, SetupError> {
    let target = SmtpTarget::parse(config.smtp_url.trim())?;
    let tls = match target.tls {
        TlsMode::Plain => None,
        _ => Some(RelayTls::new(&target.host, &config.mail.tls_ca_file)?),
    };
    let timeout = Duration::from_secs(config.mail.timeout_seconds);
    Ok(SmtpPool::new(target, max_connections, timeout, tls))
}

/// Open a session with the relay of `smtp_url` as delivery does (TCP, TLS, EHLO, STARTTLS,
/// AUTH) and close it with QUIT, sending nothing. `None` when no relay is configured.
pub async fn probe_relay(config: &Config) -> Option<Result<RelayProbe, String>> {
    if config.smtp_url.trim().is_empty() {
        return None;
    }
    Some(match smtp_pool(config, 1) {
        Ok(pool) => pool.probe().await,
        Err(e) => Err(e.to_string()),
    })
}

/// The DNS record that publishes the DKIM key of `mail`, when DKIM is configured; an error
/// when the key cannot be read or cannot sign.
pub fn dkim_record(mail: &crate::config::MailConfig) -> Result<Option<DkimRecord>, SetupError> {
    Ok(dkim_config(mail)?.map(|d| d.record()))
}

/// The DKIM signer from config: all of domain, selector and key file, or none.
fn dkim_config(mail: &crate::config::MailConfig) -> Result<Option<dkim::Dkim>, SetupError> {
    match (
        mail.dkim_domain.trim(),
        mail.dkim_selector.trim(),
        mail.dkim_key_file.as_os_str().is_empty(),
    ) {
        ("", "", true) => Ok(None),
        (domain, selector, false) if !domain.is_empty() && !selector.is_empty() => {
            dkim::Dkim::load(domain, selector, &mail.dkim_key_file).map(Some)
        }
        _ => Err(SetupError::Dkim(
            "set all of mail.dkim_domain, mail.dkim_selector and mail.dkim_key_file, or none"
                .into(),
        )),
    }
}

/// The configured DKIM domain, selector and public key (as its DNS record's `p=` tag,
/// decoded); None when DKIM is not configured.
pub(crate) fn dkim_public_key(
    mail: &crate::config::MailConfig,
) -> Result<Option<(String, String, Vec<u8>)>, SetupError> {
    Ok(dkim_config(mail)?.map(|d| {
        (
            mail.dkim_domain.trim().to_string(),
            mail.dkim_selector.trim().to_string(),
            d.public_key().to_vec(),
        )
    }))
}

/// The VERP signer from `mail.bounce_address`, keyed with the service's signing key.
fn verp_config(config: &Config) -> Result<Option<verp::Verp>, SetupError> {
    let address = config.mail.bounce_address.trim();
    if address.is_empty() {
        return Ok(None);
    }
    let key = config
        .signing_key()
        .map_err(|e| SetupError::Bounce(format!("the signing key: {e}")))?;
    verp::Verp::new(address, &key)
        .map(Some)
        .map_err(SetupError::Bounce)
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
