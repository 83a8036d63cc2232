//! `paperboy doctor`: is this installation sound? The configuration, the database and its
//! migrations, free disk space, the relay (a session opened and closed, nothing sent), the
//! bounce settings, the DKIM key and its DNS record, and the clock against the relay's.
//! Each finding says what is wrong and what to do. The database is not created or migrated
//! and no mail is sent; as every command, it makes the `.eml` folder (without a relay) and
//! the generated secret (without `secret`) in `data_dir` if missing. (Beside `health`, not in it: it checks the schedule, and the
//! scheduler beats `health`'s heartbeat.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::clock;
use crate::config::Config;
use crate::health::{State, migration_verdict};
use crate::mail::RelayProbe;
use crate::net::redacted;
use crate::store::Store;

/// One check's outcome.
#[derive(Clone, Debug)]
pub struct Finding {
    pub state: State,
    pub name: &'static str,
    /// What was found, and for a warning or failure what to do.
    pub message: String,
    /// Lines to show below it (the DNS record to publish).
    pub extra: Vec<String>,
}

impl Finding {
    fn new(state: State, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            state,
            name,
            message: message.into(),
            extra: Vec::new(),
        }
    }
}

/// How long the database may take to open and answer.
const DATABASE_BOUND: Duration = Duration::from_secs(5);
/// Less free space than this under the data folder is a warning, and less than this share of
/// its filesystem; less than the last a failure (SQLite cannot checkpoint, mail cannot be
/// written).
pub const DISK_WARN_BYTES: u64 = 1 << 30;
pub const DISK_WARN_PERCENT: u64 = 5;
pub const DISK_FAIL_BYTES: u64 = 100 << 20;
/// The clock against the relay's: within the first is fine, beyond the second a failure
/// (webhook signatures older than 5 minutes are refused as replays, links expire early or late).
pub const SKEW_WARN_SECONDS: i64 = 30;
pub const SKEW_FAIL_SECONDS: i64 = 300;

/// Run every check. A configuration that does not load is the only finding then.
pub async fn doctor(config_file: Option<&Path>) -> Vec<Finding> {
    let config = match Config::load(config_file) {
        Ok(c) => c,
        Err(e) => {
            return vec![Finding::new(
                State::Fail,
                "configuration",
                format!("{e}: mend the file, or the PAPERBOY_* variable, that sets it"),
            )];
        }
    };
    let mut out = vec![configuration(&config)];
    out.extend(database(&config).await);
    out.extend(disk(&config));
    let probe = crate::mail::probe_relay(&config).await;
    out.push(relay(&config, probe.as_ref()));
    out.push(clock_skew(probe.as_ref(), clock::now()));
    out.push(bounces(&config));
    out.extend(dkim(&config));
    out
}

/// Everything `serve` checks at start besides the database: the schedule, the topic
/// catalogue, the mail settings, the bounce listener's TLS, the providers' keys. (A wrong
/// DKIM setting is the DKIM finding's.)
fn configuration(config: &Config) -> Finding {
    let mut problems = Vec::new();
    if config.schedule.enabled
        && let Err(e) = crate::scheduler::Schedule::parse(&config.schedule.cron)
    {
        problems.push(e.to_string());
    }
    if let Err(e) = crate::context::catalogue(config) {
        problems.push(e.to_string());
    }
    match crate::mail::Mailer::from_config(config) {
        Err(crate::mail::SetupError::Dkim(_)) | Ok(_) => {}
        Err(e) => problems.push(e.to_string()),
    }
    if let Err(e) = crate::bounces::listener::tls_acceptor(&config.inbound) {
        problems.push(e);
    }
    if let Err(e) = crate::bounces::webhooks::Setup::from_config(&config.webhooks) {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        Finding::new(State::Ok, "configuration", "loaded and valid")
    } else {
        Finding::new(State::Fail, "configuration", problems.join("; "))
    }
}

