//! The compiled router: host index → per-host path index (matchit tree plus a linear list) →
//! route, falling back to the table's default route.

use std::ops::Deref;
use std::sync::Arc;

use sluice_ingress_model::{
    HostChange, HostDiff, NoAttributes, RequestAttributes, Route, Routes, VirtualHost, host_changes,
};

use crate::condition::Conditions;
use crate::error::RouterError;
use crate::host::{self, HostIndex};
use crate::linear::Linear;
use crate::path::PathIndex;

/// A route table compiled for fast lookups. Immutable once built: share it in an `Arc` and
/// replace it as a whole when the table changes ([`Router::update`] reuses the compiled form
/// of every virtual host that did not change).
///
/// Each virtual host can carry a value `H` of the caller's (the proxy keeps its per-host TLS
/// and redirect facts there), so one host lookup per request finds both; see
/// [`Router::with_payloads`] and [`Router::find_host`].
///
/// It agrees with `Routes::lookup` of `sluice-ingress-model` on every input; see the crate
/// documentation for how.
#[derive(Debug)]
pub struct Router<H = ()> {
    /// Normalised host → its compiled virtual host.
    hosts: HostIndex<HostEntry<H>>,
    /// The virtual hosts this router was compiled from, for [`Router::update`].
    sources: Vec<Arc<VirtualHost>>,
    /// Serves requests nothing else matches.
    default_route: Option<Arc<Route>>,
}

/// A compiled virtual host and the caller's value for it.
#[derive(Clone, Debug)]
struct HostEntry<H> {
    routes: Arc<HostRoutes>,
    payload: H,
}

/// The virtual host [`Router::find_host`] found for a request host (or none), from which its
/// payload and its routes are read without looking the host up again.
#[derive(Debug)]
pub struct HostMatch<'a, H> {
    host: Option<&'a HostEntry<H>>,
    default_route: Option<&'a Arc<Route>>,
}

/// The compiled form of one virtual host: its path matchers and its routes' conditions. The
/// routes themselves stay in the virtual host, which the table and the router share.
#[derive(Debug)]
struct HostRoutes {
    /// The virtual host; the path indexes store positions in its `routes`.
    vhost: Arc<VirtualHost>,
    /// Exact and Prefix routes; `None` when the host has none.
    paths: Option<PathIndex>,
    /// Regex routes and paths the tree does not take.
    linear: Linear,
    /// The compiled conditions of each route, by position.
    conditions: Vec<Conditions>,
}

/// A route found by [`Router::lookup_shared`], kept alive with a reference count so a request
/// can hold it past the router's life: the virtual host it belongs to (shared with the table,
/// not copied) or the table's default route. Dereferences to the [`Route`].
#[derive(Clone, Debug)]
pub struct SharedRoute(Shared);

#[derive(Clone, Debug)]
enum Shared {
    /// Route `index` of `vhost.routes`.
    InHost { vhost: Arc<VirtualHost>, index: u32 },
    /// The table's default route.
    Default(Arc<Route>),
}

impl SharedRoute {
    /// Wraps a route that belongs to no router (tests and hand-made requests).
    pub fn new(route: Route) -> Self {
        Self(Shared::Default(Arc::new(route)))
    }
}

impl Deref for SharedRoute {
    type Target = Route;

    fn deref(&self) -> &Route {
        match &self.0 {
            // In range: only `HostRoutes::lookup` makes this variant, with a position it
            // compiled from this very virtual host.
            #[allow(clippy::indexing_slicing)]
            Shared::InHost { vhost, index } => &vhost.routes[*index as usize],
            Shared::Default(route) => route,
        }
    }
}

impl Router {
    /// Compiles the routes of a table. The router shares the table's virtual hosts (and so
    /// its routes) and compiles their paths and conditions. A host pattern listed twice keeps
    /// the first.
    pub fn new(routes: &Routes) -> Result<Router, RouterError> {
        Self::with_payloads(routes, |_| ())
    }

