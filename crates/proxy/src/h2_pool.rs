//! HTTP/2 connections to `GRPC` (h2c, prior knowledge) and `GRPCS` (h2 over TLS) upstreams:
//! one multiplexed connection per endpoint, opened on demand and replaced once closed. Unlike
//! the pooled HTTP/1.1 client, the request URI here is what goes on the wire, so `:authority`
//! carries the client's host (as nginx's `grpc_pass` does) while the connection goes to the
//! endpoint chosen by the balancer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::Body;
use crate::connector::Connector;

/// Live HTTP/2 connections by endpoint and TLS configuration.
#[derive(Debug, Default)]
pub(crate) struct H2Pool {
    conns: Mutex<HashMap<(SocketAddr, usize), SendRequest<Body>>>,
}

impl H2Pool {
    /// A ready sender to `endpoint`: a live pooled one, else a new connection. `key` tells
    /// connections with different TLS settings apart.
    pub async fn sender(
        &self,
        endpoint: SocketAddr,
        key: usize,
        connector: &Connector,
    ) -> Result<SendRequest<Body>, crate::error::BoxError> {
        let pooled = {
            // A poisoned lock only means another request panicked; the map is still usable.
            let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            conns.get(&(endpoint, key)).cloned()
        };
        if let Some(mut sender) = pooled
            && !sender.is_closed()
            && sender.ready().await.is_ok()
        {
            return Ok(sender);
        }
        // Boxed: the state of a connect and handshake would otherwise make every request's
        // future larger.
        Box::pin(self.open(endpoint, key, connector)).await
    }

    /// Opens a new connection to `endpoint`, starts its task and keeps its sender.
    async fn open(
        &self,
        endpoint: SocketAddr,
        key: usize,
        connector: &Connector,
    ) -> Result<SendRequest<Body>, crate::error::BoxError> {
        let io = connector.open(endpoint).await?;
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::debug!(%error, %endpoint, "upstream HTTP/2 connection ended");
            }
        });
        sender.ready().await?;
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.retain(|_, s| !s.is_closed());
        conns.insert((endpoint, key), sender.clone());
        Ok(sender)
    }
}
