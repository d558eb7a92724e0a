//! The `Proxy` value: built from a configuration, it owns the shared state and binds its
//! listeners; serving and shutdown live in [`crate::shutdown`].

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Config, ProxyBuilder};
use crate::error::ProxyError;
use crate::filter::Scheme;
use crate::handle::{Handle, Shared};
use crate::listener::Listener;
use crate::service::Pipeline;
use crate::shutdown::Bound;

/// A configured, not yet listening proxy.
pub struct Proxy {
    config: Config,
    handle: Handle,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("http", &self.config.http)
            .field("https", &self.config.https)
            .field("admin", &self.config.admin)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A builder with no listeners, the built-in filters, and the default drain (5 s) and
    /// shutdown timeout (30 s).
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Result<Self, ProxyError> {
        let shared = Arc::new(Shared::new(crate::tls::self_signed()?)?);
        Ok(Self {
            config,
            handle: Handle::new(shared),
        })
    }

    /// The handle to apply tables and read state; usable before and after binding.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Binds every configured listener.
    pub async fn bind(self) -> Result<Bound, ProxyError> {
        let shared = self.handle.shared().clone();
        let http = match self.config.http {
            Some(addr) => Some(Listener {
                tcp: bind(addr).await?,
                scheme: Scheme::Http,
            }),
            None => None,
        };
        let https = match self.config.https {
            Some(addr) => Some(Listener {
                tcp: bind(addr).await?,
                scheme: Scheme::Https,
            }),
            None => None,
        };
        let admin = match self.config.admin {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        // `listen_ports.https`: the port `X-Forwarded-Port` reports as 443 and HTTPS redirects
        // name with `use-port-in-redirects`.
        let https_port = https
            .as_ref()
            .and_then(|l| l.tcp.local_addr().ok())
            .map_or(443, |a| a.port());
        let pipeline = Arc::new(Pipeline::new(shared, self.config.filters, https_port));
        Ok(Bound {
            http,
            https,
            admin,
            pipeline,
            handle: self.handle,
            drain: self.config.drain,
            shutdown_timeout: self.config.shutdown_timeout,
            metrics: self.config.metrics,
        })
    }
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProxyError::Bind { addr, source })
}
