//! Upstream clients of one set of upstream keep-alive settings (`upstream-keepalive-*`): a
//! pooled HTTP/1.1 client for plain `HTTP`, one per TLS configuration for `HTTPS`, and the
//! HTTP/2 pool for `GRPC` (h2c) and `GRPCS`. Generations share them while the settings stay the
//! same, so keep-alive connections survive table changes. Pools are keyed by endpoint address.

use std::sync::Mutex;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sluice_ingress_model::policy::{UpstreamSettings, UpstreamTls};
use sluice_ingress_model::{BackendProtocol, UpstreamId};

use crate::body::Body;
use crate::connector::Connector;
use crate::error::ProxyError;
use crate::filter::Scheme;
use crate::h2_pool::H2Pool;
use crate::upstream_tls::{self, TlsTarget};

/// How a request reaches its upstream.
#[derive(Clone, Debug)]
pub(crate) enum Transport {
    /// The pooled HTTP/1.x client (plain or TLS).
    Http1(Box<Client<Connector, Body>>),
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
    client: Client<Connector, Body>,
}

/// The upstream clients of one proxy and one set of keep-alive settings.
pub(crate) struct UpstreamClients {
    settings: UpstreamSettings,
    http1: Client<Connector, Body>,
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
    /// Clients for these keep-alive settings.
    pub fn new(settings: &UpstreamSettings) -> Self {
        Self {
            settings: settings.clone(),
            http1: pooled(settings, Connector::plain()),
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
            BackendProtocol::Http => Ok((Transport::Http1(Box::new(self.http1.clone())), false)),
            BackendProtocol::AutoHttp if client_scheme == Scheme::Http => {
                Ok((Transport::Http1(Box::new(self.http1.clone())), false))
            }
            BackendProtocol::Https | BackendProtocol::AutoHttp => {
                let entry = self.tls_entry(tls, upstream, false)?;
                Ok((Transport::Http1(Box::new(entry.1)), true))
            }
            BackendProtocol::Grpc => Ok((
                Transport::H2 {
                    connector: Connector::plain(),
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
    ) -> Result<(Connector, Client<Connector, Body>, usize), ProxyError> {
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
            return Ok((entry.connector.clone(), entry.client.clone(), i + 1));
        }
        let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[] };
        let target = TlsTarget {
            config: upstream_tls::client_config(tls, alpn)?,
            server_name: upstream_tls::server_name(tls, &name)?,
        };
        let connector = Connector::tls(target);
        let client = pooled(&self.settings, connector.clone());
        entries.push(TlsEntry {
            tls: tls.cloned(),
            name,
            h2,
            connector: connector.clone(),
            client: client.clone(),
        });
        Ok((connector, client, entries.len()))
    }
}

fn pooled(settings: &UpstreamSettings, connector: Connector) -> Client<Connector, Body> {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(Duration::from_millis(settings.keepalive_timeout_ms))
        .pool_max_idle_per_host(
            usize::try_from(settings.keepalive_connections).unwrap_or(usize::MAX),
        )
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    builder.build(connector)
}