/// The database: reachable, and its migrations those of this binary. Opened without
/// creating or migrating anything.
async fn database(config: &Config) -> Vec<Finding> {
    let url = &config.database_url;
    if let Some(file) = Store::sqlite_file(url)
        && !file.exists()
    {
        return vec![Finding::new(
            State::Fail,
            "database",
            format!(
                "the SQLite file {} does not exist: run `paperboy migrate` (or `serve`) to create it, or set database_url",
                file.display()
            ),
        )];
    }
    let start = Instant::now();
    let opened = tokio::time::timeout(DATABASE_BOUND, async {
        let store = Store::connect_without_migrating(url).await?;
        store.ping().await?;
        Ok::<_, crate::store::StoreError>(store)
    })
    .await;
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => {
            return vec![Finding::new(
                State::Fail,
                "database",
                format!(
                    "cannot reach {}: {e}: is the database running, and database_url right?",
                    redacted(url)
                ),
            )];
        }
        Err(_) => {
            return vec![Finding::new(
                State::Fail,
                "database",
                format!(
                    "{} did not answer within {} s: is the database running and reachable from here?",
                    redacted(url),
                    DATABASE_BOUND.as_secs()
                ),
            )];
        }
    };
    let ms = start.elapsed().as_millis();
    let mut out = vec![Finding::new(
        State::Ok,
        "database",
        format!(
            "{} at {}, answered in {ms} ms",
            store.backend(),
            redacted(url)
        ),
    )];
    out.push(match store.migration_state().await {
        Ok(m) => {
            let (state, detail) = migration_verdict(&m);
            Finding::new(state, "migrations", detail)
        }
        Err(e) => Finding::new(
            State::Fail,
            "migrations",
            format!("cannot read the applied migrations: {e}"),
        ),
    });
    store.close().await;
    out
}

/// Free space where paperboy writes: the data folder, and the SQLite file's folder when it
/// is elsewhere.
fn disk(config: &Config) -> Vec<Finding> {
    let mut places = vec![config.data_dir.clone()];
    if let Some(folder) = Store::sqlite_file(&config.database_url)
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .filter(|f| !f.starts_with(&config.data_dir))
    {
        places.push(folder);
    }
    places.iter().map(|p| free_space(p)).collect()
}

fn free_space(place: &Path) -> Finding {
    // A folder not made yet will be made on the filesystem of its nearest parent.
    let mut at: PathBuf = place.to_path_buf();
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p.to_path_buf(),
            _ => {
                at = PathBuf::from(".");
                break;
            }
        }
    }
    let shown = place.display();
    match statvfs(&at) {
        Err(e) => Finding::new(
            State::Warn,
            "disk",
            format!("cannot read the free space of {}: {e}", at.display()),
        ),
        Ok((free, total)) => {
            let percent = free.saturating_mul(100).checked_div(total).unwrap_or(0);
            let said = format!(
                "{} free under {shown} ({percent}% of {})",
                size(free),
                size(total)
            );
            if free < DISK_FAIL_BYTES {
                Finding::new(
                    State::Fail,
                    "disk",
                    format!("{said}: free space now; the database cannot grow nor mail be written"),
                )
            } else if free < DISK_WARN_BYTES || percent < DISK_WARN_PERCENT {
                Finding::new(
                    State::Warn,
                    "disk",
                    format!(
                        "{said}: under {} or {DISK_WARN_PERCENT}%; free space, or move data_dir",
                        size(DISK_WARN_BYTES)
                    ),
                )
            } else {
                Finding::new(State::Ok, "disk", said)
            }
        }
    }
}

/// Bytes available to an unprivileged writer, and the filesystem's size.
#[cfg(unix)]
fn statvfs(path: &Path) -> std::io::Result<(u64, u64)> {
    let s = rustix::fs::statvfs(path)?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

#[cfg(not(unix))]
fn statvfs(_: &Path) -> std::io::Result<(u64, u64)> {
    Err(std::io::Error::other("not measured on this system"))
}

fn size(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / GIB)
    } else {
        format!("{:.0} MiB", bytes as f64 / MIB)
    }
}

fn relay(config: &Config, probe: Option<&Result<RelayProbe, String>>) -> Finding {
    let url = redacted(config.smtp_url.trim());
    match probe {
        None => Finding::new(
            State::Warn,
            "relay",
            format!(
                "smtp_url is empty: mail is written as .eml files under {} and reaches no one; set smtp_url",
                config.data_dir.join("mail").display()
            ),
        ),
        Some(Err(e)) => Finding::new(
            State::Fail,
            "relay",
            format!(
                "no session with {url}: {e}: is the relay running and reachable, and smtp_url (host, port, tls, user and password) right?"
            ),
        ),
        Some(Ok(p)) => {
            let mut steps = vec!["EHLO".to_string()];
            steps.extend(p.tls.map(String::from));
            if p.authenticated {
                steps.push("AUTH".into());
            }
            steps.push("QUIT".into());
            let mut message = format!(
                "{} greets \"{}\"; {} done, nothing sent",
                p.address,
                p.greeting,
                steps.join(", ")
            );
            if p.tls.is_none() && !is_loopback(&p.address) {
                message.push_str(
                    "; the session is not encrypted: use ?tls=required (STARTTLS) or smtps:// for a relay off this machine",
                );
                return Finding::new(State::Warn, "relay", message);
            }
            Finding::new(State::Ok, "relay", message)
        }
    }
}

