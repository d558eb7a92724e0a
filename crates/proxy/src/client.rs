//! Upstream clients of one set of upstream keep-alive settings (`upstream-keepalive-*`): an
//! HTTP/1.1 connection pool for plain `HTTP`, one per TLS configuration for `HTTPS`, and the
//! HTTP/2 pool for `GRPC` (h2c) and `GRPCS`. Generations share them while the settings stay the
//! same, so keep-alive connections survive table changes. Pools are keyed by endpoint address.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_ingress_model::policy::{UpstreamSettings, UpstreamTls};
use sluice_ingress_model::{BackendProtocol, UpstreamId};

use crate::connector::Connector;
use crate::error::ProxyError;
use crate::filter::Scheme;
use crate::h1_pool::H1Pool;
use crate::h2_pool::H2Pool;
use crate::stats::UpstreamConnections;
use crate::upstream_tls::{self, TlsTarget};

/// How a request reaches its upstream.
#[derive(Clone, Debug)]
pub(crate) enum Transport {
    /// The HTTP/1.x pool (plain or TLS).
    Http1(H1Pool),
    /// The HTTP/2 pool, with the connector for new connections and the pool key of its TLS
    /// settings.
    H2 {
        /// Opens new connections.
        connector: Connector,
        /// Tells connections with different TLS settings apart.
        key: usize,
    },
}

/// Retirement limits of upstream keep-alive connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepAlive {
    /// `upstream-keepalive-requests`.
    pub requests: u32,
    /// `upstream-keepalive-time`.
    pub time: Duration,
    /// `upstream-keepalive-connections: 0`: no reuse, `Connection: close` upstream.
    pub disabled: bool,
}

struct TlsEntry {
    tls: Option<UpstreamTls>,
    name: String,
    h2: bool,
    connector: Connector,
    pool: H1Pool,
}

/// The upstream clients of one proxy and one set of keep-alive settings.
pub(crate) struct UpstreamClients {
    settings: UpstreamSettings,
    connections: Arc<UpstreamConnections>,
    http1: H1Pool,
    tls: Mutex<Vec<TlsEntry>>,
    h2: H2Pool,
}

impl std::fmt::Debug for UpstreamClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClients")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl UpstreamClients {
    /// Clients for these keep-alive settings; new connections are counted in `connections`.
    pub fn new(settings: &UpstreamSettings, connections: Arc<UpstreamConnections>) -> Self {
        Self {
            settings: settings.clone(),
            http1: pooled(settings, Connector::plain().counted(&connections)),
            connections,
            tls: Mutex::new(Vec::new()),
            h2: H2Pool::default(),
        }
    }

    /// The keep-alive retirement limits.
    pub fn keepalive(&self) -> KeepAlive {
        KeepAlive {
            requests: self.settings.keepalive_requests,
            time: Duration::from_millis(self.settings.keepalive_time_ms),
            disabled: self.settings.keepalive_connections == 0,
        }
    }

    /// Upstream connections opened and open, per endpoint address.
    pub fn connections(&self) -> &Arc<UpstreamConnections> {
        &self.connections
    }

    /// The HTTP/2 pool.
    pub fn h2(&self) -> &H2Pool {
        &self.h2
    }

    /// The transport for an upstream protocol (`AUTO_HTTP` follows the client's scheme), and
    /// whether it speaks TLS.
    pub fn transport(
        &self,
        protocol: BackendProtocol,
        client_scheme: Scheme,
        tls: Option<&UpstreamTls>,
        upstream: &UpstreamId,
    ) -> Result<(Transport, bool), ProxyError> {
        match protocol {
            BackendProtocol::Http => Ok((Transport::Http1(self.http1.clone()), false)),
            BackendProtocol::AutoHttp if client_scheme == Scheme::Http => {
                Ok((Transport::Http1(self.http1.clone()), false))
            }
            BackendProtocol::Https | BackendProtocol::AutoHttp => {
                let entry = self.tls_entry(tls, upstream, false)?;
                Ok((Transport::Http1(entry.1), true))
            }
            BackendProtocol::Grpc => Ok((
                Transport::H2 {
                    connector: Connector::plain().counted(&self.connections),
                    key: 0,
                },
                false,
            )),
            BackendProtocol::Grpcs => {
                let (connector, _, key) = self.tls_entry(tls, upstream, true)?;
                Ok((Transport::H2 { connector, key }, true))
            }
        }
    }

    /// The connector and pooled client of a TLS configuration, built on first use; the third
    /// value identifies the configuration for the HTTP/2 pool.
    fn tls_entry(
        &self,
        tls: Option<&UpstreamTls>,
        upstream: &UpstreamId,
        h2: bool,
    ) -> Result<(Connector, H1Pool, usize), ProxyError> {
        let name = tls
            .and_then(|t| t.name.clone())
            .unwrap_or_else(|| upstream.to_string());
        // A poisoned lock only means another request panicked; the list is still usable.
        let mut entries = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((i, entry)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.h2 == h2 && e.name == name && e.tls.as_ref() == tls)
        {
            return Ok((entry.connector.clone(), entry.pool.clone(), i + 1));
        }
        let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[] };
        let target = TlsTarget {
            config: upstream_tls::client_config(tls, alpn)?,
            server_name: upstream_tls::server_name(tls, &name)?,
        };
        let connector = Connector::tls(target).counted(&self.connections);
        let pool = pooled(&self.settings, connector.clone());
        entries.push(TlsEntry {
            tls: tls.cloned(),
            name,
            h2,
            connector: connector.clone(),
            pool: pool.clone(),
        });
        Ok((connector, pool, entries.len()))
    }
}

fn pooled(settings: &UpstreamSettings, connector: Connector) -> H1Pool {
    H1Pool::new(
        connector,
        usize::try_from(settings.keepalive_connections).unwrap_or(usize::MAX),
        Duration::from_millis(settings.keepalive_timeout_ms),
    )
}
