//! Per-connection state: what a connection tells its requests (PROXY protocol addresses, the
//! TLS session), the PROXY header read ahead of everything else, and the bookkeeping behind
//! `keep-alive` (idle timeout) and `keep-alive-requests` (requests per connection).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use sluice_ingress_model::policy::ClientSettings;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client_cert::TlsSession;
use crate::proxy_protocol::{self, Addresses, ParseError};
use crate::text::ConnTexts;

/// What a connection tells each of its requests (a request extension).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnInfo {
    /// The PROXY protocol addresses, when the header carried some.
    pub proxy: Option<Addresses>,
    /// The TLS session of an HTTPS connection.
    pub tls: Option<Arc<TlsSession>>,
    /// The peer's address and the listener's port as text.
    pub texts: Option<ConnTexts>,
}

/// Reads a PROXY protocol header (v1 or v2) within `limit`; returns its addresses and whatever
/// was read past it.
pub(crate) async fn read_proxy_header(
    stream: &mut TcpStream,
    limit: Duration,
) -> io::Result<(Option<Addresses>, Vec<u8>)> {
    let read = async {
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the PROXY header ended",
                ));
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            match proxy_protocol::parse(&buf) {
                Ok(header) => {
                    let rest = buf.get(header.len..).unwrap_or_default().to_vec();
                    return Ok((header.addresses, rest));
                }
                Err(ParseError::Incomplete) if buf.len() <= proxy_protocol::V2_MAX => {}
                Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "PROXY header timed out"))?
}

/// How much a read ahead of the connection's reader asks the socket for.
const READ_AHEAD: usize = 4096;

/// The HTTP/2 connection preface (RFC 9113, section 3.4): what a client with prior knowledge
/// sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A stream that first yields bytes already read from it.
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, preceded by `prefix`.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> Prefixed<S> {
    /// Reads until the first bytes tell HTTP/2's connection preface from anything else, and
    /// says whether they are the preface; what was read is yielded first, as any prefix. The
    /// end of the stream before that is "not the preface" (the HTTP/1.1 side then sees the end).
    ///
    /// One read of up to [`READ_AHEAD`] bytes usually decides and holds the whole request
    /// head, so the HTTP server's first read gets it all (hyper-util's protocol detection reads
    /// the preface's 24 bytes alone, and the head then took a second read).
    pub async fn starts_with_h2_preface(&mut self) -> io::Result<bool> {
        loop {
            let seen = self.prefix.get(self.at..).unwrap_or_default();
            let n = seen.len().min(H2_PREFACE.len());
            if seen.get(..n) != H2_PREFACE.get(..n) {
                return Ok(false);
            }
            if n == H2_PREFACE.len() {
                return Ok(true);
            }
            self.prefix.drain(..self.at);
            self.at = 0;
            self.prefix.reserve(READ_AHEAD);
            if self.inner.read_buf(&mut self.prefix).await? == 0 {
                return Ok(false);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(rest) = this.prefix.get(this.at..)
            && !rest.is_empty()
        {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.at += n;
            if this.at == this.prefix.len() {
                // Served: the memory goes back now rather than with the connection.
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Requests in flight and requests served on one connection.
///
/// Starting and ending a request costs a few atomic operations and no timer: the connection's
/// idle timer is armed once and, when it fires, compares the time of the last activity with
/// `keep-alive` (see [`ConnState::idle_check`]).
#[derive(Debug)]
pub(crate) struct ConnState {
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// When the connection was opened; `last_active_ms` counts from here.
    opened: Instant,
    /// Milliseconds from `opened` to the end of the last request.
    last_active_ms: AtomicU64,
    max_requests: u64,
    idle: Option<Duration>,
    close: Notify,
}

/// What the idle timer found when it fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdleCheck {
    /// Idle for `keep-alive` or longer: close the connection.
    Expired,
    /// Not (yet) idle long enough: check again at this instant.
    Later(Instant),
}

impl ConnState {
    /// State for a connection under these client settings.
    pub fn new(client: &ClientSettings) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            opened: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            max_requests: u64::from(client.keepalive_requests),
            idle: (client.keepalive_timeout_ms > 0)
                .then(|| Duration::from_millis(client.keepalive_timeout_ms)),
            close: Notify::new(),
        }
    }

    /// A request started; the guard ends it.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let served = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max_requests > 0 && served >= self.max_requests {
            self.close.notify_one();
        }
        InFlight(self.clone())
    }

    /// Whether no request is in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// When the idle timer first fires (`None` without a `keep-alive` timeout).
    pub fn first_idle_check(&self) -> Option<Instant> {
        self.idle.map(|idle| self.opened + idle)
    }

    /// Run when the idle timer fires at `now`: whether the connection has been idle (no request
    /// in flight) for `keep-alive` since its last request ended, and otherwise when to look
    /// again: `keep-alive` after that end, or from now while a request is in flight.
    pub fn idle_check(&self, now: Instant) -> IdleCheck {
        let Some(idle) = self.idle else {
            return IdleCheck::Later(now + Duration::from_secs(3600));
        };
        if !self.is_idle() {
            return IdleCheck::Later(now + idle);
        }
        let last = self.opened + Duration::from_millis(self.last_active_ms.load(Ordering::SeqCst));
        let deadline = last + idle;
        if deadline <= now {
            IdleCheck::Expired
        } else {
            IdleCheck::Later(deadline)
        }
    }

    /// Completes when `keep-alive-requests` is reached.
    pub fn close_requested(&self) -> tokio::sync::futures::Notified<'_> {
        self.close.notified()
    }
}

