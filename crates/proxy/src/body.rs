//! Bodies: the one response/request body type the proxy hands around, and the wrappers that
//! stream a body across without buffering it while counting bytes and enforcing ingress-nginx's
//! idle timeouts (`proxy-read-timeout` / `proxy-send-timeout` apply between two reads or writes,
//! not to the whole transfer).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::time::Sleep;

use crate::error::{BoxError, ProxyError};
use crate::h1_pool::Checkin;

/// A streaming HTTP body, as the proxy sends it to clients and upstreams. Empty and
/// in-memory bodies are held as they are; any other body is boxed.
pub struct Body {
    kind: Kind,
}

enum Kind {
    /// In-memory data (none left: the body is done).
    Full(Option<Bytes>),
    /// Any other body.
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body with no data.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Full(None),
        }
    }

    /// A body holding these bytes, sent with a `Content-Length`.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self {
            kind: Kind::Full((!data.is_empty()).then_some(data)),
        }
    }

    /// Wraps any body whose data is `Bytes`.
    pub fn wrap<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            kind: Kind::Boxed(body.map_err(Into::into).boxed_unsync()),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("size_hint", &http_body::Body::size_hint(self))
            .finish()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Boxed(inner) => Pin::new(inner).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(data) => data.is_none(),
            Kind::Boxed(inner) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Boxed(inner) => inner.size_hint(),
        }
    }
}

/// Bytes moved for one request, shared between the pipeline and the body wrappers.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    /// Request body bytes read from the client.
    pub received: AtomicU64,
    /// Response body bytes handed to the client connection.
    pub sent: AtomicU64,
}

/// Why the client's request body failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClientFailure {
    /// It grew past `proxy-body-size` (413).
    TooLarge(u64),
    /// Nothing arrived for `client-body-timeout` (408).
    Timeout(Duration),
    /// The client broke the body or the connection.
    Broken(String),
}

impl ClientFailure {
    /// The error a failed request reports.
    pub fn to_error(&self) -> ProxyError {
        match self {
            Self::TooLarge(limit) => ProxyError::BodyTooLarge { limit: *limit },
            Self::Timeout(after) => ProxyError::ClientTimeout { after: *after },
            Self::Broken(reason) => ProxyError::ClientBody {
                reason: reason.clone(),
            },
        }
    }
}

/// How far the forwarding of a request body has come; the wait for the response head reads it
/// so that a long upload is not cut off by the read timeout.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Instant,
    last_activity_ms: AtomicU64,
    /// Microseconds from `start` to the last attempt's connection (`u64::MAX`: none yet).
    connected_us: AtomicU64,
    request_done: AtomicBool,
    client_failure: OnceLock<ClientFailure>,
}

impl Progress {
    /// Progress of a request whose body is complete already when `done` is true.
    pub fn new(done: bool) -> Self {
        Self {
            start: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            connected_us: AtomicU64::new(u64::MAX),
            request_done: AtomicBool::new(done),
            client_failure: OnceLock::new(),
        }
    }

    /// Records that data moved now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity_ms.store(ms, Ordering::Relaxed);
    }

    /// Records that the current attempt has a connection (new or pooled); counts as activity.
    pub fn connected(&self) {
        let us = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.connected_us.store(us, Ordering::Relaxed);
        self.touch();
    }

    /// When the last attempt got its connection.
    pub fn connected_at(&self) -> Option<Instant> {
        match self.connected_us.load(Ordering::Relaxed) {
            u64::MAX => None,
            us => Some(self.start + Duration::from_micros(us)),
        }
    }

    /// When data last moved.
    pub fn last_activity(&self) -> Instant {
        self.start + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }

    /// Whether the whole request body has been handed to the upstream connection.
    pub fn request_done(&self) -> bool {
        self.request_done.load(Ordering::Relaxed)
    }

    /// Why the client's body failed, if it did.
    pub fn client_failure(&self) -> Option<&ClientFailure> {
        self.client_failure.get()
    }

    /// Records that the whole body went out.
    pub fn finish_request(&self) {
        self.touch();
        self.request_done.store(true, Ordering::Relaxed);
    }

    fn fail_client(&self, failure: ClientFailure) {
        let _ = self.client_failure.set(failure);
    }
}

