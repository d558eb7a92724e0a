//! HTTP/1.1 keep-alive connections to upstream endpoints (`upstream-keepalive-*`): idle
//! connections kept per endpoint address, at most `upstream-keepalive-connections` of them,
//! closed after `upstream-keepalive-timeout` unused, and retired after
//! `upstream-keepalive-requests` requests or `upstream-keepalive-time`.
//!
//! A request takes a connection out of the pool (the most recently used one first) or opens a
//! new one, sends on it and gets it back only once the response body has been read to its end
//! ([`Checkin`], held by the response body): a connection is never shared by two requests.
//! Each connection is driven by its own task; nothing else runs per request.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{Builder, SendRequest};
use tokio::time::{Instant, Sleep};

use crate::body::Body;
use crate::client::KeepAlive;
use crate::connector::Connector;
use crate::error::BoxError;

/// The shortest interval at which idle connections are looked at for expiry.
const MIN_REAP_INTERVAL: Duration = Duration::from_millis(100);

/// Idle HTTP/1.1 connections by endpoint, and the connector that opens new ones.
#[derive(Clone, Debug)]
pub(crate) struct H1Pool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    connector: Connector,
    /// `upstream-keepalive-connections`: idle connections kept per endpoint (0: none).
    max_idle: usize,
    /// `upstream-keepalive-timeout`: how long a connection may stay idle.
    idle_timeout: Duration,
    idle: Mutex<IdleSet>,
}

#[derive(Debug, Default)]
struct IdleSet {
    /// Looked up twice per request (checkout and return): hashbrown's default hasher (foldhash)
    /// rather than SipHash; the keys are our own endpoint addresses.
    by_endpoint: hashbrown::HashMap<SocketAddr, Vec<Parked>>,
    /// Whether a task is closing expired idle connections.
    reaping: bool,
}

/// An idle connection and since when it is idle.
#[derive(Debug)]
struct Parked {
    conn: H1Conn,
    since: Instant,
}

/// One upstream HTTP/1.1 connection, out of the pool while a request uses it.
#[derive(Debug)]
pub(crate) struct H1Conn {
    /// Sends requests on the connection.
    pub sender: SendRequest<Body>,
    endpoint: SocketAddr,
    opened: Instant,
    requests: u32,
    /// Whether it served a request before this one.
    pub reused: bool,
    /// The response-head timer of the requests on this connection, reset for each: a later
    /// deadline only updates the registered entry, where a new timer per request would be
    /// inserted into and removed from the timer wheel every time.
    pub timer: Pin<Box<Sleep>>,
}

/// Puts a connection back into its pool once the response that used it is complete.
#[derive(Debug)]
pub(crate) struct Checkin {
    pool: Weak<PoolInner>,
    conn: H1Conn,
}