fn is_loopback(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Our clock against the date in the relay's greeting, when it gives one.
fn clock_skew(probe: Option<&Result<RelayProbe, String>>, now: DateTime<Utc>) -> Finding {
    let Some(Ok(p)) = probe else {
        return Finding::new(
            State::Warn,
            "clock",
            "not compared: no relay answered (check the system clock's NTP sync by hand)",
        );
    };
    let Some(theirs) = greeting_date(&p.greeting) else {
        return Finding::new(
            State::Ok,
            "clock",
            "not given: the relay's greeting carries no date (many do not), so not compared",
        );
    };
    let skew = (now - theirs).num_seconds();
    let said = format!(
        "this machine's clock is {} s {} the relay's ({})",
        skew.abs(),
        if skew >= 0 { "ahead of" } else { "behind" },
        theirs.to_rfc2822()
    );
    if skew.abs() > SKEW_FAIL_SECONDS {
        Finding::new(
            State::Fail,
            "clock",
            format!("{said}: sync both with NTP (e.g. systemd-timesyncd or chrony)"),
        )
    } else if skew.abs() > SKEW_WARN_SECONDS {
        Finding::new(State::Warn, "clock", format!("{said}: check NTP on both"))
    } else {
        Finding::new(State::Ok, "clock", said)
    }
}

/// The RFC 5322 date in an SMTP greeting, as Exim, Sendmail and Exchange write one
/// ("… ESMTP Exim 4.96 Mon, 07 Dec 2026 13:49:20 +0000"); Postfix writes none.
pub fn greeting_date(greeting: &str) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = greeting.split_whitespace().collect();
    (0..words.len())
        .find_map(|i| {
            // With a weekday six words, without five.
            [6, 5].into_iter().find_map(|n| {
                let text = words.get(i..i + n)?.join(" ");
                DateTime::parse_from_rfc2822(text.trim_end_matches([';', ','])).ok()
            })
        })
        .map(|d| d.to_utc())
}

/// The bounce address and what receives its mail, configured together.
fn bounces(config: &Config) -> Finding {
    let address = config.mail.bounce_address.trim();
    let listener = config.inbound.bind.trim();
    let mailbox = config.mailbox.url.trim();
    let providers = crate::bounces::webhooks::Setup::from_config(&config.webhooks)
        .map(|s| s.enabled())
        .unwrap_or_default();
    let by_providers = (!providers.is_empty())
        .then(|| format!("the providers' webhooks ({})", providers.join(", ")));
    match (address.is_empty(), listener.is_empty(), mailbox.is_empty()) {
        (true, _, _) => match by_providers {
            Some(p) => Finding::new(State::Ok, "bounces", format!("reported by {p}")),
            None => Finding::new(
                State::Warn,
                "bounces",
                "mail.bounce_address is empty and no provider webhook is set: bounces go to mail_from's address and nothing records them, so readers whose mail bounces stay subscribed; set mail.bounce_address with inbound.bind or mailbox.url",
            ),
        },
        (false, true, true) => Finding::new(
            State::Fail,
            "bounces",
            format!(
                "mail.bounce_address is {address} but neither inbound.bind nor mailbox.url is set: the bounces come back and nothing reads them; set one"
            ),
        ),
        (false, _, _) => {
            let mut by = Vec::new();
            if !listener.is_empty() {
                by.push(format!(
                    "the SMTP listener on {listener} (route the bounce domain's mail there)"
                ));
            }
            if !mailbox.is_empty() {
                by.push(format!("the mailbox {}", redacted(mailbox)));
            }
            by.extend(by_providers);
            Finding::new(
                State::Ok,
                "bounces",
                format!(
                    "mail to {address} (signed per message) is read by {}",
                    by.join(" and ")
                ),
            )
        }
    }
}