    /// Compiles `routes` from this router: only the virtual hosts that differ from the ones
    /// it was compiled from are compiled, the others are shared (an unchanged virtual host of
    /// an incremental build costs a pointer comparison). Tables whose virtual hosts are not
    /// sorted by pattern are compiled from scratch.
    pub fn update(&self, routes: &Routes) -> Result<Router, RouterError> {
        match host_changes(&self.sources, &routes.virtual_hosts) {
            Some(changes) => self.patch(routes, &changes, &mut |_| ()),
            None => Self::new(routes),
        }
    }

    /// As [`Router::update`], with the host changes already listed in `diff` (used when it
    /// was computed from this router's own table to `routes`, else listed again).
    pub fn update_with(&self, routes: &Routes, diff: &HostDiff<'_>) -> Result<Router, RouterError> {
        self.update_payloads(routes, diff, false, |_| ())
    }
}

impl<H: Clone> Router<H> {
    /// As [`Router::new`], giving each virtual host the value `make` returns for it.
    pub fn with_payloads(
        routes: &Routes,
        mut make: impl FnMut(&VirtualHost) -> H,
    ) -> Result<Self, RouterError> {
        Self::compile_all(routes, None, &mut make)
    }

    /// As [`Router::update_with`]: virtual hosts that did not change keep their compiled form
    /// and, unless `remake` is set, their payload; changed ones get a new payload from `make`.
    /// With `remake`, every virtual host gets a new payload (its compiled form is still kept).
    pub fn update_payloads(
        &self,
        routes: &Routes,
        diff: &HostDiff<'_>,
        remake: bool,
        mut make: impl FnMut(&VirtualHost) -> H,
    ) -> Result<Self, RouterError> {
        if remake {
            return Self::compile_all(routes, Some(self), &mut make);
        }
        let listed;
        let changes = match diff.between(&self.sources, &routes.virtual_hosts) {
            Some(changes) => changes,
            None => match host_changes(&self.sources, &routes.virtual_hosts) {
                Some(changes) => {
                    listed = changes;
                    &listed
                }
                None => return Self::compile_all(routes, Some(self), &mut make),
            },
        };
        self.patch(routes, changes, &mut make)
    }

    /// Indexes every virtual host of `routes`, reusing the compiled form of those `previous`
    /// compiled from the same (or an equal) virtual host, as an update does.
    fn compile_all(
        routes: &Routes,
        previous: Option<&Self>,
        make: &mut dyn FnMut(&VirtualHost) -> H,
    ) -> Result<Self, RouterError> {
        let mut hosts = HostIndex::default();
        for vhost in &routes.virtual_hosts {
            if hosts.contains(&vhost.host) {
                continue;
            }
            let compiled = previous
                .and_then(|p| p.hosts.get(&vhost.host))
                .filter(|entry| {
                    Arc::ptr_eq(&entry.routes.vhost, vhost) || entry.routes.vhost == *vhost
                })
                .map(|entry| Arc::clone(&entry.routes));
            let routes = match compiled {
                Some(routes) => routes,
                None => Arc::new(HostRoutes::compile(vhost)?),
            };
            let payload = make(vhost);
            hosts.insert(&vhost.host, HostEntry { routes, payload });
        }
        Ok(Self::assembled(hosts, routes))
    }

    /// The router of `routes` with its hosts indexed.
    fn assembled(hosts: HostIndex<HostEntry<H>>, routes: &Routes) -> Self {
        Router {
            hosts,
            sources: routes.virtual_hosts.clone(),
            default_route: routes.default_route.clone().map(Arc::new),
        }
    }

    fn patch(
        &self,
        routes: &Routes,
        changes: &[HostChange<'_>],
        make: &mut dyn FnMut(&VirtualHost) -> H,
    ) -> Result<Self, RouterError> {
        let mut hosts = self.hosts.clone();
        for old in changes.iter().filter_map(|c| c.old) {
            hosts.remove(&old.host);
        }
        for vhost in changes.iter().filter_map(|c| c.new) {
            let routes = Arc::new(HostRoutes::compile(vhost)?);
            let payload = make(vhost);
            hosts.insert(&vhost.host, HostEntry { routes, payload });
        }
        Ok(Self::assembled(hosts, routes))
    }
}

impl<H> Router<H> {
    /// The route serving `host` and `path`, ignoring routes with extra conditions.
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Route> {
        self.lookup_request(host, path, &NoAttributes)
    }