impl H1Pool {
    /// A pool that opens connections with `connector`; `max_idle` idle connections are kept
    /// per endpoint for less than `idle_timeout`.
    pub fn new(connector: Connector, max_idle: usize, idle_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                connector,
                max_idle,
                idle_timeout,
                idle: Mutex::new(IdleSet::default()),
            }),
        }
    }

    /// A connection to `endpoint` ready for a request: the most recently used idle one, else a
    /// new one. Errors are connection failures (nothing was sent).
    pub async fn connection(&self, endpoint: SocketAddr) -> Result<H1Conn, BoxError> {
        if let Some(conn) = self.idle_connection(endpoint) {
            return Ok(conn);
        }
        // Boxed: the state of a connect (and TLS handshake) would otherwise make every
        // request's future larger.
        Box::pin(self.open(endpoint)).await
    }

    /// Opens a new connection to `endpoint` and starts its task.
    async fn open(&self, endpoint: SocketAddr) -> Result<H1Conn, BoxError> {
        let io = self.inner.connector.open(endpoint).await?;
        let (sender, conn) = Builder::new().handshake(io).await?;
        tokio::spawn(async move {
            if let Err(error) = conn.with_upgrades().await {
                tracing::debug!(%error, %endpoint, "upstream connection ended");
            }
        });
        let opened = Instant::now();
        Ok(H1Conn {
            sender,
            endpoint,
            opened,
            requests: 0,
            reused: false,
            timer: Box::pin(tokio::time::sleep_until(opened)),
        })
    }

    /// Takes the most recently parked usable connection to `endpoint`; closed and expired ones
    /// met on the way are dropped (which closes them).
    fn idle_connection(&self, endpoint: SocketAddr) -> Option<H1Conn> {
        let now = Instant::now();
        let timeout = self.inner.idle_timeout;
        let mut dropped = Vec::new();
        let found = {
            let mut idle = self.inner.lock();
            let list = idle.by_endpoint.get_mut(&endpoint)?;
            let mut found = None;
            let mut waiting = Vec::new();
            while let Some(parked) = list.pop() {
                if parked.conn.sender.is_closed() || parked.expired(now, timeout) {
                    dropped.push(parked);
                } else if parked.conn.sender.is_ready() {
                    found = Some(parked.conn);
                    break;
                } else {
                    // Still finishing its last response: left for a later request.
                    waiting.push(parked);
                }
            }
            list.extend(waiting.into_iter().rev());
            if list.is_empty() {
                idle.by_endpoint.remove(&endpoint);
            }
            found
        };
        drop(dropped);
        let mut conn = found?;
        conn.reused = true;
        Some(conn)
    }

    /// Counts a request on `conn` and returns what puts it back after the response, unless
    /// the keep-alive limits retire it (then it closes once the response is done).
    pub fn checkin(&self, mut conn: H1Conn, keepalive: KeepAlive) -> Option<Checkin> {
        conn.requests = conn.requests.saturating_add(1);
        let reusable = self.inner.max_idle > 0
            && !keepalive.disabled
            && conn.requests < keepalive.requests
            && conn.opened.elapsed() < keepalive.time;
        reusable.then(|| Checkin {
            pool: Arc::downgrade(&self.inner),
            conn,
        })
    }
}

impl H1Pool {
    /// Sends `request` (its URI in origin form) to `endpoint` outside the forwarding path
    /// (error pages); the response body returns the connection once read to its end.
    pub async fn send(
        &self,
        endpoint: SocketAddr,
        mut request: Request<Body>,
        keepalive: KeepAlive,
    ) -> Result<Response<Body>, BoxError> {
        loop {
            let mut conn = self.connection(endpoint).await?;
            match conn.sender.try_send_request(request).await {
                Ok(response) => {
                    let checkin = self.checkin(conn, keepalive);
                    return Ok(response.map(|inner| Body::wrap(Returning { inner, checkin })));
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if conn.reused => request = unsent,
                    _ => return Err(error.into_error().into()),
                },
            }
        }
    }
}

impl PoolInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, IdleSet> {
        // A poisoned lock only means another request panicked; the set is still usable.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parks an idle connection, unless the endpoint has `max_idle` already.
    fn park(self: &Arc<Self>, conn: H1Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let start_reaper = {
            let mut idle = self.lock();
            let list = idle.by_endpoint.entry(conn.endpoint).or_default();
            if list.len() >= self.max_idle {
                return;
            }
            list.push(Parked {
                conn,
                since: Instant::now(),
            });
            let start = !idle.reaping;
            idle.reaping |= start;
            start
        };
        if start_reaper {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(reap(Arc::downgrade(self), self.idle_timeout));
                }
                Err(_) => self.lock().reaping = false,
            }
        }
    }
}

/// Closes connections idle for longer than `timeout` until the pool is empty or gone.
async fn reap(pool: Weak<PoolInner>, timeout: Duration) {
    let interval = timeout.max(MIN_REAP_INTERVAL);
    loop {
        tokio::time::sleep(interval).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut expired = Vec::new();
        let mut idle = pool.lock();
        idle.by_endpoint.retain(|_, list| {
            let (gone, kept): (Vec<Parked>, Vec<Parked>) = std::mem::take(list)
                .into_iter()
                .partition(|p| p.conn.sender.is_closed() || p.expired(now, timeout));
            expired.extend(gone);
            *list = kept;
            !list.is_empty()
        });
        if idle.by_endpoint.is_empty() {
            idle.reaping = false;
            return;
        }
        drop(idle);
        drop(expired);
    }
}