fn dkim(config: &Config) -> Option<Finding> {
    let mail = &config.mail;
    match crate::mail::dkim_record(mail) {
        Err(e) => Some(Finding::new(State::Fail, "dkim", format!("{e}"))),
        Ok(None) => Some(Finding::new(
            State::Warn,
            "dkim",
            "not configured: paperboy does not sign its mail; if your relay signs it, ignore this, else set mail.dkim_domain, mail.dkim_selector and mail.dkim_key_file",
        )),
        Ok(Some(record)) => {
            let domain = mail.dkim_domain.trim().to_ascii_lowercase();
            let from = config
                .mail_from
                .parse::<lettre::message::Mailbox>()
                .map(|m| m.email.domain().to_ascii_lowercase())
                .unwrap_or_default();
            // DMARC passes on DKIM only when the signing domain is the From domain or its parent.
            let aligned = from == domain || from.ends_with(&format!(".{domain}"));
            let mut f = if aligned {
                Finding::new(
                    State::Ok,
                    "dkim",
                    format!(
                        "the key in {} signs for {domain}; publish this TXT record (a DNS provider's form takes the text as one string):",
                        mail.dkim_key_file.display()
                    ),
                )
            } else {
                Finding::new(
                    State::Warn,
                    "dkim",
                    format!(
                        "the key in {} signs for {domain}, but mail comes from {from}: DMARC needs the two aligned; set mail.dkim_domain to {from} (or its parent). The record:",
                        mail.dkim_key_file.display()
                    ),
                )
            };
            f.extra = vec![
                format!("name: {}", record.name),
                format!("text: {}", record.value),
                format!("zone file: {}", record.zone_line()),
            ];
            Some(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_greetings_that_give_one() {
        let d = |g: &str| greeting_date(g).map(|t| t.to_rfc3339());
        assert_eq!(
            d("mx.example.org ESMTP Exim 4.96 Mon, 07 Dec 2026 13:49:20 +0000"),
            Some("2026-12-07T13:49:20+00:00".into())
        );
        assert_eq!(
            d("host ESMTP Sendmail 8.15.2/8.15.2; Mon, 7 Dec 2026 14:49:20 +0100 (CET)"),
            Some("2026-12-07T13:49:20+00:00".into())
        );
        assert_eq!(
            d("host Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026 08:49:20 -0500"),
            Some("2026-12-07T13:49:20+00:00".into())
        );
        assert_eq!(
            d("relay ESMTP 7 Dec 2026 13:49:20 +0000"),
            Some("2026-12-07T13:49:20+00:00".into())
        );
        // Postfix and most others: none.
        assert_eq!(d("mail.example.org ESMTP Postfix (Debian/GNU)"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("Mon, 99 Dec 2026 13:49:20 +0000"), None);
    }

    #[test]
    fn skew_is_judged_both_ways() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T13:49:20Z")
            .unwrap()
            .to_utc();
        let probe = |greeting: &str| {
            Some(Ok(RelayProbe {
                address: "127.0.0.1:25".into(),
                greeting: greeting.into(),
                tls: None,
                authenticated: false,
                pipelining: false,
            }))
        };
        let at = |g: &str| clock_skew(probe(g).as_ref(), now);
        assert_eq!(at("x Mon, 07 Dec 2026 13:49:30 +0000").state, State::Ok);
        let f = at("x Mon, 07 Dec 2026 13:48:00 +0000");
        assert_eq!(f.state, State::Warn);
        assert!(f.message.contains("80 s ahead of"), "{}", f.message);
        let f = at("x Mon, 07 Dec 2026 14:00:00 +0000");
        assert_eq!(f.state, State::Fail);
        assert!(f.message.contains("640 s behind"), "{}", f.message);
        let f = at("sink.test ESMTP");
        assert!((f.state, f.message.contains("not given")) == (State::Ok, true));
        assert_eq!(clock_skew(None, now).state, State::Warn);
    }

    #[test]
    fn a_loopback_relay_may_be_in_the_clear() {
        assert!(
            is_loopback("127.0.0.1:25") && is_loopback("[::1]:25") && is_loopback("localhost:25")
        );
        assert!(!is_loopback("mail.example.org:25") && !is_loopback("10.0.0.1:25"));
    }
}
