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
        let shared = Arc::new(Shared::new(
            crate::tls::self_signed()?,
            config.telemetry.clone(),
        )?);
        if let Some(telemetry) = &config.telemetry {
            telemetry.attach(&shared);
        }
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
                stats: shared.stats.connections.clone(),
            }),
            None => None,
        };
        let https = match self.config.https {
            Some(addr) => Some(Listener {
                tcp: bind(addr).await?,
                scheme: Scheme::Https,
                stats: shared.stats.connections.clone(),
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

/// Pending connections a listener queues (what `TcpListener::bind` would use).
const BACKLOG: u32 = 1024;

/// A listening socket with `SO_REUSEADDR` and `TCP_NODELAY`, which Linux passes on to the
/// sockets it accepts (the accept loop sets it on each one where it is not).
async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, ProxyError> {
    let listen = || {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)
    };
    listen().map_err(|source| ProxyError::Bind { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_inherit_the_listeners_nodelay() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        // The accept loop sets it where the system does not pass it on; Linux does.
        if cfg!(target_os = "linux") {
            assert!(accepted.nodelay().unwrap());
        }
    }
}
