//! What can go wrong with mail, by when it goes wrong: setting up (a mail setting, found at
//! start), rendering (a template, for one mail) and sending (the relay's answer, for one
//! mail). Each says what went wrong and what to do about it.

/// A mail setting that is wrong. Found when the service starts, before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("mail_from {0:?} is not a valid mailbox (write `Name <address>` or an address)")]
    From(String),
    #[error(
        "smtp_url is not valid: {0} (write smtp://[user:password@]host[:port][?tls=required] or smtps://…, or leave it empty to write mail as .eml files)"
    )]
    SmtpUrl(String),
    #[error(
        "cannot create the mail folder {path}: {source} (make data_dir writable, or set smtp_url to send through a relay)"
    )]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("DKIM: {0}")]
    Dkim(String),
    #[error("{0}")]
    Bounce(String),
    #[error("mail.tls_ca_file: {0}")]
    TlsCa(String),
    #[error(
        "mail templates folder {0}: {1} (set mail.templates_dir to a folder of templates, or to \"\" for the built-in ones)"
    )]
    TemplatesDir(String, String),
    /// A template that does not load (it does not parse, or its CSS cannot be inlined).
    #[error(
        "{0} (mend that template in mail.templates_dir, or remove it there to use the built-in one)"
    )]
    Template(#[from] RenderError),
}

/// One mail that could not be made from its template: nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("mail template {name}: {}", chain(source))]
    Template { name: String, source: tera::Error },
    #[error("inlining the CSS of mail template {name}: {reason}")]
    Inline { name: String, reason: String },
    #[error("building the message: {0}")]
    Build(String),
}

/// What became of a message handed to the relay (or the `.eml` folder).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A 5xx for the recipient: sending it again will not help.
    #[error("the mail server refused the message permanently: {0}")]
    Permanent(String),
    /// A 4xx, a network error, a relay that refused the session or our sender: the same
    /// message may go out later.
    #[error("the mail could not be sent now, try again later: {0}")]
    Transient(String),
}

/// Rendering or sending one mail, as a service that does both sees it.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// tera's error with its causes: its own message only says which template failed
/// ("Failed to render 'x'"), the reason is in its sources.
fn chain(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_error_says_why_it_failed() {
        let mut tera = tera::Tera::default();
        tera.add_raw_template("t", "{{ missing }}").unwrap();
        let source = tera.render("t", &tera::Context::new()).unwrap_err();
        let e = RenderError::Template {
            name: "t".into(),
            source,
        };
        let shown = e.to_string();
        // The cause is tera's source, not its message.
        assert!(
            shown.starts_with("mail template t: Failed to render 't'") && shown.contains("missing"),
            "{shown}"
        );
        let at_start = SetupError::from(e).to_string();
        assert!(
            at_start.contains("missing") && at_start.contains("mail.templates_dir"),
            "{at_start}"
        );
    }
}
