//! TLS to the relay (STARTTLS and `smtps://`), with rustls.

use std::sync::Arc;

use rustls::pki_types::ServerName;

use super::socket::{SharedTcp, SharedTls, Socket};
use crate::mail::{SendError, SetupError};
use crate::net::tls_client_config;

/// TLS to the relay: the public roots and the operator's own (`mail.tls_ca_file`).
pub struct RelayTls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl RelayTls {
    /// For the relay `host`; `ca_file` (empty: none) holds more PEM certificates to trust.
    pub fn new(host: &str, ca_file: &std::path::Path) -> Result<Self, SetupError> {
        let config = tls_client_config(ca_file).map_err(SetupError::TlsCa)?;
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| SetupError::SmtpUrl(format!("{host:?} is not a TLS server name: {e}")))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    pub(super) async fn wrap(&self, tcp: SharedTcp) -> Result<Socket, SendError> {
        let stream = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            // A certificate we do not trust is a transient failure: the mail waits, and
            // nothing goes out in the clear.
            .map_err(|e| SendError::Transient(format!("TLS with the relay: {e}")))?;
        Ok(Socket::Tls(SharedTls(Arc::new(std::sync::Mutex::new(
            stream,
        )))))
    }
}
