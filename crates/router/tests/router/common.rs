//! Shared helpers: a request type with attributes, route tagging so results can be compared by
//! identity, and the router-versus-reference comparison.

use std::sync::Arc;

use sluice_ingress_model::{
    Action, FixedResponse, HostPattern, ObjectKey, PathMatch, Policy, RequestAttributes, Route,
    RouteOrigin, Routes, VirtualHost,
};
use sluice_router::Router;

/// A request's attributes: first value wins for each name.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
}

impl Request {
    pub fn get() -> Self {
        Self {
            method: "GET".into(),
            ..Self::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = method.into();
        self
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

impl RequestAttributes for Request {
    fn method(&self) -> &str {
        &self.method
    }
    fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        first(&self.cookies, name)
    }
    fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }
}

/// A route answering with a fixed body, so tests can name it.
pub fn route(name: &str, path: PathMatch) -> Route {
    Route {
        path,
        conditions: Vec::new(),
        action: Action::Respond(FixedResponse {
            status: 200,
            body: name.into(),
        }),
        policy: Arc::new(Policy::default()),
        origin: None,
    }
}

/// A virtual host with default settings.
pub fn virtual_host(host: HostPattern, routes: Vec<Route>) -> Arc<VirtualHost> {
    Arc::new(VirtualHost {
        host,
        tls: None,
        routes,
        policy: Default::default(),
    })
}

/// The body of a route made by [`route`], or `"-"` for none.
pub fn name(route: Option<&Route>) -> &str {
    match route.map(|r| &r.action) {
        Some(Action::Respond(fixed)) => &fixed.body,
        Some(_) => "?",
        None => "-",
    }
}

/// Gives every route a unique origin (`vh{i}/r{j}`, `default`), keeping the written path, so
/// two results can be compared by identity rather than by equal contents.
pub fn tag(routes: &mut Routes) {
    for (i, vhost) in routes.virtual_hosts.iter_mut().enumerate() {
        for (j, route) in Arc::make_mut(vhost).routes.iter_mut().enumerate() {
            let path = route.origin.take().map(|o| o.path).unwrap_or_default();
            let ingress = ObjectKey::new(format!("vh{i}"), format!("r{j}"));
            route.origin = Some(RouteOrigin { ingress, path });
        }
    }
    if let Some(route) = routes.default_route.as_mut() {
        let ingress = ObjectKey::new("default", "default");
        route.origin = Some(RouteOrigin {
            ingress,
            path: "/".into(),
        });
    }
}

/// Asserts that the router and the reference pick the same route (same tag and contents).
pub fn assert_agree(routes: &Routes, router: &Router, host: &str, path: &str, request: &Request) {
    let want = routes.lookup(host, path, request);
    let got = router.lookup_request(host, path, request);
    assert_eq!(
        got.map(|r| &r.origin),
        want.map(|r| &r.origin),
        "host {host:?} path {path:?} request {request:?}"
    );
    assert_eq!(got, want, "host {host:?} path {path:?}");
}
