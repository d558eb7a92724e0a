//! The client the proxy's own requests use (external auth subrequests and mirrored copies):
//! `http://` and `https://` URLs, host names resolved by the system resolver, pooled
//! connections ([`Connector::by_url`]). Over HTTPS it sends SNI for the URL's host and, like
//! nginx's default (`proxy_ssl_verify off`, which ingress-nginx keeps for auth and mirror
//! locations), does not verify the server's certificate; handshake signatures are still
//! checked. The TLS configuration is the upstreams' default one (`upstream_tls`) with SNI on.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::Body;
use crate::connector::Connector;

/// A pooled HTTP/1.1 client for `http://` and `https://` URLs keeping up to `idle_per_host`
/// idle connections for a minute.
pub(crate) fn client(idle_per_host: usize) -> Client<Connector, Body> {
    let tls = match crate::upstream_tls::client_config(None, &[]) {
        Ok(config) => {
            let mut config = Arc::unwrap_or_clone(config);
            config.enable_sni = true;
            Some(Arc::new(config))
        }
        Err(error) => {
            tracing::warn!(%error, "no TLS for the proxy's own https:// requests");
            None
        }
    };
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(idle_per_host)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(Connector::by_url(tls))
}
