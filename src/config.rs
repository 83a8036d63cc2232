//! One typed configuration: `config/default.toml` (built in), then an optional file, then
//! `PAPERBOY_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub(crate) const DEFAULT_TOML: &str = include_str!("../config/default.toml");
pub(crate) const BUILTIN_TOPICS: &str = include_str!("../config/topics.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub base_url: String,
    pub secret: String,
    pub admin_token: String,
    pub smtp_url: String,
    pub mail_from: String,
    pub data_dir: PathBuf,
    pub topics_file: PathBuf,
    pub trust_forwarded_for: bool,
    pub operator: OperatorConfig,
    pub subscribe: SubscribeConfig,
    pub limits: LimitsConfig,
    pub mail: MailConfig,
    pub ingest: IngestConfig,
    pub matching: crate::matching::Weights,
    pub delivery: DeliveryConfig,
    pub schedule: ScheduleConfig,
    pub bounces: BouncesConfig,
    pub inbound: InboundConfig,
    pub webhooks: WebhooksConfig,
    pub mailbox: MailboxConfig,
    pub retention: RetentionConfig,
    pub health: HealthConfig,
}

/// What `/readyz` counts as late (`src/health`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// The longest a check (each database query) may take before it fails.
    pub check_timeout_ms: u64,
    /// A due mail waiting this long is a warning, this long a failure.
    pub outbox_warn_seconds: i64,
    pub outbox_fail_seconds: i64,
    /// The last successful ingest this long ago is a warning, this long a failure (a
    /// warning only when the scheduler is off: something else may ingest then).
    pub ingest_warn_hours: i64,
    pub ingest_fail_hours: i64,
}

/// When bounces suppress a reader (the rule is `domain::BouncePolicy`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BouncesConfig {
    pub soft_limit: u32,
    pub soft_window_days: u32,
}

impl BouncesConfig {
    pub fn policy(&self) -> crate::domain::BouncePolicy {
        crate::domain::BouncePolicy {
            soft_limit: self.soft_limit,
            soft_window_days: self.soft_window_days,
        }
    }
}

/// The built-in SMTP listener that receives bounces and complaints.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundConfig {
    /// `host:port`; empty: off.
    pub bind: String,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    /// The longest wait for a client's next line.
    pub idle_timeout_seconds: u64,
    /// The longest a whole session may last.
    pub session_timeout_seconds: u64,
    /// PEM certificate chain and key for STARTTLS; empty: not offered.
    pub tls_cert_file: PathBuf,
    pub tls_key_file: PathBuf,
}

/// Bounce and complaint events posted by mail providers (`/webhooks/<provider>`); each
/// provider is off until its keys are set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// The largest body taken (providers batch: SendGrid up to 768 KB, SNS up to 256 KB).
    pub max_body_bytes: usize,
    /// SendGrid and Mailgun: an event signed longer ago than this is refused as a replay.
    pub max_age_seconds: i64,
    /// Amazon SES through SNS: the topics whose notifications are taken; empty: off.
    pub ses_topic_arns: Vec<String>,
    /// Hosts SNS signing certificates (and subscription confirmations) may come from; a `*`
    /// stands for one DNS label.
    pub ses_cert_hosts: Vec<String>,
    /// PEM certificates trusted for fetching them besides the public roots; empty: none.
    pub ses_ca_file: PathBuf,
    /// An SNS message older than this is refused.
    pub ses_max_age_seconds: i64,
    /// Confirm a subscription by fetching its SubscribeURL; false: log it for the operator.
    pub ses_confirm_subscriptions: bool,
    /// Postmark: the basic-auth user and password in the webhook URL; empty: off.
    pub postmark_user: String,
    pub postmark_password: String,
    /// SendGrid: the signed event webhook's verification key (base64); empty: off.
    pub sendgrid_public_key: String,
    /// Mailgun: the HTTP webhook signing key; empty: off.
    pub mailgun_signing_key: String,
}

