//! A pool of SMTP sessions, and each mail transaction written straight to the socket.
//!
//! lettre 0.11.23 leaves Nagle's algorithm on: it writes a message body, then `\r\n.\r\n` as a
//! second small write, which waits for the server's delayed ACK, 40 ms on Linux, on every
//! message (fixed upstream in lettre PR #1159, not yet released); it has no PIPELINING, and
//! it stuffs the body's dots byte by byte (the largest function in a delivery profile). So
//! we open the sockets ourselves (TCP_NODELAY; TLS with rustls for STARTTLS and `smtps://`)
//! and share each with lettre's SMTP client (`AsyncSmtpConnection`), which reads the
//! greeting and every reply and formats the commands. We write each transaction: with
//! PIPELINING (RFC 2920) `MAIL`, `RCPT` and `DATA` go in one write, and the body is
//! dot-stuffed with memchr and sent with its end in one write: two round trips a message
//! instead of four, which also spares the relay.
//!
//! `url.rs` reads the relay's URL; `socket.rs` shares a socket between lettre's client and
//! our writes; `tls.rs` wraps it in TLS; `session.rs` is one session and its transactions;
//! `pool.rs` keeps the sessions.

mod pool;
mod session;
mod socket;
mod tls;
mod url;

pub use pool::{RelayProbe, SmtpPool};
pub use tls::RelayTls;
pub use url::{SmtpTarget, TlsMode};
