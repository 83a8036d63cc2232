//! Network helpers the SMTP relay's client and the bounce mailbox poller share: reading
//! the parts of a `scheme://user:password@host:port/…` URL, keeping its password out of
//! messages, and the TLS client both use.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, pem::PemObject};

/// `url` with its password (if any) as `***`, for error messages and logs.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{}", &rest[end..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `s` with its `%XX` escapes decoded; `None` for a bad escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `host:port`, `[v6]:port` or a bare host (then `default_port`), as URLs write them; the
/// error says what is wrong. (The relay's URL and the bounce mailbox's.)
pub(crate) fn split_host_port(
    hostport: &str,
    default_port: u16,
) -> Result<(&str, u16), &'static str> {
    let port_of = |p: &str| p.parse::<u16>().map_err(|_| "a port must be a number");
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (h, rest) = bracketed.split_once(']').ok_or("an unclosed [")?;
        match rest.strip_prefix(':') {
            Some(p) => (h, port_of(p)?),
            None if rest.is_empty() => (h, default_port),
            None => return Err("text after ]"),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, port_of(p)?),
            None => (hostport, default_port),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    Ok((host, port))
}

/// A TLS client trusting the public roots and the PEM certificates in `ca_file` (empty:
/// none): the relay's (`mail.tls_ca_file`), SNS certificate fetches
/// (`webhooks.ses_ca_file`) and the bounce mailbox's (`mailbox.tls_ca_file`).
/// The error names the file and what is wrong with it.
pub(crate) fn tls_client_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if !ca_file.as_os_str().is_empty() {
        let bad = |why: String| format!("{}: {why}", ca_file.display());
        let pem = std::fs::read(ca_file)
            .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("a certificate that cannot be trusted: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_url_hides_its_password() {
        assert_eq!(redacted("smtps://u:p@h:465/x?y"), "smtps://u:***@h:465/x?y");
        assert_eq!(redacted("smtp://h:25"), "smtp://h:25");
    }
}