/// The IMAP mailbox that bounces and complaints are delivered to, read by `serve`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// `imaps://user:password@host[:port]/FOLDER` or `imap://…?tls=starttls|none`; empty: off.
    pub url: String,
    /// Seconds between two polls.
    pub poll_seconds: u64,
    /// Where processed mail is moved (created if missing); empty: it is flagged instead.
    pub processed_folder: String,
    /// PEM certificates trusted for the server's TLS besides the public roots; empty: none.
    pub tls_ca_file: PathBuf,
    /// The longest wait for one answer of the server.
    pub timeout_seconds: u64,
}

/// How long each kind of data is kept (days; 0 keeps it forever). Applied once a day by the
/// scheduler and by `paperboy maintenance run`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// A digest's reasons are dropped after this many days (its papers, in order, stay).
    pub digest_content_days: u32,
    /// Digests, their delivery attempts and the record of who was sent each paper.
    pub digests_days: u32,
    /// Confirmation, "already subscribed" and welcome mails and their attempts.
    pub subscription_mails_days: u32,
    /// Bounce and complaint events (the suppressions they caused stay).
    pub mail_events_days: u32,
    pub ingest_runs_days: u32,
    /// The audit log of operators' changes.
    pub audit_days: u32,
    /// Papers no digest, rating or liked list refers to.
    pub papers_days: u32,
}

/// When `serve` runs the daily job.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub enabled: bool,
    pub cron: String,
}

/// How the outbox is delivered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Messages in flight at once.
    pub concurrency: usize,
    /// Messages per second at most; 0 = no limit.
    pub rate_per_second: u32,
    /// How long a claimed digest stays with its worker before another may take it.
    pub lease_seconds: i64,
    /// Attempts before a digest is given up as failed.
    pub max_attempts: i64,
    /// The first retry waits this long; each next one twice as long.
    pub retry_after_seconds: i64,
    /// Digests claimed per round trip.
    pub batch: i64,
    /// How often `serve` looks for subscription mails queued by other instances and for
    /// retries come due (a sign-up in the same process wakes it at once).
    pub poll_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub user_agent: String,
    pub huggingface_url: String,
    pub huggingface_mode: HuggingFaceMode,
    pub arxiv_rss_url: String,
    pub arxiv_api_url: String,
    pub arxiv_categories: Vec<String>,
    pub connect_timeout_seconds: u64,
    pub read_timeout_seconds: u64,
    pub max_response_bytes: usize,
    pub retries: u32,
    pub backoff_ms: u64,
    pub arxiv_api_interval_ms: u64,
    pub arxiv_api_batch: usize,
}

/// Where a day of Hugging Face Daily Papers is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HuggingFaceMode {
    /// `/api/daily_papers?date=D` (JSON).
    Api,
    /// The `/papers/date/D` page (HTML).
    Page,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub name: String,
    pub postal_address: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeConfig {
    pub confirm_ttl_hours: u32,
    pub manage_ttl_days: u32,
    pub max_mails_per_address_per_hour: u32,
    pub max_mails_per_client_per_hour: u32,
    pub min_submit_seconds: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub posts_per_minute: u32,
    pub post_burst: u32,
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub pool_size: u32,
    pub timeout_seconds: u64,
    /// Folder of the operator's own mail templates; empty: the built-in ones.
    pub templates_dir: PathBuf,
    /// DKIM signing: all three set, or none.
    pub dkim_domain: String,
    pub dkim_selector: String,
    pub dkim_key_file: PathBuf,
    /// PEM certificates trusted for the relay's TLS besides the public roots; empty: none.
    pub tls_ca_file: PathBuf,
    /// Envelope sender of every message, tagged per message (VERP); empty: `mail_from`.
    pub bounce_address: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: {var} and {var}_FILE are both set: set one of them")]
    BothSet { var: String },
    #[error("configuration: cannot read {var}_FILE {path}: {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration: {var}_FILE {path} is {problem}")]
    BadSecretFile {
        var: String,
        path: PathBuf,
        problem: &'static str,
    },
}

