//! Accept loops for the HTTP and HTTPS listeners. Each accepted socket has `TCP_NODELAY` (from
//! the listener where the system passes it on, else set) and its own task, which reads the
//! PROXY protocol header (`use-proxy-protocol`), performs the TLS handshake with the
//! configuration of the host named by SNI (refusing unknown names with `ssl-reject-handshake`),
//! and serves HTTP/2 to a connection that starts with the HTTP/2 preface (h2c with prior
//! knowledge on the plain port, ALPN-negotiated h2 on TLS) and HTTP/1.1 to any other, with
//! hyper's connection builders configured from the live table's client settings (`keep-alive`,
//! `keep-alive-requests`, `client-header-timeout`, `large-client-header-buffers`,
//! `http2-max-concurrent-streams`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use sluice_ingress_model::policy::ClientSettings;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::LazyConfigAcceptor;

use crate::client_cert::TlsSession;
use crate::connection::{ConnInfo, ConnState, IdleCheck, Prefixed, read_proxy_header};
use crate::filter::{Connection, Scheme};
use crate::generation::Generation;
use crate::service::Pipeline;
use crate::stats::ConnectionStats;
use crate::text::ConnTexts;

/// The longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 streams a client may reset before they are accepted (h2's default).
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// HTTP/2 streams the server may reset for a client's errors on one connection (hyper's default).
const MAX_LOCAL_ERROR_RESETS: usize = 1024;
/// Pause after an accept error (e.g. out of file descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A bound listener with what its connections need.
pub(crate) struct Listener {
    /// The socket.
    pub tcp: TcpListener,
    /// `Https` for the TLS listener.
    pub scheme: Scheme,
    /// Counts accepted and open connections.
    pub stats: Arc<ConnectionStats>,
}

/// Tracks open connections for graceful shutdown: connections watch `stop` and hold a sender
/// of `alive`; shutdown waits until every sender is gone.
pub(crate) struct Drain {
    stop: watch::Sender<bool>,
    alive_tx: mpsc::Sender<()>,
    alive_rx: mpsc::Receiver<()>,
}

/// What one connection holds of the [`Drain`].
#[derive(Clone)]
pub(crate) struct DrainWatch {
    stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Drain {
    /// A drain with no connection.
    pub fn new() -> Self {
        let (stop, _) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel(1);
        Self {
            stop,
            alive_tx,
            alive_rx,
        }
    }

    /// A watch for a new connection.
    pub fn watch(&self) -> DrainWatch {
        DrainWatch {
            stop: self.stop.subscribe(),
            _alive: self.alive_tx.clone(),
        }
    }

    /// Asks every connection to finish (idle HTTP/1.1 connections close, HTTP/2 ones get a
    /// GOAWAY) and waits until all are gone.
    pub async fn shutdown(self) {
        let Self {
            stop,
            alive_tx,
            mut alive_rx,
        } = self;
        let _ = stop.send(true);
        drop(alive_tx);
        while alive_rx.recv().await.is_some() {}
    }
}

/// The largest head hyper buffers: `large-client-header-buffers` count × size (nginx may use
/// that many buffers for a request head); hyper answers 431 beyond it.
fn max_head_bytes(client: &ClientSettings) -> usize {
    let head = client
        .large_header_buffer_bytes
        .saturating_mul(u64::from(client.large_header_buffers.max(1)));
    usize::try_from(head).unwrap_or(usize::MAX).max(8192)
}

/// The HTTP/1.1 connection builder for a table's client settings.
fn http1_builder(client: &ClientSettings) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(client.keepalive_timeout_ms > 0)
        .max_buf_size(max_head_bytes(client))
        .header_read_timeout(Duration::from_millis(client.header_timeout_ms.max(1)));
    builder
}

/// The HTTP/2 connection builder for a table's client settings.
fn http2_builder(client: &ClientSettings) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(client.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(max_head_bytes(client)).unwrap_or(u32::MAX))
        // Rapid reset (CVE-2023-44487): a client that keeps resetting streams before they are
        // served, or that makes the server reset them, gets a GOAWAY. Explicit, so a changed
        // dependency default cannot loosen them.
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESETS);
    builder
}

