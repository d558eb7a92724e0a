//! The per-virtual-host facts the request path and the TLS acceptor need, indexed the way the
//! router finds hosts (exact, then one-label wildcard, then the host-less virtual host): whether
//! the host has a TLS section (HTTPS redirects), its `app-root`, its client-certificate
//! settings and the TLS configuration its handshakes use.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::ServerConfig;
use sluice_ingress_model::{HostDiff, HostPattern, Routes, VirtualHost, host_changes};

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

/// Virtual hosts by request host. Cheap to clone (keys and values are shared), so a change of a
/// few hosts copies the maps and replaces those.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostIndex {
    exact: HashMap<Arc<str>, Arc<HostRuntime>>,
    wildcard: HashMap<Arc<str>, Arc<HostRuntime>>,
    any: Option<Arc<HostRuntime>>,
    /// The virtual hosts the runtimes were made from.
    sources: Vec<Arc<VirtualHost>>,
}

impl HostIndex {
    /// Indexes `routes`, building each host's runtime with `make`. The first virtual host of a
    /// pattern wins, as in the router. With `previous`, only the virtual hosts that differ
    /// from the ones it was made from get a new runtime (when both lists are sorted by
    /// pattern, as `build` makes them; otherwise everything is made again).
    pub fn build(
        routes: &Routes,
        previous: Option<(&HostIndex, &HostDiff<'_>)>,
        mut make: impl FnMut(&VirtualHost) -> HostRuntime,
    ) -> Self {
        // The diff's changes when it was computed from `previous`'s own list, else listed here.
        let listed;
        let changes = match previous {
            Some((previous, diff)) => {
                match diff.between(&previous.sources, &routes.virtual_hosts) {
                    Some(changes) => Some((previous, changes)),
                    None => {
                        listed = host_changes(&previous.sources, &routes.virtual_hosts);
                        listed.as_deref().map(|changes| (previous, changes))
                    }
                }
            }
            None => None,
        };
        let mut index = match changes {
            Some((previous, changes)) => {
                let mut index = previous.clone();
                for old in changes.iter().filter_map(|c| c.old) {
                    index.remove(&old.host);
                }
                for new in changes.iter().filter_map(|c| c.new) {
                    index.insert(&new.host, Arc::new(make(new)));
                }
                index
            }
            None => {
                let mut index = Self::default();
                for vhost in &routes.virtual_hosts {
                    if !index.contains(&vhost.host) {
                        index.insert(&vhost.host, Arc::new(make(vhost)));
                    }
                }
                index
            }
        };
        index.sources = routes.virtual_hosts.clone();
        index
    }

    fn contains(&self, pattern: &HostPattern) -> bool {
        match pattern {
            HostPattern::Exact(host) => self.exact.contains_key(host.as_str()),
            HostPattern::Wildcard(suffix) => self.wildcard.contains_key(suffix.as_str()),
            HostPattern::Any => self.any.is_some(),
        }
    }

    fn insert(&mut self, pattern: &HostPattern, runtime: Arc<HostRuntime>) {
        match pattern {
            HostPattern::Exact(host) => {
                self.exact.insert(Arc::from(host.as_str()), runtime);
            }
            HostPattern::Wildcard(suffix) => {
                self.wildcard.insert(Arc::from(suffix.as_str()), runtime);
            }
            HostPattern::Any => self.any = Some(runtime),
        }
    }

    fn remove(&mut self, pattern: &HostPattern) {
        match pattern {
            HostPattern::Exact(host) => {
                self.exact.remove(host.as_str());
            }
            HostPattern::Wildcard(suffix) => {
                self.wildcard.remove(suffix.as_str());
            }
            HostPattern::Any => self.any = None,
        }
    }

    /// The virtual host of a normalised request host (lowercase, no port).
    pub fn find(&self, host: &str) -> Option<&Arc<HostRuntime>> {
        self.find_named(host).or(self.any.as_ref())
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
        if let Some(runtime) = self.exact.get(host) {
            return Some(runtime);
        }
        let (first, rest) = host.split_once('.')?;
        if first.is_empty() {
            return None;
        }
        self.wildcard.get(rest)
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
            .push(vhost(HostPattern::Exact("a.example.com".into())).into());
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Wildcard("example.com".into())).into());
        routes.virtual_hosts.push(vhost(HostPattern::Any).into());
        let index = HostIndex::build(&routes, None, |v| HostRuntime {
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

    #[test]
    fn an_unchanged_virtual_host_keeps_its_runtime() {
        let runtime = |v: &VirtualHost| HostRuntime {
            name: server_name(&v.host),
            has_tls: v.tls.is_some(),
            app_root: None,
            client_auth: None,
            server_config: None,
        };
        let a = Arc::new(vhost(HostPattern::Exact("a.example.com".into())));
        let b = Arc::new(vhost(HostPattern::Exact("b.example.com".into())));
        let old = Routes {
            virtual_hosts: vec![a.clone(), b],
            ..Routes::default()
        };
        let first = HostIndex::build(&old, None, runtime);
        let mut changed = vhost(HostPattern::Exact("b.example.com".into()));
        changed.tls = Some(sluice_ingress_model::HostTls {
            certificate: None,
            origin: sluice_ingress_model::ObjectKey::new("default", "b"),
        });
        let new = Routes {
            virtual_hosts: vec![a, Arc::new(changed)],
            ..Routes::default()
        };
        let diff = HostDiff::new(&old, &new);
        let second = HostIndex::build(&new, Some((&first, &diff)), runtime);
        let (old_a, new_a) = (first.find("a.example.com"), second.find("a.example.com"));
        assert!(Arc::ptr_eq(old_a.unwrap(), new_a.unwrap()));
        assert!(!Arc::ptr_eq(
            first.find("b.example.com").unwrap(),
            second.find("b.example.com").unwrap()
        ));
        assert!(second.find("b.example.com").unwrap().has_tls);
    }
}
