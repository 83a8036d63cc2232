//! The relay's socket, shared by lettre's SMTP client (which reads the replies) and our
//! own writes of each transaction: in the clear, or through its TLS session.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The TCP socket, shared by lettre's client (which reads every reply through its buffer)
/// and our own writes of a transaction. Both only ever take turns on one connection.
#[derive(Clone, Debug)]
pub(super) struct SharedTcp(pub(super) Arc<TcpStream>);

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; poll_read_ready has cleared it and registers anew.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    // The socket closes when the last handle is dropped.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncTokioStream for SharedTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

/// A TLS session over the socket, shared like [`SharedTcp`]: lettre reads the replies
/// through it, we write the transactions. The lock is held only inside one poll.
#[derive(Clone)]
pub(super) struct SharedTls(
    pub(super) Arc<std::sync::Mutex<tokio_rustls::client::TlsStream<SharedTcp>>>,
);

impl SharedTls {
    fn lock(&self) -> std::sync::MutexGuard<'_, tokio_rustls::client::TlsStream<SharedTcp>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for SharedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTls")
    }
}

impl AsyncRead for SharedTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_read(cx, buf)
    }
}

impl AsyncWrite for SharedTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.lock()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for SharedTls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.lock().get_ref().0.peer_addr()
    }
}

/// Our handle on a session's socket, in the clear or through its TLS session.
#[derive(Clone)]
pub(super) enum Socket {
    Plain(SharedTcp),
    Tls(SharedTls),
}

impl Socket {
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Socket::Plain(tcp) => tcp.write_all(bytes).await,
            // rustls may hold the last records until flushed.
            Socket::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    /// lettre's reading (and writing) end of the same socket.
    pub(super) fn for_lettre(&self) -> Box<dyn AsyncTokioStream> {
        match self {
            Socket::Plain(tcp) => Box::new(tcp.clone()),
            Socket::Tls(tls) => Box::new(tls.clone()),
        }
    }
}

/// lettre's end of a socket, keeping a copy of the first bytes read: lettre reads the
/// server's greeting and drops it, and `paperboy doctor` wants what it says (its date).
#[derive(Debug)]
pub(super) struct Recorded {
    inner: Box<dyn AsyncTokioStream>,
    seen: Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Enough for a greeting and the EHLO reply after it.
const RECORDED_BYTES: usize = 4096;

impl Recorded {
    pub(super) fn new(
        inner: Box<dyn AsyncTokioStream>,
        seen: Arc<std::sync::Mutex<Vec<u8>>>,
    ) -> Self {
        Self { inner, seen }
    }
}

impl AsyncRead for Recorded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = RECORDED_BYTES.saturating_sub(seen.len());
        let new = &buf.filled()[before..];
        seen.extend_from_slice(&new[..new.len().min(room)]);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Recorded {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// The server's greeting (its 220 reply, every line) at the start of `bytes`, as text.
pub(super) fn greeting(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    for line in text.split("\r\n") {
        lines.push(line.get(4..).unwrap_or("").trim().to_string());
        // "220-" continues the reply, "220 " (or a bare "220") ends it.
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_is_the_first_reply_whole() {
        assert_eq!(
            greeting(b"220 sink.test ESMTP\r\n250-sink.test\r\n"),
            "sink.test ESMTP"
        );
        assert_eq!(
            greeting(b"220-mx.example.org ESMTP Exim 4.96\r\n220 Mon, 07 Dec 2026 13:49:20 +0000\r\n250 ok\r\n"),
            "mx.example.org ESMTP Exim 4.96 Mon, 07 Dec 2026 13:49:20 +0000"
        );
        assert_eq!(greeting(b"220\r\n"), "");
        assert_eq!(greeting(b""), "");
        // Hostile: not UTF-8, a character across the code's end, no line end at all.
        assert_eq!(greeting(b"220 \xff\xfe x"), "\u{fffd}\u{fffd} x");
        assert_eq!(greeting("22\u{e9}0 x".as_bytes()), "0 x");
        assert_eq!(greeting(&[b'a'; RECORDED_BYTES]).len(), RECORDED_BYTES - 4);
    }
}
