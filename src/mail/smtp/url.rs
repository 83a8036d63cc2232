//! The relay's URL: `smtp://` or `smtps://`, with credentials, a hello name and the TLS mode.

use crate::mail::SetupError;
use crate::net::{percent_decode, redacted, split_host_port};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://`: in the clear.
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the relay offers it.
    StartTlsIfOffered,
    /// `smtp://…?tls=required`: STARTTLS or nothing.
    StartTlsRequired,
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
}

pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<(String, String)>,
    pub hello: Option<String>,
}

impl SmtpTarget {
    /// Parse `smtp://[user:pass@]host[:port][/hello-name][?tls=required|opportunistic]` or
    /// `smtps://[user:pass@]host[:port][/hello-name]`.
    pub fn parse(url: &str) -> Result<Self, SetupError> {
        let bad = |why: &str| SetupError::SmtpUrl(format!("{why} in {:?}", redacted(url)));
        let (implicit, rest) = match (url.strip_prefix("smtps://"), url.strip_prefix("smtp://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(bad("expected smtp:// or smtps://")),
        };
        let default_port = if implicit { 465 } else { 25 };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport, default_port).map_err(bad)?;
        let tls = match (implicit, query) {
            (true, "") => TlsMode::Implicit,
            (true, _) => return Err(bad("smtps:// takes no query: it is TLS throughout")),
            (false, "") => TlsMode::Plain,
            (false, "tls=opportunistic") => TlsMode::StartTlsIfOffered,
            (false, "tls=required") => TlsMode::StartTlsRequired,
            _ => return Err(bad("the only query is tls=required or tls=opportunistic")),
        };
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad("bad percent-encoding in the user or password"))
        };
        let credentials = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            Some((user, pass)) => Some((decode(user)?, decode(pass)?)),
            None => None,
        };
        let hello = Some(path.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
            credentials,
            hello,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls, t.credentials),
            ("127.0.0.1", 2525, TlsMode::Plain, None)
        );
        let t =
            SmtpTarget::parse("smtp://me%40x.org:p%3Ass@mail.example.com:587/mx.me?tls=required")
                .unwrap();
        assert_eq!(t.host, "mail.example.com");
        assert_eq!(t.credentials, Some(("me@x.org".into(), "p:ss".into())));
        assert_eq!(
            (t.tls, t.hello.as_deref()),
            (TlsMode::StartTlsRequired, Some("mx.me"))
        );
        assert_eq!(SmtpTarget::parse("smtp://relay").unwrap().port, 25);
        assert_eq!(SmtpTarget::parse("smtp://[::1]:26").unwrap().host, "::1");
        assert_eq!(SmtpTarget::parse("smtp://[::1]").unwrap().port, 25);
        let t = SmtpTarget::parse("smtps://u:p@smtp.example.com").unwrap();
        assert_eq!((t.port, t.tls), (465, TlsMode::Implicit));
        let t = SmtpTarget::parse("smtp://h?tls=opportunistic").unwrap();
        assert_eq!(t.tls, TlsMode::StartTlsIfOffered);
        for bad in [
            "smtp://",
            "smtp://h:port",
            "smtp://h?tls=maybe",
            "http://h",
            "smtp://u:%zz@h",
            "smtps://h?tls=required",
            "smtpx://h",
        ] {
            assert!(SmtpTarget::parse(bad).is_err(), "{bad}");
        }
        // A password never shows in an error.
        let Err(e) = SmtpTarget::parse("smtp://me:s3cret@h:port") else {
            panic!("a bad port is an error");
        };
        assert!(
            !e.to_string().contains("s3cret") && e.to_string().contains("me:***@h:port"),
            "{e}"
        );
    }
}
