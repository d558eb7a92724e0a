//! The reference matcher: linear, obviously correct, and the definition of which route serves a
//! request. The router must agree with it (a property test and a fuzz target compare them).

use crate::condition::{NoAttributes, RequestAttributes};
use crate::host::normalize_host;
use crate::path::Precedence;
use crate::table::{Route, RouteTable, Routes};

impl RouteTable {
    /// The route for a request with no headers, cookies or query (see [`Routes::lookup`]).
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Route> {
        self.routes.lookup(host, path, &NoAttributes)
    }

    /// The route for a request (see [`Routes::lookup`]).
    pub fn lookup_request(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Route> {
        self.routes.lookup(host, path, request)
    }
}

impl Routes {
    /// The route serving a request:
    /// 1. the host is normalised ([`normalize_host`]) and picks one virtual host: an exact
    ///    pattern, else a one-label wildcard, else the host-less one;
    /// 2. within it, of the routes whose path matches `path` and whose conditions all hold, the
    ///    one with the greatest [`Precedence`] wins; equal precedence goes to the earlier route;
    /// 3. without a match (or a virtual host) the default route serves; `None` means 404.
    ///
    /// `path` is matched as given: callers normalise it first with
    /// [`crate::path::normalize_path`], as the proxy does.
    pub fn lookup(
        &self,
        host: &str,
        path: &str,
        request: &dyn RequestAttributes,
    ) -> Option<&Route> {
        let host = normalize_host(host);
        let in_host = self.virtual_host(&host).and_then(|vhost| {
            let mut best: Option<(Precedence<'_>, &Route)> = None;
            for route in &vhost.routes {
                if !route.path.matches(path) || !route.conditions.iter().all(|c| c.holds(request)) {
                    continue;
                }
                let precedence = route.path.precedence();
                if best.is_none_or(|(current, _)| precedence > current) {
                    best = Some((precedence, route));
                }
            }
            best.map(|(_, route)| route)
        });
        in_host.or(self.default_route.as_ref())
    }
}
