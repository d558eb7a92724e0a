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

/// The size of a connection's first read from the socket when its reader asks for less.
const READ_AHEAD: usize = 4096;

/// A stream that first yields bytes already read from it.
///
/// Its first read from the socket is at least [`READ_AHEAD`] bytes: hyper-util's protocol
/// detection asks for the 24 bytes of the HTTP/2 preface first, and the rest of a request head
/// would otherwise take a second read (a second system call on every new connection).
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    /// Whether no read has reached `inner` yet.
    first_read: bool,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, preceded by `prefix`.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            at: 0,
            first_read: true,
            inner,
        }
    }

    /// Moves up to `buf.remaining()` bytes of the prefix into `buf`; whether there were any.
    fn take_prefix(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let Some(rest) = self.prefix.get(self.at..).filter(|rest| !rest.is_empty()) else {
            return false;
        };
        let n = rest.len().min(buf.remaining());
        buf.put_slice(rest.get(..n).unwrap_or_default());
        self.at += n;
        if self.at == self.prefix.len() {
            // Served: the memory goes back at once rather than with the connection.
            self.prefix = Vec::new();
            self.at = 0;
        }
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.take_prefix(buf) {
            return Poll::Ready(Ok(()));
        }
        if !this.first_read || buf.remaining() >= READ_AHEAD {
            this.first_read = false;
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        // The first read, and a small one: read ahead into the (empty) prefix.
        this.prefix.resize(READ_AHEAD, 0);
        let mut ahead = ReadBuf::new(&mut this.prefix);
        let polled = Pin::new(&mut this.inner).poll_read(cx, &mut ahead);
        let filled = ahead.filled().len();
        this.prefix.truncate(filled);
        match polled {
            Poll::Ready(Ok(())) => {
                this.first_read = false;
                // Nothing read is the end of the stream, passed on as such.
                this.take_prefix(buf);
                Poll::Ready(Ok(()))
            }
            other => {
                this.prefix.clear();
                other
            }
        }
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
    }

    impl Counted {
        fn new(data: &[u8]) -> Self {
            Self {
                data: data.to_vec(),
                at: 0,
                reads: 0,
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
            let n = rest.len().min(buf.remaining());
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
    async fn a_small_first_read_reads_the_whole_head_in_one_read() {
        let mut stream = Prefixed::new(Vec::new(), Counted::new(HEAD));
        // hyper-util's version detection: the 24 bytes of the HTTP/2 preface.
        let first = read(&mut stream, 24).await;
        let rest = read(&mut stream, 8192).await;
        assert_eq!([first, rest].concat(), HEAD);
        assert_eq!(stream.inner.reads, 1);
        assert!(
            read(&mut stream, 8192).await.is_empty(),
            "then the end of the stream"
        );
        assert_eq!(stream.inner.reads, 2);
    }

    #[tokio::test]
    async fn only_the_first_read_reads_ahead() {
        let mut stream = Prefixed::new(Vec::new(), Counted::new(HEAD));
        assert_eq!(read(&mut stream, READ_AHEAD).await, HEAD);
        assert_eq!(stream.inner.reads, 1);

        let mut stream = Prefixed::new(Vec::new(), Counted::new(HEAD));
        let _ = read(&mut stream, 24).await;
        let _ = read(&mut stream, 8192).await;
        // The read ahead is served; later small reads go to the socket as they are.
        stream.inner.data.extend_from_slice(HEAD);
        assert_eq!(read(&mut stream, 10).await, HEAD[..10]);
        assert_eq!(stream.inner.reads, 2);
        assert_eq!(read(&mut stream, 10).await, HEAD[10..20]);
        assert_eq!(stream.inner.reads, 3);
    }

    #[tokio::test]
    async fn a_given_prefix_comes_first_then_the_read_ahead() {
        // What a PROXY protocol header was read with.
        let mut stream = Prefixed::new(b"GET / HT".to_vec(), Counted::new(&HEAD[8..]));
        assert_eq!(read(&mut stream, 24).await, b"GET / HT");
        assert_eq!(stream.inner.reads, 0);
        let second = read(&mut stream, 24).await;
        let rest = read(&mut stream, 8192).await;
        assert_eq!([second, rest].concat(), HEAD[8..]);
        assert_eq!(stream.inner.reads, 1);
    }

    #[tokio::test]
    async fn an_empty_stream_ends_at_once() {
        let mut stream = Prefixed::new(Vec::new(), Counted::new(b""));
        assert!(read(&mut stream, 24).await.is_empty());
        assert_eq!(stream.inner.reads, 1);
    }
}
