//! The per-virtual-host facts the request path and the TLS acceptor need, indexed the way the
//! router finds hosts (exact, then one-label wildcard, then the host-less virtual host): whether
//! the host has a TLS section (HTTPS redirects), its `app-root`, its client-certificate
//! settings and the TLS configuration its handshakes use.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::ServerConfig;
use sluice_ingress_model::{HostPattern, Routes, VirtualHost};

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

/// Virtual hosts by request host.
#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: HashMap<String, usize>,
    wildcard: HashMap<String, usize>,
    any: Option<usize>,
    hosts: Vec<Arc<HostRuntime>>,
}

impl HostIndex {
    /// Indexes `routes`, building each host's runtime with `make`. The first virtual host of a
    /// pattern wins, as in the router.
    pub fn build(routes: &Routes, mut make: impl FnMut(&VirtualHost) -> HostRuntime) -> Self {
        let mut index = Self::default();
        for vhost in &routes.virtual_hosts {
            let slot = match &vhost.host {
                HostPattern::Exact(host) => index.exact.get(host),
                HostPattern::Wildcard(suffix) => index.wildcard.get(suffix),
                HostPattern::Any => index.any.as_ref(),
            };
            if slot.is_some() {
                continue;
            }
            let id = index.hosts.len();
            index.hosts.push(Arc::new(make(vhost)));
            match &vhost.host {
                HostPattern::Exact(host) => {
                    index.exact.insert(host.clone(), id);
                }
                HostPattern::Wildcard(suffix) => {
                    index.wildcard.insert(suffix.clone(), id);
                }
                HostPattern::Any => index.any = Some(id),
            }
        }
        index
    }

    /// The virtual host of a normalised request host (lowercase, no port).
    pub fn find(&self, host: &str) -> Option<&Arc<HostRuntime>> {
        self.find_named(host)
            .or_else(|| self.any.and_then(|i| self.hosts.get(i)))
    }

    /// The exact or wildcard virtual host of a name, ignoring the host-less one (TLS server
    /// names: a name nothing claims is "unknown" for `ssl-reject-handshake`).
    pub fn find_named(&self, host: &str) -> Option<&Arc<HostRuntime>> {
        let host = host.trim_end_matches('.');
        let lowered;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host
        };
        if let Some(&i) = self.exact.get(host) {
            return self.hosts.get(i);
        }
        let (first, rest) = host.split_once('.')?;
        if first.is_empty() {
            return None;
        }
        self.wildcard.get(rest).and_then(|&i| self.hosts.get(i))
    }
}

/// The name of a host pattern as nginx's `$server_name` shows it.
pub(crate) fn server_name(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Any => "_".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vhost(host: HostPattern) -> VirtualHost {
        VirtualHost {
            host,
            tls: None,
            routes: Vec::new(),
            policy: Default::default(),
        }
    }

    #[test]
    fn exact_then_wildcard_then_any() {
        let mut routes = Routes::default();
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Exact("a.example.com".into())));
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Wildcard("example.com".into())));
        routes.virtual_hosts.push(vhost(HostPattern::Any));
        let index = HostIndex::build(&routes, |v| HostRuntime {
            name: server_name(&v.host),
            has_tls: false,
            app_root: None,
            client_auth: None,
            server_config: None,
        });
        assert_eq!(index.find("a.example.com").unwrap().name, "a.example.com");
        assert_eq!(index.find("B.example.com").unwrap().name, "*.example.com");
        assert_eq!(index.find("x.b.example.com").unwrap().name, "_");
        assert!(index.find_named("x.b.example.com").is_none());
        assert!(index.find_named(".example.com").is_none());
    }
}