/// The keys that may be read from a file named by `PAPERBOY_<KEY>_FILE` instead of the
/// environment (a secret the service manager or the container runtime mounts as a file,
/// which `ps e` and `/proc/PID/environ` do not show).
const FILE_KEYS: [&str; 3] = ["secret", "admin_token", "smtp_url"];

/// The values of the `FILE_KEYS` named by `PAPERBOY_<KEY>_FILE` in `env`: each file's text
/// with one trailing newline removed (editors and `echo` add one; a secret never ends in one).
fn secrets_from_files(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let mut found = Vec::new();
    for key in FILE_KEYS {
        let var = format!("PAPERBOY_{}", key.to_ascii_uppercase());
        let Some(path) = env(&format!("{var}_FILE")) else {
            continue;
        };
        if env(&var).is_some() {
            return Err(ConfigError::BothSet { var });
        }
        let path = PathBuf::from(path);
        let bytes = std::fs::read(&path).map_err(|source| ConfigError::SecretFile {
            var: var.clone(),
            path: path.clone(),
            source,
        })?;
        let bad = |problem| ConfigError::BadSecretFile {
            var: var.clone(),
            path: path.clone(),
            problem,
        };
        let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
        let value = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        // An empty file named on purpose is a mistake (a secret not yet written), not a wish
        // for the empty value's meaning (a generated key, .eml files, no admin API).
        if value.is_empty() {
            return Err(bad("empty"));
        }
        found.push((key, value.to_string()));
    }
    Ok(found)
}

impl RetentionConfig {
    /// Windows that would take away what another part still reads are refused.
    fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        let short = |key: &str, days: u32, needs: u32, why: &str| {
            if days != 0 && days < needs {
                Err(ConfigError::Invalid(format!(
                    "retention.{key} = {days} is shorter than {needs} days, which {why}; raise it (or 0 to keep forever)"
                )))
            } else {
                Ok(())
            }
        };
        short(
            "mail_events_days",
            self.mail_events_days,
            c.bounces.soft_window_days.max(1),
            "bounces.soft_window_days counts soft bounces over",
        )?;
        // A reader's hourly limits count the mails of the last hour; a day covers it.
        short(
            "subscription_mails_days",
            self.subscription_mails_days,
            1,
            "the hourly limits on confirmation mails count back",
        )?;
        // Composing skips papers sent to a reader before; a week covers the weekly digest.
        short(
            "digests_days",
            self.digests_days,
            8,
            "a weekly digest looks back over",
        )?;
        if self.digests_days != 0
            && self.digest_content_days != 0
            && self.digest_content_days > self.digests_days
        {
            return Err(ConfigError::Invalid(format!(
                "retention.digest_content_days = {} is longer than retention.digests_days = {}: content cannot outlive its digest",
                self.digest_content_days, self.digests_days
            )));
        }
        Ok(())
    }
}