    /// The route serving a request: its host, path and (for conditions) headers, cookies,
    /// query and method.
    pub fn lookup_request(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Route> {
        let host = host::normalize(host);
        let in_host = self.hosts.find(&host).and_then(|entry| {
            let index = entry.routes.lookup(path, request)?;
            entry.routes.vhost.routes.get(index as usize)
        });
        in_host.or(self.default_route.as_deref())
    }

    /// As [`Router::lookup_request`], returning the shared route so a caller can keep it past
    /// the router's life with a reference count.
    pub fn lookup_shared(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<SharedRoute> {
        self.find_host(host).route(path, request)
    }

    /// The virtual host serving a request host (exact, then one-label wildcard, then the
    /// host-less one), normalised as the lookups do.
    pub fn find_host(&self, host: &str) -> HostMatch<'_, H> {
        HostMatch {
            host: self.hosts.find(&host::normalize(host)),
            default_route: self.default_route.as_ref(),
        }
    }

    /// The payload of the exact or wildcard virtual host of a name, ignoring the host-less
    /// one (TLS server names: a name nothing claims is "unknown").
    pub fn named_host(&self, name: &str) -> Option<&H> {
        self.hosts
            .find_named(&host::normalize(name))
            .map(|entry| &entry.payload)
    }
}

impl<'a, H> HostMatch<'a, H> {
    /// The caller's value for the virtual host, if a virtual host matched.
    pub fn payload(&self) -> Option<&'a H> {
        self.host.map(|entry| &entry.payload)
    }

    /// The route of this virtual host serving `path` and `request`, else the table's default
    /// route, shared so the caller can keep it.
    pub fn route(&self, path: &str, request: &dyn RequestAttributes) -> Option<SharedRoute> {
        let in_host = self.host.and_then(|entry| {
            let index = entry.routes.lookup(path, request)?;
            Some(SharedRoute(Shared::InHost {
                vhost: Arc::clone(&entry.routes.vhost),
                index,
            }))
        });
        in_host.or_else(|| {
            let route = self.default_route?;
            Some(SharedRoute(Shared::Default(Arc::clone(route))))
        })
    }
}

impl HostRoutes {
    fn compile(vhost: &Arc<VirtualHost>) -> Result<HostRoutes, RouterError> {
        let mut tree_routes = Vec::new();
        let mut linear_routes = Vec::new();
        let mut conditions = Vec::with_capacity(vhost.routes.len());
        for route in &vhost.routes {
            let id = u32::try_from(conditions.len()).map_err(|_| RouterError::TooManyRoutes {
                host: vhost.host.to_string(),
                pattern: route.path.to_string(),
            })?;
            if PathIndex::accepts(&route.path) {
                tree_routes.push((id, &route.path));
            } else {
                linear_routes.push((id, &route.path));
            }
            conditions.push(Conditions::compile(&route.conditions));
        }
        let paths = match tree_routes.is_empty() {
            true => None,
            false => Some(PathIndex::build(&vhost.host, &tree_routes)?),
        };
        let linear = Linear::build(&linear_routes);
        Ok(HostRoutes {
            vhost: Arc::clone(vhost),
            paths,
            linear,
            conditions,
        })
    }