/// A request in flight; dropping it (when the response body is done) ends it.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        // Rounded up, so the connection never closes before `keep-alive` has passed.
        let since = state.opened.elapsed();
        let ms = u64::try_from(since.as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(u64::from(!since.subsec_nanos().is_multiple_of(1_000_000)));
        state.last_active_ms.fetch_max(ms, Ordering::SeqCst);
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream over fixed bytes that counts the reads that reach it.
    struct Counted {
        data: Vec<u8>,
        at: usize,
        reads: usize,
        /// The most one read returns.
        per_read: usize,
    }

    impl Counted {
        fn new(data: &[u8]) -> Self {
            Self {
                data: data.to_vec(),
                at: 0,
                reads: 0,
                per_read: usize::MAX,
            }
        }
    }

    impl AsyncRead for Counted {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            this.reads += 1;
            let rest = &this.data[this.at..];
            let n = rest.len().min(buf.remaining()).min(this.per_read);
            buf.put_slice(&rest[..n]);
            this.at += n;
            Poll::Ready(Ok(()))
        }
    }

    const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";

    async fn read(stream: &mut Prefixed<Counted>, size: usize) -> Vec<u8> {
        let mut buf = vec![0u8; size];
        let n = stream.read(&mut buf).await.unwrap();
        buf.truncate(n);
        buf
    }

    #[tokio::test]
    async fn an_http1_head_is_told_from_the_preface_in_one_read_and_then_read_whole() {
        let mut stream = Prefixed::new(Vec::new(), Counted::new(HEAD));
        assert!(!stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(stream.inner.reads, 1);
        // The HTTP server's first read gets the whole head, from memory.
        assert_eq!(read(&mut stream, 8192).await, HEAD);
        assert_eq!(stream.inner.reads, 1);
        assert!(read(&mut stream, 8192).await.is_empty());
        assert_eq!(stream.inner.reads, 2);
    }

    #[tokio::test]
    async fn the_preface_is_found_and_kept_for_the_http2_server() {
        let sent = [H2_PREFACE, b"\0\0\0\x04\0\0\0\0\0"].concat();
        let mut stream = Prefixed::new(Vec::new(), Counted::new(&sent));
        assert!(stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(read(&mut stream, 8192).await, sent);
    }

    #[tokio::test]
    async fn a_preface_in_pieces_is_read_until_it_is_whole_or_differs() {
        // One byte per read: a client that sends the preface slowly.
        let mut stream = Prefixed::new(Vec::new(), Counted::new(H2_PREFACE));
        stream.inner.per_read = 1;
        assert!(stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(stream.inner.reads, H2_PREFACE.len());
        assert_eq!(read(&mut stream, 8192).await, H2_PREFACE);

        // `PRI` then something else: HTTP/1.1 (hyper answers an unknown method).
        let mut stream = Prefixed::new(Vec::new(), Counted::new(b"PRI / HTTP/1.1\r\n\r\n"));
        stream.inner.per_read = 1;
        assert!(!stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(stream.inner.reads, 5);
        assert_eq!(read(&mut stream, 8192).await, b"PRI /");
    }

    #[tokio::test]
    async fn a_given_prefix_counts_toward_the_decision() {
        // What a PROXY protocol header was read with.
        let mut stream = Prefixed::new(b"GET / HT".to_vec(), Counted::new(&HEAD[8..]));
        assert!(!stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(stream.inner.reads, 0);
        assert_eq!(read(&mut stream, 8192).await, b"GET / HT");
        assert_eq!(read(&mut stream, 8192).await, HEAD[8..]);

        let mut stream = Prefixed::new(H2_PREFACE[..10].to_vec(), Counted::new(&H2_PREFACE[10..]));
        assert!(stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(stream.inner.reads, 1);
        assert_eq!(read(&mut stream, 8192).await, H2_PREFACE);
    }

    #[tokio::test]
    async fn a_stream_that_ends_first_is_not_the_preface() {
        let mut stream = Prefixed::new(Vec::new(), Counted::new(b""));
        assert!(!stream.starts_with_h2_preface().await.unwrap());
        assert!(read(&mut stream, 8192).await.is_empty());
        let mut stream = Prefixed::new(Vec::new(), Counted::new(&H2_PREFACE[..5]));
        assert!(!stream.starts_with_h2_preface().await.unwrap());
        assert_eq!(read(&mut stream, 8192).await, H2_PREFACE[..5]);
    }
}
