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
/// It agrees with `Routes::lookup` of `sluice-ingress-model` on every input; see the crate
/// documentation for how.
#[derive(Debug)]
pub struct Router {
    /// Normalised host → its compiled virtual host.
    hosts: HostIndex<Arc<HostRoutes>>,
    /// The virtual hosts this router was compiled from, for [`Router::update`].
    sources: Vec<Arc<VirtualHost>>,
    /// Serves requests nothing else matches.
    default_route: Option<Arc<Route>>,
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
    /// Compiles the routes of a table. The router keeps its own copy of the routes it needs
    /// (policies are shared through their `Arc`). A host pattern listed twice keeps the first.
    pub fn new(routes: &Routes) -> Result<Router, RouterError> {
        let mut hosts = HostIndex::default();
        for vhost in &routes.virtual_hosts {
            if hosts.contains(&vhost.host) {
                continue;
            }
            hosts.insert(&vhost.host, Arc::new(HostRoutes::compile(vhost)?));
        }
        Ok(Router {
            hosts,
            sources: routes.virtual_hosts.clone(),
            default_route: routes.default_route.clone().map(Arc::new),
        })
    }

    /// Compiles `routes` from this router: only the virtual hosts that differ from the ones
    /// it was compiled from are compiled, the others are shared (an unchanged virtual host of
    /// an incremental build costs a pointer comparison). Tables whose virtual hosts are not
    /// sorted by pattern are compiled from scratch.
    pub fn update(&self, routes: &Routes) -> Result<Router, RouterError> {
        match host_changes(&self.sources, &routes.virtual_hosts) {
            Some(changes) => self.patch(routes, &changes),
            None => Self::new(routes),
        }
    }

    /// As [`Router::update`], with the host changes already listed in `diff` (used when it
    /// was computed from this router's own table to `routes`, else listed again).
    pub fn update_with(&self, routes: &Routes, diff: &HostDiff<'_>) -> Result<Router, RouterError> {
        match diff.between(&self.sources, &routes.virtual_hosts) {
            Some(changes) => self.patch(routes, changes),
            None => self.update(routes),
        }
    }

    fn patch(&self, routes: &Routes, changes: &[HostChange<'_>]) -> Result<Router, RouterError> {
        let mut hosts = self.hosts.clone();
        for old in changes.iter().filter_map(|c| c.old) {
            hosts.remove(&old.host);
        }
        for vhost in changes.iter().filter_map(|c| c.new) {
            hosts.insert(&vhost.host, Arc::new(HostRoutes::compile(vhost)?));
        }
        Ok(Router {
            hosts,
            sources: routes.virtual_hosts.clone(),
            default_route: routes.default_route.clone().map(Arc::new),
        })
    }

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
        let in_host = self.hosts.find(&host).and_then(|vhost| {
            let index = vhost.lookup(path, request)?;
            vhost.vhost.routes.get(index as usize)
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
        let host = host::normalize(host);
        let in_host = self.hosts.find(&host).and_then(|vhost| {
            let index = vhost.lookup(path, request)?;
            Some(SharedRoute(Shared::InHost {
                vhost: Arc::clone(&vhost.vhost),
                index,
            }))
        });
        in_host.or_else(|| {
            let route = self.default_route.as_ref()?;
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
}
