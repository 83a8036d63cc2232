//! One poll's IMAP session: connect, TLS (implicit or STARTTLS), greeting, LOGIN, then the
//! folder is read (`folder.rs`) and the session logged out.

use async_imap::Client;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::target::ImapTls;
use super::{MailboxError, PollReport, Poller, Stream};

impl Poller {
    /// Read the mailbox once.
    pub async fn poll(&mut self) -> Result<PollReport, MailboxError> {
        let addr = self.target.addr();
        let tcp = self
            .within("connecting", async {
                TcpStream::connect((self.target.host.as_str(), self.target.port))
                    .await
                    .map_err(|source| MailboxError::Connect {
                        addr: addr.clone(),
                        source,
                    })
            })
            .await?;
        let _ = tcp.set_nodelay(true);
        match self.target.tls {
            ImapTls::None => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.poll_on(client).await
            }
            ImapTls::Implicit => {
                let tls = self.tls_over(tcp).await?;
                let mut client = Client::new(tls);
                self.greeting(&mut client).await?;
                self.poll_on(client).await
            }
            ImapTls::StartTls => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.within("STARTTLS", async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| self.imap_error("STARTTLS", e))
                })
                .await?;
                // No second greeting after STARTTLS (RFC 3501 §6.2.1).
                let tls = self.tls_over(client.into_inner()).await?;
                self.poll_on(Client::new(tls)).await
            }
        }
    }

    async fn tls_over(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, MailboxError> {
        let connector = self.tls.as_ref().expect("a TLS connector for a TLS URL");
        let name = ServerName::try_from(self.target.host.clone())
            .expect("checked when the poller was made");
        self.within("TLS handshake", async {
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| MailboxError::Tls {
                    addr: self.target.addr(),
                    reason: e.to_string(),
                })
        })
        .await
    }

    async fn greeting<T: Stream>(&self, client: &mut Client<T>) -> Result<(), MailboxError> {
        self.within("greeting", async {
            match client.read_response().await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => {
                    Err(self.imap_error("greeting", async_imap::error::Error::ConnectionLost))
                }
                Err(e) => Err(self.imap_error("greeting", e.into())),
            }
        })
        .await
    }

    /// Log in and read the folder, on a connection greeted (and secured) already.
    async fn poll_on<T: Stream>(&mut self, client: Client<T>) -> Result<PollReport, MailboxError> {
        let (user, password) = (self.target.user.clone(), self.target.password.clone());
        let mut session = self
            .within("LOGIN", async {
                client
                    .login(&user, &password)
                    .await
                    .map_err(|(e, _)| MailboxError::Login {
                        addr: self.target.addr(),
                        user: user.clone(),
                        reason: e.to_string(),
                    })
            })
            .await?;
        let report = self.read_folder(&mut session).await;
        // A clean goodbye when we can; the poll's outcome does not depend on it.
        let _ = tokio::time::timeout(self.timeout, session.logout()).await;
        report
    }
}
