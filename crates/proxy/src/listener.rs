//! Accept loops for the HTTP and HTTPS listeners. Each accepted socket gets `TCP_NODELAY` and
//! its own task; hyper-util's auto builder serves HTTP/1.1 and HTTP/2 on it (h2c with prior
//! knowledge on the plain port, ALPN-negotiated h2 on TLS), with upgrades enabled.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::filter::{Connection, Scheme};
use crate::service::Pipeline;

/// The longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a client may take to send a request head (nginx `client_header_timeout`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause after an accept error (e.g. out of file descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A bound listener with what its connections need.
pub(crate) struct Listener {
    /// The socket.
    pub tcp: TcpListener,
    /// `Https` when `tls` is set.
    pub scheme: Scheme,
    /// The TLS acceptor of an HTTPS listener.
    pub tls: Option<TlsAcceptor>,
}

/// The connection builder shared by every listener.
pub(crate) fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Accepts connections until `stop` turns true, then drops the socket so new connections are
/// refused. Every connection is watched by `graceful`.
pub(crate) async fn accept_loop(
    listener: Listener,
    pipeline: Arc<Pipeline>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: &GracefulShutdown,
    mut stop: watch::Receiver<bool>,
) {
    let port = listener.tcp.local_addr().map_or(0, |a| a.port());
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = listener.tcp.accept() => accepted,
        };
        match accepted {
            Ok((stream, client)) => {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
                let connection = Connection {
                    client,
                    scheme: listener.scheme,
                    port,
                };
                tokio::spawn(serve_connection(
                    stream,
                    listener.tls.clone(),
                    connection,
                    pipeline.clone(),
                    builder.clone(),
                    graceful.watcher(),
                ));
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
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    connection: Connection,
    pipeline: Arc<Pipeline>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
) {
    let service = service_fn(move |request| pipeline.clone().handle(connection, request));
    let result = match tls {
        None => {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn).await
        }
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, client = %connection.client, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client = %connection.client, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, client = %connection.client, "connection ended with an error");
    }
}