/// Accepts connections until `stop` turns true, then drops the socket so new connections are
/// refused. Every connection is tracked by `drain`.
pub(crate) async fn accept_loop(
    listener: Listener,
    pipeline: Arc<Pipeline>,
    drain: &Drain,
    mut stop: watch::Receiver<bool>,
) {
    let port = listener.tcp.local_addr().map_or(0, |a| a.port());
    // Whether accepted sockets come with the listener's `TCP_NODELAY` (Linux), found at the
    // first accept; then no system call per connection sets it again.
    let mut inherits_nodelay = None;
    // One wait for the whole loop: a new one per accept would register with and leave the
    // watch's waiter list (a lock each) for every connection.
    let stopped = stop.wait_for(|stop| *stop);
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.tcp.accept() => accepted,
        };
        match accepted {
            Ok((stream, client)) => {
                let inherited =
                    *inherits_nodelay.get_or_insert_with(|| stream.nodelay().unwrap_or(false));
                if !inherited && let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
                let connection = Connection {
                    client,
                    scheme: listener.scheme,
                    port,
                };
                // Boxed: the connection's state (hyper's HTTP/1 or HTTP/2 connection, several
                // kilobytes) is then written to the heap once, where a task of it would be
                // copied on spawn, into the task cell and at each stage change.
                tokio::spawn(Box::pin(serve_connection(
                    listener.stats.clone(),
                    stream,
                    connection,
                    pipeline.clone(),
                    drain.watch(),
                )));
            }
            Err(error) => {
                tracing::warn!(%error, port, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    tracing::info!(port, scheme = %listener.scheme, "listener closed");
}

async fn serve_connection(
    stats: Arc<ConnectionStats>,
    mut stream: TcpStream,
    connection: Connection,
    pipeline: Arc<Pipeline>,
    watch: DrainWatch,
) {
    let _open = stats.accepted();
    let generation = pipeline.generation();
    let client = generation.settings().client.clone();
    let mut info = ConnInfo {
        texts: Some(ConnTexts::new(&connection)),
        ..ConnInfo::default()
    };
    let stream = if client.proxy_protocol {
        let limit = Duration::from_millis(client.proxy_protocol_timeout_ms.max(1));
        match read_proxy_header(&mut stream, limit).await {
            Ok((addresses, rest)) => {
                info.proxy = addresses;
                Prefixed::new(rest, stream)
            }
            Err(error) => {
                tracing::debug!(%error, client = %connection.client, "PROXY protocol header refused");
                return;
            }
        }
    } else {
        Prefixed::new(Vec::new(), stream)
    };
    let state = Arc::new(ConnState::new(&client));
    match connection.scheme {
        Scheme::Http => serve(stream, connection, info, state, pipeline, watch).await,
        Scheme::Https => {
            // Boxed: the handshake and the TLS connection's state would otherwise make every
            // plain connection's task several kilobytes larger.
            Box::pin(serve_tls(
                stream, generation, connection, info, state, pipeline, watch,
            ))
            .await;
        }
    }
}

/// Performs the TLS handshake (the certificate chosen by SNI) and serves the connection.
async fn serve_tls(
    stream: Prefixed<TcpStream>,
    generation: Arc<Generation>,
    connection: Connection,
    mut info: ConnInfo,
    state: Arc<ConnState>,
    pipeline: Arc<Pipeline>,
    watch: DrainWatch,
) {
    let handshake = async {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream).await?;
        let sni = start.client_hello().server_name().map(str::to_owned);
        let Some(config) = generation.tls_for(sni.as_deref()) else {
            return Ok(None);
        };
        start.into_stream(config).await.map(Some)
    };
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(Some(tls))) => tls,
        Ok(Ok(None)) => {
            tracing::debug!(client = %connection.client, "TLS handshake refused for an unknown server name");
            return;
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, client = %connection.client, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(client = %connection.client, "TLS handshake timed out");
            return;
        }
    };
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    info.tls = Some(Arc::new(TlsSession::new(chain)));
    let stream = Prefixed::new(Vec::new(), tls);
    serve(stream, connection, info, state, pipeline, watch).await;
}