    /// The position of the best route of this host for `path` whose conditions hold.
    fn lookup(&self, path: &str, request: &dyn RequestAttributes) -> Option<u32> {
        let accept = |id: u32| {
            self.conditions
                .get(id as usize)
                .is_some_and(|c| c.hold(request))
        };
        let from_tree = self
            .paths
            .as_ref()
            .and_then(|paths| paths.lookup(path, accept));
        if self.linear.is_empty() {
            from_tree
        } else {
            let bound = from_tree
                .and_then(|id| Some((self.vhost.routes.get(id as usize)?.path.precedence(), id)));
            self.linear.lookup(path, bound, accept).or(from_tree)
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice_ingress_model::HostPattern;

    use super::*;

    #[test]
    fn router_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Router>();
    }

    #[test]
    fn empty_table_serves_nothing() {
        let router = Router::new(&Routes::default()).unwrap();
        assert!(router.lookup("example.com", "/").is_none());
        assert!(router.lookup("", "").is_none());
    }

    fn vhost(host: HostPattern) -> Arc<VirtualHost> {
        Arc::new(VirtualHost {
            host,
            tls: None,
            routes: Vec::new(),
            policy: Default::default(),
        })
    }

    fn name(vhost: &VirtualHost) -> Arc<String> {
        Arc::new(vhost.host.to_string())
    }

    #[test]
    fn payloads_follow_exact_then_wildcard_then_any() {
        let routes = Routes {
            virtual_hosts: vec![
                vhost(HostPattern::Exact("a.example.com".into())),
                vhost(HostPattern::Wildcard("example.com".into())),
                vhost(HostPattern::Any),
            ],
            ..Routes::default()
        };
        let router = Router::with_payloads(&routes, name).unwrap();
        let payload = |host: &str| router.find_host(host).payload().map(|p| p.to_string());
        assert_eq!(payload("a.example.com").as_deref(), Some("a.example.com"));
        assert_eq!(
            payload("B.example.com:8080").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(payload("x.b.example.com").as_deref(), Some("*"));
        assert_eq!(
            router.named_host("A.EXAMPLE.COM.").map(|p| p.as_str()),
            Some("a.example.com")
        );
        assert!(router.named_host("x.b.example.com").is_none());
        assert!(router.named_host(".example.com").is_none());
    }

    #[test]
    fn unchanged_virtual_hosts_keep_their_payload_unless_remade() {
        let a = vhost(HostPattern::Exact("a.example.com".into()));
        let old = Routes {
            virtual_hosts: vec![a.clone(), vhost(HostPattern::Exact("b.example.com".into()))],
            ..Routes::default()
        };
        let first = Router::with_payloads(&old, name).unwrap();
        let mut changed = VirtualHost::clone(&vhost(HostPattern::Exact("b.example.com".into())));
        changed.tls = Some(sluice_ingress_model::HostTls {
            certificate: None,
            origin: sluice_ingress_model::ObjectKey::new("default", "b"),
        });
        let new = Routes {
            virtual_hosts: vec![a, Arc::new(changed)],
            ..Routes::default()
        };
        let diff = HostDiff::new(&old, &new);
        let payload = |router: &Router<Arc<String>>, host: &str| {
            Arc::clone(router.find_host(host).payload().unwrap())
        };
        let second = first.update_payloads(&new, &diff, false, name).unwrap();
        assert!(Arc::ptr_eq(
            &payload(&first, "a.example.com"),
            &payload(&second, "a.example.com")
        ));
        assert!(!Arc::ptr_eq(
            &payload(&first, "b.example.com"),
            &payload(&second, "b.example.com")
        ));
        let remade = second
            .update_payloads(&new, &HostDiff::new(&new, &new), true, name)
            .unwrap();
        assert!(!Arc::ptr_eq(
            &payload(&second, "a.example.com"),
            &payload(&remade, "a.example.com")
        ));
        assert_eq!(*payload(&remade, "a.example.com"), "a.example.com");
        // A full build's equal virtual hosts (new allocations) keep their compiled form too.
        let rebuilt = Routes {
            virtual_hosts: new
                .virtual_hosts
                .iter()
                .map(|v| Arc::new(VirtualHost::clone(v)))
                .collect(),
            ..Routes::default()
        };
        let again = remade
            .update_payloads(&rebuilt, &HostDiff::new(&new, &rebuilt), true, name)
            .unwrap();
        let compiled = |router: &Router<Arc<String>>| {
            let pattern = HostPattern::Exact("a.example.com".into());
            Arc::clone(&router.hosts.get(&pattern).unwrap().routes)
        };
        assert!(Arc::ptr_eq(&compiled(&remade), &compiled(&again)));
    }
}
