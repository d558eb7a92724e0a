//! The per-virtual-host facts the request path and the TLS acceptor need: whether the host has
//! a TLS section (HTTPS redirects), its `app-root`, its client-certificate settings and the TLS
//! configuration its handshakes use. They are the payload of the router's virtual hosts, so
//! the host lookup that finds a request's route finds them too.

use std::sync::Arc;

use rustls::ServerConfig;
use sluice_ingress_model::{HostPattern, VirtualHost};

use crate::client_cert::ClientAuthRuntime;

/// What one virtual host needs at request time.
#[derive(Debug)]
pub(crate) struct HostRuntime {
    /// `$server_name`: the host pattern as written (`_` for the host-less one).
    pub name: String,
    /// Whether an Ingress lists the host under `spec.tls` (ssl-redirect needs it).
    pub has_tls: bool,
    /// `app-root` of the first route of the host that sets it (nginx emits it per server).
    pub app_root: Option<String>,
    /// Client-certificate authentication.
    pub client_auth: Option<Arc<ClientAuthRuntime>>,
    /// The TLS configuration of this host's handshakes when it differs from the default one
    /// (own ciphers or client certificates).
    pub server_config: Option<Arc<ServerConfig>>,
}

impl HostRuntime {
    /// The runtime of a virtual host with no settings beyond its name and TLS section.
    pub fn plain(vhost: &VirtualHost) -> Self {
        Self {
            name: server_name(&vhost.host),
            has_tls: vhost.tls.is_some(),
            app_root: None,
            client_auth: None,
            server_config: None,
        }
    }
}

/// The name of a host pattern as nginx's `$server_name` shows it.
pub(crate) fn server_name(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Any => "_".to_owned(),
        other => other.to_string(),
    }
}