/// Serves one connection until it closes: HTTP/2 when it starts with the HTTP/2 preface (h2c
/// with prior knowledge, or h2 after ALPN), else HTTP/1.1; graceful shutdown on drain, after
/// `keep-alive-requests` requests, or when idle for `keep-alive`. A connection that sends
/// nothing is closed after `client-header-timeout`, as nginx closes it.
async fn serve<S>(
    mut stream: Prefixed<S>,
    connection: Connection,
    info: ConnInfo,
    state: Arc<ConnState>,
    pipeline: Arc<Pipeline>,
    mut watch: DrainWatch,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let client = pipeline.generation().settings().client.clone();
    let first_bytes = Duration::from_millis(client.header_timeout_ms.max(1));
    let h2 = tokio::select! {
        biased;
        _ = watch.stop.wait_for(|stop| *stop) => return,
        detected = tokio::time::timeout(first_bytes, stream.starts_with_h2_preface()) => {
            match detected {
                Ok(Ok(h2)) => h2,
                Ok(Err(error)) => {
                    tracing::debug!(%error, client = %connection.client, "connection failed before a request");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client = %connection.client, "no request within client-header-timeout");
                    return;
                }
            }
        }
    };
    let io = Held {
        io: TokioIo::new(stream),
        _alive: watch._alive.clone(),
    };
    let service_state = state.clone();
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let info = info.clone();
        let guard = service_state.begin();
        let pipeline = pipeline.clone();
        // Boxed: hyper moves the future several times before it first polls it (and HTTP/2
        // spawns it as a task), and a request's state is several kilobytes.
        Box::pin(pipeline.handle(connection, info, guard, request))
    });
    let result = if h2 {
        let conn = http2_builder(&client).serve_connection(io, service);
        drive(conn, |conn| conn.graceful_shutdown(), &state, &mut watch).await
    } else {
        let conn = http1_builder(&client)
            .serve_connection(io, service)
            .with_upgrades();
        drive(conn, |conn| conn.graceful_shutdown(), &state, &mut watch).await
    };
    if let Err(error) = result {
        tracing::debug!(%error, client = %connection.client, "connection ended with an error");
    }
}

/// Runs a served connection to its end, asking it to finish (`shutdown`) on drain, after
/// `keep-alive-requests` requests, or when idle for `keep-alive`.
async fn drive<C>(
    conn: C,
    shutdown: impl Fn(Pin<&mut C>),
    state: &ConnState,
    watch: &mut DrainWatch,
) -> hyper::Result<()>
where
    C: Future<Output = hyper::Result<()>>,
{
    tokio::pin!(conn);
    // One idle timer for the connection's life: requests only record when they end, and the
    // timer, when it fires, decides whether the connection has been idle long enough.
    let idle_enabled = state.first_idle_check().is_some();
    let idle = tokio::time::sleep_until(state.first_idle_check().unwrap_or_else(Instant::now));
    tokio::pin!(idle);
    let mut closing = false;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return result,
            _ = watch.stop.wait_for(|stop| *stop), if !closing => {
                shutdown(conn.as_mut());
                closing = true;
            }
            () = state.close_requested(), if !closing => {
                shutdown(conn.as_mut());
                closing = true;
            }
            () = idle.as_mut(), if !closing && idle_enabled => {
                match state.idle_check(Instant::now()) {
                    IdleCheck::Expired => {
                        shutdown(conn.as_mut());
                        closing = true;
                    }
                    IdleCheck::Later(at) => idle.as_mut().reset(at),
                }
            }
        }
    }
}

/// A connection's I/O holding a sender of the drain's `alive` channel. hyper hands the I/O over
/// to an upgrade (a WebSocket or other tunnel) and the connection itself ends, so the tunnel
/// keeps the shutdown waiting for it (until the shutdown timeout), as nginx waits for upgraded
/// connections.
struct Held<I> {
    io: I,
    _alive: mpsc::Sender<()>,
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Held<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Held<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
