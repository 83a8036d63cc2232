//! One session with the relay: each transaction written straight to the socket (pipelined
//! when the relay allows), the replies read through lettre's client, and AUTH.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Auth, Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::{Category, Code, Detail, Response, Severity};

use super::socket::Socket;
use crate::mail::SendError;

/// One session with the relay.
pub(super) struct Connection {
    pub(super) smtp: AsyncSmtpConnection,
    /// Our handle on the session's socket.
    pub(super) socket: Socket,
    /// The relay announced PIPELINING, 8BITMIME, SMTPUTF8 (after STARTTLS, if any).
    pub(super) pipelining: bool,
    pub(super) eightbitmime: bool,
    pub(super) smtputf8: bool,
    /// A write or read of ours failed, or a message was left half-sent: not to be reused.
    pub(super) broken: bool,
}

impl Connection {
    pub(super) fn is_broken(&self) -> bool {
        self.broken || self.smtp.has_broken()
    }

    /// Send one message.
    pub(super) async fn send(
        &mut self,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        let mut socket = self.socket.clone();
        // What lettre would say in MAIL, by what the relay announced after STARTTLS.
        let mut parameters = Vec::new();
        if !ascii_envelope(envelope) {
            if !self.smtputf8 {
                return Err(SendError::Transient(
                    "the address is not ASCII and the relay does not announce SMTPUTF8".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !self.eightbitmime {
                return Err(SendError::Transient(
                    "the message is not ASCII and the relay does not announce 8BITMIME".into(),
                ));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mut commands = vec![Mail::new(envelope.from().cloned(), parameters).to_string()];
        commands.extend(
            envelope
                .to()
                .iter()
                .map(|to| Rcpt::new(to.clone(), vec![]).to_string()),
        );
        commands.push(Data.to_string());
        let mut refused = None;
        let mut data_accepted = false;
        if self.pipelining {
            self.write(&mut socket, commands.concat().as_bytes())
                .await?;
        }
        // With pipelining every command is answered, in order, whatever the earlier answers
        // were; without, a refusal ends the transaction.
        for (i, command) in commands.iter().enumerate() {
            if !self.pipelining {
                self.write(&mut socket, command.as_bytes()).await?;
            }
            data_accepted = self.reply(&mut refused).await?;
            // A refused sender is the operator's problem, not the reader's: not a bounce.
            if let (0, Some(SendError::Permanent(why))) = (i, &refused) {
                refused = Some(SendError::Transient(format!(
                    "the relay refused the sender: {why}"
                )));
            }
            if !self.pipelining && refused.is_some() {
                break;
            }
        }
        match refused {
            // A relay that takes DATA after refusing its transaction would take a body
            // without its sender or recipients: hang up instead, so it discards the message.
            Some(e) if data_accepted => {
                self.broken = true;
                Err(e)
            }
            Some(e) => Err(e),
            None => {
                self.write(&mut socket, &data_block(bytes)).await?;
                let mut refused = None;
                self.reply(&mut refused).await?;
                refused.map_or(Ok(()), Err)
            }
        }
    }

    async fn write(&mut self, socket: &mut Socket, bytes: &[u8]) -> Result<(), SendError> {
        socket.write_all(bytes).await.map_err(|e| {
            self.broken = true;
            SendError::Transient(format!("writing to the SMTP server: {e}"))
        })
    }

    /// Read one reply: `Ok(true)` for a positive one; a refusal is kept in `refused` (the
    /// first one counts) and gives `Ok(false)`. A 421 (the server is closing the session),
    /// an unreadable reply or a network error leaves the session broken and is the error
    /// (a refusal read before it is the more telling one).
    async fn reply(&mut self, refused: &mut Option<SendError>) -> Result<bool, SendError> {
        let e = match self.smtp.read_response().await {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let closing = e.status().map(|c| c == SERVICE_CLOSING);
        if closing == Some(false) {
            refused.get_or_insert(classify(e));
            return Ok(false);
        }
        self.broken = true;
        Err(refused.take().unwrap_or_else(|| classify(e)))
    }
}

/// 421: the server is closing the session (RFC 5321 3.8).
const SERVICE_CLOSING: Code = Code {
    severity: Severity::TransientNegativeCompletion,
    category: Category::Connections,
    detail: Detail::One,
};

/// A message body as it goes after `DATA`: every line that starts with a dot gets a second
/// one (RFC 5321 4.5.2; a line starts at the beginning and after each CRLF, as lettre
/// counts), then the terminating `CRLF . CRLF`.
fn data_block(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    if body.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut from = 0;
    for at in memchr::memmem::find_iter(body, b"\r\n.") {
        out.extend_from_slice(&body[from..at + 2]);
        out.push(b'.');
        from = at + 2;
    }
    out.extend_from_slice(&body[from..]);
    out.extend_from_slice(b"\r\n.\r\n");
    out
}

/// No address needs SMTPUTF8.
fn ascii_envelope(envelope: &Envelope) -> bool {
    let ascii = |a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii();
    envelope.from().is_none_or(ascii) && envelope.to().iter().all(ascii)
}

/// The words after `keyword` in an EHLO reply (`AUTH PLAIN LOGIN`: `["PLAIN", "LOGIN"]`),
/// if it announces it.
fn announced<'a>(ehlo: &'a Response, keyword: &str) -> Option<Vec<&'a str>> {
    // The first line is the server's name.
    ehlo.message().skip(1).find_map(|line| {
        let mut words = line.split_whitespace();
        words
            .next()
            .filter(|k| k.eq_ignore_ascii_case(keyword))
            .map(|_| words.collect())
    })
}

pub(super) fn announces(ehlo: &Response, keyword: &str) -> bool {
    announced(ehlo, keyword).is_some()
}

/// AUTH with the mechanisms the relay announced in `ehlo` (PLAIN first, else LOGIN), the
/// way lettre does it, which would go by its notes of the EHLO before STARTTLS (where
/// relays often announce no AUTH at all).
pub(super) async fn authenticate(
    smtp: &mut AsyncSmtpConnection,
    ehlo: &Response,
    credentials: &Credentials,
) -> Result<(), SendError> {
    let offered = announced(ehlo, "AUTH").unwrap_or_default();
    let mechanism = [Mechanism::Plain, Mechanism::Login]
        .into_iter()
        .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(&m.to_string())))
        .ok_or_else(|| {
            SendError::Permanent(format!(
                "the relay offers no AUTH PLAIN or LOGIN (it offers {offered:?}): use another relay URL or no credentials"
            ))
        })?;
    let mut reply = smtp
        .command(Auth::new(mechanism, credentials.clone(), None).map_err(classify)?)
        .await
        .map_err(classify)?;
    // LOGIN asks for the user name, then the password; a refusal (535) is an error above.
    for _ in 0..2 {
        if !reply.has_code(334) {
            return Ok(());
        }
        let answer =
            Auth::new_from_response(mechanism, credentials.clone(), &reply).map_err(classify)?;
        reply = smtp.command(answer).await.map_err(classify)?;
    }
    match reply.has_code(334) {
        false => Ok(()),
        true => Err(SendError::Transient(
            "the relay kept asking for more during AUTH".into(),
        )),
    }
}

pub(super) fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Transient(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dot-stuffing as lettre's codec does it, byte by byte: the reference.
    fn stuffed_byte_by_byte(body: &[u8]) -> Vec<u8> {
        let (mut out, mut line_start, mut after_cr) = (Vec::new(), true, false);
        for &b in body {
            if b == b'.' && line_start {
                out.push(b'.');
            }
            out.push(b);
            line_start = after_cr && b == b'\n';
            after_cr = b == b'\r';
        }
        out.extend_from_slice(b"\r\n.\r\n");
        out
    }

    #[test]
    fn data_blocks_stuff_dots_at_line_starts_only() {
        assert_eq!(data_block(b""), b"\r\n.\r\n");
        assert_eq!(
            data_block(b".a\r\n.\r\nb.c\r\n..d"),
            b"..a\r\n..\r\nb.c\r\n...d\r\n.\r\n"
        );
        // A lone CR or LF does not start a line, as lettre counts.
        assert_eq!(data_block(b"a\n.b\r.c"), b"a\n.b\r.c\r\n.\r\n");
        assert_eq!(data_block(b"a\r\r\n.b"), b"a\r\r\n..b\r\n.\r\n");
    }

    proptest::proptest! {
        #[test]
        fn data_blocks_are_what_lettre_would_send(body in proptest::collection::vec(
            proptest::sample::select(vec![b'.', b'\r', b'\n', b'a', b' ']), 0..200)) {
            proptest::prop_assert_eq!(data_block(&body), stuffed_byte_by_byte(&body));
        }
    }

    #[test]
    fn extensions_are_read_from_the_ehlo_reply() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
        let ehlo = |lines: &[&str]| {
            Response::new(
                Code::new(
                    Severity::PositiveCompletion,
                    Category::MailSystem,
                    Detail::Zero,
                ),
                lines.iter().map(|l| l.to_string()).collect(),
            )
        };
        let pipelining = |lines: &[&str]| announces(&ehlo(lines), "PIPELINING");
        assert!(pipelining(&["sink.test", "PIPELINING", "8BITMIME"]));
        assert!(pipelining(&["sink.test", "pipelining"]));
        assert!(!pipelining(&["sink.test", "8BITMIME", "XPIPELINING"]));
        // The first line is the server's name.
        assert!(!pipelining(&["PIPELINING"]));
        let reply = ehlo(&["relay", "AUTH PLAIN LOGIN", "SIZE 10240000"]);
        assert_eq!(announced(&reply, "auth"), Some(vec!["PLAIN", "LOGIN"]));
        assert_eq!(announced(&reply, "STARTTLS"), None);
    }
}