impl Config {
    /// Defaults, then `file` (if given), then the environment, where `PAPERBOY_SECRET_FILE`,
    /// `PAPERBOY_ADMIN_TOKEN_FILE` and `PAPERBOY_SMTP_URL_FILE` name files to read those keys
    /// from.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        // PAPERBOY_CONFIG and PAPERBOY_LOG are read elsewhere; PAPERBOY_TEST_* and
        // PAPERBOY_REQUIRE_* belong to the test suite. Any other unknown name is an error.
        let env = Env::prefixed("PAPERBOY_")
            .filter(|k| {
                let k = k.as_str().to_ascii_lowercase();
                !(k == "config"
                    || k == "log"
                    || k.starts_with("test_")
                    || k.starts_with("require_")
                    || FILE_KEYS.iter().any(|f| k == format!("{f}_file")))
            })
            .split("__");
        let mut figment = figment.merge(env);
        for (key, value) in secrets_from_files(|name| std::env::var_os(name))? {
            figment = figment.merge((key, value));
        }
        Self::from_figment(figment)
    }

    /// Defaults with a few keys replaced: for tests and tools.
    pub fn with_overrides(pairs: &[(&str, toml::Value)]) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        for (k, v) in pairs {
            figment = figment.merge((*k, v.clone()));
        }
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut c: Config = figment.extract().map_err(Box::new)?;
        c.base_url = c.base_url.trim_end_matches('/').to_string();
        if !(c.base_url.starts_with("http://") || c.base_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "base_url {:?} must start with http:// or https://",
                c.base_url
            )));
        }
        if !c.secret.is_empty() && c.secret.len() < 32 {
            return Err(ConfigError::Invalid(
                "secret must be at least 32 characters (or empty to generate one)".into(),
            ));
        }
        if !c.inbound.bind.trim().is_empty() {
            if c.inbound.bind.trim().parse::<SocketAddr>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "inbound.bind {:?} is not host:port (for example 127.0.0.1:2525), or empty for no listener",
                    c.inbound.bind
                )));
            }
            if c.mail.bounce_address.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "inbound.bind is set but mail.bounce_address is empty: the listener takes mail only for the bounce address".into(),
                ));
            }
        }
        if c.webhooks.postmark_user.is_empty() != c.webhooks.postmark_password.is_empty() {
            return Err(ConfigError::Invalid(
                "webhooks.postmark_user and webhooks.postmark_password must be set together (or both empty: the Postmark webhook is off)".into(),
            ));
        }
        if !c.mailbox.url.trim().is_empty() && c.mail.bounce_address.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "mailbox.url is set but mail.bounce_address is empty: the poller records only bounces to the signed bounce address".into(),
            ));
        }
        let h = &c.health;
        if h.check_timeout_ms == 0
            || h.outbox_warn_seconds > h.outbox_fail_seconds
            || h.ingest_warn_hours > h.ingest_fail_hours
            || h.outbox_warn_seconds < 0
            || h.ingest_warn_hours < 0
        {
            return Err(ConfigError::Invalid(
                "health: check_timeout_ms must be at least 1, and each *_warn_* at least 0 and at most its *_fail_*".into(),
            ));
        }
        if c.limits.posts_per_minute == 0 || c.limits.post_burst == 0 {
            return Err(ConfigError::Invalid(
                "limits.posts_per_minute and limits.post_burst must be at least 1".into(),
            ));
        }
        c.retention.validate(&c)?;
        Ok(c)
    }

    /// The signing key if there is one yet (configured, or generated earlier into the data
    /// folder); never generates one.
    pub(crate) fn existing_signing_key(&self) -> Option<Vec<u8>> {
        if !self.secret.is_empty() {
            return Some(self.secret.as_bytes().to_vec());
        }
        match std::fs::read_to_string(self.data_dir.join("secret")) {
            Ok(s) if s.trim().len() >= 32 => Some(s.trim().as_bytes().to_vec()),
            _ => None,
        }
    }

    /// The signing key: the configured one, or one generated once and kept in the data folder.
    pub(crate) fn signing_key(&self) -> std::io::Result<Vec<u8>> {
        if let Some(key) = self.existing_signing_key() {
            return Ok(key);
        }
        let path = self.data_dir.join("secret");
        std::fs::create_dir_all(&self.data_dir)?;
        let key = crate::tokens::random_id(32);
        write_private(&path, &key)?;
        tracing::info!(path = %path.display(), "generated a new signing key");
        Ok(key.into_bytes())
    }

    /// The topic catalogue text: the configured file, or the built-in catalogue when
    /// `topics_file` is empty.
    pub(crate) fn topics_toml(&self) -> std::io::Result<String> {
        if self.topics_file.as_os_str().is_empty() {
            Ok(BUILTIN_TOPICS.to_string())
        } else {
            std::fs::read_to_string(&self.topics_file)
        }
    }

    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_overrides_apply() {
        let c = Config::with_overrides(&[("bind", "127.0.0.1:0".into())]).unwrap();
        assert_eq!(c.bind.port(), 0);
        assert_eq!(c.subscribe.confirm_ttl_hours, 48);
        assert!(Config::with_overrides(&[("secret", "short".into())]).is_err());
        assert!(Config::with_overrides(&[("base_url", "ftp://x".into())]).is_err());
        assert_eq!(c.ingest.huggingface_mode, HuggingFaceMode::Api);
        let page = Config::with_overrides(&[("ingest.huggingface_mode", "page".into())]).unwrap();
        assert_eq!(page.ingest.huggingface_mode, HuggingFaceMode::Page);
        let e = Config::with_overrides(&[("ingest.huggingface_mode", "html".into())]).unwrap_err();
        assert!(e.to_string().contains("api"), "{e}");
        // A mailbox to poll needs the bounce address whose tags it looks for.
        let url = "imaps://u:p@mail.example.org/INBOX";
        let e = Config::with_overrides(&[("mailbox.url", url.into())]).unwrap_err();
        assert!(e.to_string().contains("mail.bounce_address"), "{e}");
        Config::with_overrides(&[
            ("mailbox.url", url.into()),
            ("mail.bounce_address", "bounces@example.org".into()),
        ])
        .unwrap();
    }

    /// `PAPERBOY_<KEY>_FILE`: the file's text less one trailing newline; both ways at once, an
    /// unreadable, empty or non-UTF-8 file are errors that name the variable and the path.
    #[test]
    fn secrets_are_read_from_files() {
        use std::collections::HashMap;
        use std::ffi::OsString;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, content: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            path.into_os_string()
        };
        let lookup = |vars: Vec<(&str, OsString)>| {
            let vars: HashMap<String, OsString> =
                vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            move |name: &str| vars.get(name).cloned()
        };

        let secret = "s".repeat(40);
        let found = secrets_from_files(lookup(vec![
            (
                "PAPERBOY_SECRET_FILE",
                file("secret", format!("{secret}\n").as_bytes()),
            ),
            ("PAPERBOY_ADMIN_TOKEN_FILE", file("token", b"tok en\r\n")),
            (
                "PAPERBOY_SMTP_URL_FILE",
                file("smtp", b"smtp://u:p@relay:587\n\n"),
            ),
            ("PAPERBOY_MAIL_FROM", "x@example.org".into()),
        ]))
        .unwrap();
        assert_eq!(
            found,
            vec![
                ("secret", secret.clone()),
                ("admin_token", "tok en".to_string()),
                // Only one newline is removed: the value is what the file says.
                ("smtp_url", "smtp://u:p@relay:587\n".to_string()),
            ]
        );
        assert_eq!(secrets_from_files(lookup(vec![])).unwrap(), vec![]);

        let e = secrets_from_files(lookup(vec![
            ("PAPERBOY_ADMIN_TOKEN", "x".into()),
            ("PAPERBOY_ADMIN_TOKEN_FILE", file("t2", b"y")),
        ]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: PAPERBOY_ADMIN_TOKEN and PAPERBOY_ADMIN_TOKEN_FILE are both set: set one of them"
        );

        let missing = dir.path().join("nope");
        let e = secrets_from_files(lookup(vec![(
            "PAPERBOY_SECRET_FILE",
            missing.clone().into_os_string(),
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!(
                "configuration: cannot read PAPERBOY_SECRET_FILE {}: ",
                missing.display()
            )),
            "{e}"
        );
        let e = secrets_from_files(lookup(vec![(
            "PAPERBOY_SECRET_FILE",
            dir.path().as_os_str().to_owned(),
        )]))
        .unwrap_err();
        assert!(matches!(e, ConfigError::SecretFile { .. }), "a folder: {e}");

        for (content, problem) in [(&b"\n"[..], "empty"), (b"\xff\xfe\n", "not UTF-8 text")] {
            let path = file("bad", content);
            let e = secrets_from_files(lookup(vec![("PAPERBOY_SMTP_URL_FILE", path.clone())]))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "configuration: PAPERBOY_SMTP_URL_FILE {} is {problem}",
                    PathBuf::from(path).display()
                )
            );
        }
    }
}
