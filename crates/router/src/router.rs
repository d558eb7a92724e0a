//! The compiled router: host index → per-host path index (matchit tree plus a linear list) →
//! route, falling back to the table's default route.

use std::sync::Arc;

use sluice_ingress_model::{NoAttributes, RequestAttributes, Route, Routes};

use crate::condition::Conditions;
use crate::error::RouterError;
use crate::host::{self, HostIndex};
use crate::linear::Linear;
use crate::path::PathIndex;

/// A route table compiled for fast lookups. Immutable once built: share it in an `Arc` and
/// replace it as a whole when the table changes.
///
/// It agrees with `Routes::lookup` of `sluice-ingress-model` on every input; see the crate
/// documentation for how.
#[derive(Debug)]
pub struct Router {
    /// Normalised host → index into `virtual_hosts`.
    hosts: HostIndex,
    /// The compiled virtual hosts that can be chosen (a pattern listed twice keeps the first).
    virtual_hosts: Vec<HostRoutes>,
    /// Every route of the compiled virtual hosts; the path indexes store positions in here.
    routes: Vec<CompiledRoute>,
    /// Serves requests nothing else matches.
    default_route: Option<Arc<Route>>,
}

/// The path matchers of one virtual host.
#[derive(Debug)]
struct HostRoutes {
    /// Exact and Prefix routes; `None` when the host has none.
    paths: Option<PathIndex>,
    /// Regex routes and paths the tree does not take.
    linear: Linear,
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
        let mut router = Router {
            hosts: HostIndex::default(),
            virtual_hosts: Vec::new(),
            routes: Vec::new(),
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
                // An earlier virtual host has the same pattern; the reference never picks this one.
                continue;
            }
            let mut tree_routes = Vec::new();
            let mut linear_routes = Vec::new();
            for route in &vhost.routes {
                let id =
                    u32::try_from(router.routes.len()).map_err(|_| RouterError::TooManyRoutes {
                        host: vhost.host.to_string(),
                        pattern: route.path.to_string(),
                    })?;
                if PathIndex::accepts(&route.path) {
                    tree_routes.push((id, &route.path));
                } else {
                    linear_routes.push((id, &route.path));
                }
                let conditions = Conditions::compile(&route.conditions);
                router.routes.push(CompiledRoute {
                    route: Arc::new(route.clone()),
                    conditions,
                });
            }
            let paths = match tree_routes.is_empty() {
                true => None,
                false => Some(PathIndex::build(&vhost.host, &tree_routes)?),
            };
            let linear = Linear::build(&linear_routes);
            router.virtual_hosts.push(HostRoutes { paths, linear });
        }
        Ok(router)
    }

    /// The route for a request without headers, cookies or query: the same contract as
    /// `Routes::lookup` with `NoAttributes`. `path` is matched as given; normalise it first
    /// with [`crate::normalize_path`].
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Route> {
        self.lookup_request(host, path, &NoAttributes)
    }

    /// The route for a request: the same contract as `Routes::lookup`. The host is normalised
    /// here; `path` is matched as given (normalise it first with [`crate::normalize_path`]).
    /// `None` means no route and no default route (404).
    pub fn lookup_request(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Route> {
        self.lookup_shared(host, path, request)
            .map(|route| &**route)
    }

    /// [`Router::lookup_request`], returning the route's shared handle: a request that keeps
    /// its route clones the `Arc`, not the route.
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
            .and_then(|vhost| self.lookup_in(vhost, path, request));
        in_host.or(self.default_route.as_ref())
    }

    /// The best route of one virtual host whose path matches and whose conditions hold.
    fn lookup_in(
        &self,
        vhost: &HostRoutes,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Arc<Route>> {
        let accept = |id: u32| self.route(id).is_some_and(|r| r.conditions.hold(request));
        let from_tree = vhost
            .paths
            .as_ref()
            .and_then(|paths| paths.lookup(path, accept));
        let best = if vhost.linear.is_empty() {
            from_tree
        } else {
            let bound =
                from_tree.and_then(|id| Some((self.route(id)?.route.path.precedence(), id)));
            vhost.linear.lookup(path, bound, accept).or(from_tree)
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