/// An idle timer armed while a body waits for data and disarmed whenever data arrives.
struct IdleTimer {
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl IdleTimer {
    fn new(limit: Duration) -> Self {
        Self {
            limit,
            sleep: None,
            armed: false,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }

    /// Called when the inner body is pending: arms the timer if it is not running and reports
    /// whether it has expired.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = tokio::time::Instant::now() + self.limit;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

/// The client's request body on its way to the upstream: counts bytes, records progress, fails
/// when the client sends nothing for `client-body-timeout` and when it grows past
/// `proxy-body-size`.
pub(crate) struct UpstreamRequestBody<B> {
    inner: B,
    idle: IdleTimer,
    progress: std::sync::Arc<Progress>,
    traffic: std::sync::Arc<Traffic>,
    limit: Option<u64>,
    seen: u64,
}

impl<B> UpstreamRequestBody<B> {
    /// Wraps a client body; `seen` bytes of it were already read (a buffered prefix).
    pub fn new(
        inner: B,
        idle: Duration,
        progress: std::sync::Arc<Progress>,
        traffic: std::sync::Arc<Traffic>,
        limit: Option<u64>,
        seen: u64,
    ) -> Self {
        Self {
            inner,
            idle: IdleTimer::new(idle),
            progress,
            traffic,
            limit,
            seen,
        }
    }
}

impl<B> http_body::Body for UpstreamRequestBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.idle.poll_expired(cx) {
                    let failure = ClientFailure::Timeout(this.idle.limit);
                    this.progress.fail_client(failure.clone());
                    return Poll::Ready(Some(Err(failure.to_error().into())));
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.idle.disarm();
                if let Some(data) = frame.data_ref() {
                    this.traffic
                        .received
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if let Some(limit) = this.limit
                        && this.seen > limit
                    {
                        let failure = ClientFailure::TooLarge(limit);
                        this.progress.fail_client(failure.clone());
                        return Poll::Ready(Some(Err(failure.to_error().into())));
                    }
                }
                if this.inner.is_end_stream() {
                    this.progress.finish_request();
                } else {
                    this.progress.touch();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                let error: BoxError = error.into();
                this.progress
                    .fail_client(ClientFailure::Broken(error.to_string()));
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                this.progress.finish_request();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The upstream's response body on its way to the client: fails when the upstream sends nothing
/// for the read timeout while the client is waiting for data.
/// With a [`Checkin`], its connection goes back to the pool once the body has ended.
pub(crate) struct UpstreamResponseBody<B: http_body::Body> {
    inner: B,
    idle: IdleTimer,
    endpoint: SocketAddr,
    checkin: Option<Checkin>,
}

impl<B: http_body::Body> UpstreamResponseBody<B> {
    /// Wraps an upstream body.
    pub fn new(inner: B, idle: Duration, endpoint: SocketAddr, checkin: Option<Checkin>) -> Self {
        Self {
            inner,
            idle: IdleTimer::new(idle),
            endpoint,
            checkin,
        }
    }

    /// Returns the connection once the body is complete.
    fn release_if_done(&mut self) {
        if self.inner.is_end_stream()
            && let Some(checkin) = self.checkin.take()
        {
            checkin.complete();
        }
    }
}

impl<B: http_body::Body> Drop for UpstreamResponseBody<B> {
    fn drop(&mut self) {
        self.release_if_done();
    }
}

impl<B> http_body::Body for UpstreamResponseBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.idle.poll_expired(cx) {
                    let error = ProxyError::UpstreamTimeout {
                        endpoint: this.endpoint,
                        after: this.idle.limit,
                    };
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.idle.disarm();
                this.release_if_done();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.checkin = None;
                let error = ProxyError::UpstreamProtocol {
                    endpoint: this.endpoint,
                    source: error.into(),
                };
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                if let Some(checkin) = this.checkin.take() {
                    checkin.complete();
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
