//! Pooled upstream clients: one HTTP/1.1 client and one h2c (prior knowledge) client, shared by
//! every generation so keep-alive connections survive table changes. Pools are keyed by endpoint
//! address. TLS upstreams (`HTTPS`, `GRPCS`) get their clients here when they are added.

use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sluice_ingress_model::{BackendProtocol, UpstreamId};

use crate::body::Body;
use crate::error::ProxyError;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per endpoint.
const POOL_MAX_IDLE_PER_HOST: usize = 320;
/// The connector's own limit; each route's (usually shorter) connect timeout is enforced by
/// the forwarder around it.
const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(75);

/// The upstream clients of one proxy.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamClients {
    http1: Client<HttpConnector, Body>,
    h2c: Client<HttpConnector, Body>,
}

impl UpstreamClients {
    /// Builds the clients.
    pub fn new() -> Self {
        let mut http1 = Client::builder(TokioExecutor::new());
        http1
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new());
        let mut h2c = http1.clone();
        h2c.http2_only(true);
        Self {
            http1: http1.build(connector()),
            h2c: h2c.build(connector()),
        }
    }

    /// The client for an upstream protocol, and the HTTP version to send with it.
    pub fn for_protocol(
        &self,
        upstream: &UpstreamId,
        protocol: BackendProtocol,
    ) -> Result<(&Client<HttpConnector, Body>, http::Version), ProxyError> {
        match protocol {
            // AUTO_HTTP follows the client's scheme; without TLS upstreams it is plain HTTP.
            BackendProtocol::Http | BackendProtocol::AutoHttp => {
                Ok((&self.http1, http::Version::HTTP_11))
            }
            BackendProtocol::Grpc => Ok((&self.h2c, http::Version::HTTP_2)),
            // Hook: TLS upstream clients (hyper-rustls with the ring provider) go here.
            BackendProtocol::Https | BackendProtocol::Grpcs => {
                Err(ProxyError::UnsupportedProtocol {
                    upstream: upstream.to_string(),
                    protocol: format!("{protocol:?}").to_uppercase(),
                })
            }
        }
    }
}

fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECTOR_TIMEOUT));
    connector
}