impl Parked {
    fn expired(&self, now: Instant, timeout: Duration) -> bool {
        self.since + timeout <= now
    }
}

/// A response body that returns its connection once read to its end.
struct Returning {
    inner: Incoming,
    checkin: Option<Checkin>,
}

impl Returning {
    fn release_if_done(&mut self) {
        if self.inner.is_end_stream()
            && let Some(checkin) = self.checkin.take()
        {
            checkin.complete();
        }
    }
}

impl http_body::Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => this.release_if_done(),
            Poll::Ready(Some(Err(_))) => this.checkin = None,
            Poll::Ready(None) => {
                if let Some(checkin) = this.checkin.take() {
                    checkin.complete();
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        self.release_if_done();
    }
}

impl Checkin {
    /// Puts the connection back (the response body was read to its end).
    pub fn complete(self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.park(self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;

    /// An HTTP/1.1 server on 127.0.0.1 answering `ok`; counts the connections it accepted.
    /// With `close_after_first`, it closes each connection after its first response.
    async fn server(close_after_first: bool) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(!close_after_first)
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = conn.await;
                });
            }
        });
        (addr, accepted)
    }

    fn keepalive(requests: u32) -> KeepAlive {
        KeepAlive {
            requests,
            time: Duration::from_secs(3600),
            disabled: false,
        }
    }

    async fn get(pool: &H1Pool, addr: SocketAddr, keepalive: KeepAlive) -> String {
        let request = Request::builder()
            .uri("/")
            .header(http::header::HOST, "test")
            .body(Body::empty())
            .unwrap();
        let response = pool.send(addr, request, keepalive).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_until_the_request_limit() {
        let (addr, accepted) = server(false).await;
        let pool = H1Pool::new(Connector::plain(), 8, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(get(&pool, addr, keepalive(3)).await, "ok");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "three requests, one connection"
        );
        // The third request retired the connection: the fourth opens another.
        assert_eq!(get(&pool, addr, keepalive(3)).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_idle_connections_are_kept_when_keepalive_is_off() {
        let (addr, accepted) = server(false).await;
        let pool = H1Pool::new(Connector::plain(), 0, Duration::from_secs(60));
        for _ in 0..2 {
            assert_eq!(get(&pool, addr, keepalive(100)).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        let disabled = KeepAlive {
            disabled: true,
            ..keepalive(100)
        };
        let pool = H1Pool::new(Connector::plain(), 8, Duration::from_secs(60));
        for _ in 0..2 {
            assert_eq!(get(&pool, addr, disabled).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn idle_connections_expire_after_the_idle_timeout() {
        let (addr, accepted) = server(false).await;
        let pool = H1Pool::new(Connector::plain(), 8, Duration::from_millis(20));
        assert_eq!(get(&pool, addr, keepalive(100)).await, "ok");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            pool.inner.lock().by_endpoint.is_empty(),
            "the reaper closed the expired connection"
        );
        assert_eq!(get(&pool, addr, keepalive(100)).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_replaced() {
        let (addr, accepted) = server(true).await;
        let pool = H1Pool::new(Connector::plain(), 8, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(get(&pool, addr, keepalive(100)).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_are_kept_per_endpoint() {
        let (addr, _) = server(false).await;
        let pool = H1Pool::new(Connector::plain(), 1, Duration::from_secs(60));
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(pool.connection(addr).await.unwrap());
        }
        for conn in conns {
            if let Some(checkin) = pool.checkin(conn, keepalive(100)) {
                checkin.complete();
            }
        }
        let kept = pool.inner.lock().by_endpoint.get(&addr).map_or(0, Vec::len);
        assert_eq!(kept, 1);
    }
}
