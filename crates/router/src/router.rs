//! The compiled router: host index → per-host path index (matchit tree plus a linear list) →
//! route, falling back to the table's default route.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_ingress_model::{
    HostPattern, NoAttributes, RequestAttributes, Route, Routes, VirtualHost,
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
    /// Normalised host → index into `virtual_hosts`.
    hosts: HostIndex,
    /// The compiled virtual hosts that can be chosen (a pattern listed twice keeps the first),
    /// each with the table's virtual host it was compiled from.
    virtual_hosts: Vec<(Arc<VirtualHost>, Arc<HostRoutes>)>,
    /// Serves requests nothing else matches.
    default_route: Option<Arc<Route>>,
}

/// The compiled form of one virtual host: its path matchers and its routes.
#[derive(Debug)]
struct HostRoutes {
    /// Exact and Prefix routes; `None` when the host has none.
    paths: Option<PathIndex>,
    /// Regex routes and paths the tree does not take.
    linear: Linear,
    /// The host's routes; the path indexes store positions in here.
    routes: Vec<CompiledRoute>,
}

/// A route with its conditions compiled. The route sits in an `Arc` so a request can keep it
/// for its whole life with a reference count instead of a deep copy.
#[derive(Debug)]
struct CompiledRoute {
    route: Arc<Route>,
    conditions: Conditions,
}

impl Router {
    /// Compiles the routes of a table. The router keeps its own copy of the routes it needs
    /// (policies are shared through their `Arc`).
    pub fn new(routes: &Routes) -> Result<Router, RouterError> {
        Self::compile(routes, None)
    }

    /// Compiles `routes`, reusing this router's compiled form of every virtual host that is
    /// equal in both tables (the same `Arc`, or equal contents), so a change to a few hosts
    /// costs a few hosts' compilation plus the host index.
    pub fn update(&self, routes: &Routes) -> Result<Router, RouterError> {
        Self::compile(routes, Some(self))
    }

    fn compile(routes: &Routes, previous: Option<&Router>) -> Result<Router, RouterError> {
        let reusable: HashMap<&HostPattern, &(Arc<VirtualHost>, Arc<HostRoutes>)> = previous
            .map(|p| p.virtual_hosts.iter().map(|e| (&e.0.host, e)).collect())
            .unwrap_or_default();
        let mut router = Router {
            hosts: HostIndex::default(),
            virtual_hosts: Vec::with_capacity(routes.virtual_hosts.len()),
            default_route: routes.default_route.clone().map(Arc::new),
        };
        for vhost in &routes.virtual_hosts {
            let host_id = u32::try_from(router.virtual_hosts.len()).map_err(|_| {
                RouterError::TooManyRoutes {
                    host: vhost.host.to_string(),
                    pattern: String::new(),
                }
            })?;
            if !router.hosts.insert(&vhost.host, host_id) {
                continue;
            }
            let compiled = match reusable.get(&vhost.host) {
                // `Arc`'s equality compares pointers first.
                Some((old, compiled)) if old == vhost => Arc::clone(compiled),
                _ => Arc::new(HostRoutes::compile(vhost)?),
            };
            router.virtual_hosts.push((Arc::clone(vhost), compiled));
        }
        Ok(router)
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
        self.lookup_shared(host, path, request)
            .map(|route| &**route)
    }

    /// As [`Router::lookup_request`], returning the shared route so a caller can keep it past
    /// the router's life with a reference count.
    pub fn lookup_shared(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Arc<Route>> {
        let host = host::normalize(host);
        let in_host = self
            .hosts
            .find(&host)
            .and_then(|id| self.virtual_hosts.get(id as usize))
            .and_then(|(_, vhost)| vhost.lookup(path, request));
        in_host.or(self.default_route.as_ref())
    }
}

impl HostRoutes {
    fn compile(vhost: &VirtualHost) -> Result<HostRoutes, RouterError> {
        let mut tree_routes = Vec::new();
        let mut linear_routes = Vec::new();
        let mut routes = Vec::with_capacity(vhost.routes.len());
        for route in &vhost.routes {
            let id = u32::try_from(routes.len()).map_err(|_| RouterError::TooManyRoutes {
                host: vhost.host.to_string(),
                pattern: route.path.to_string(),
            })?;
            if PathIndex::accepts(&route.path) {
                tree_routes.push((id, &route.path));
            } else {
                linear_routes.push((id, &route.path));
            }
            routes.push(CompiledRoute {
                conditions: Conditions::compile(&route.conditions),
                route: Arc::new(route.clone()),
            });
        }
        let paths = match tree_routes.is_empty() {
            true => None,
            false => Some(PathIndex::build(&vhost.host, &tree_routes)?),
        };
        let linear = Linear::build(&linear_routes);
        Ok(HostRoutes {
            paths,
            linear,
            routes,
        })
    }

    /// The best route of this host for `path` whose conditions hold.
    fn lookup(&self, path: &str, request: &dyn RequestAttributes) -> Option<&Arc<Route>> {
        let accept = |id: u32| self.route(id).is_some_and(|r| r.conditions.hold(request));
        let from_tree = self
            .paths
            .as_ref()
            .and_then(|paths| paths.lookup(path, accept));
        let best = if self.linear.is_empty() {
            from_tree
        } else {
            let bound =
                from_tree.and_then(|id| Some((self.route(id)?.route.path.precedence(), id)));
            self.linear.lookup(path, bound, accept).or(from_tree)
        };
        best.and_then(|id| self.route(id)).map(|r| &r.route)
    }

    fn route(&self, id: u32) -> Option<&CompiledRoute> {
        self.routes.get(id as usize)
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
