//! Arbitrary route tables written by hand (not through `build`), arbitrary requests, and the
//! router-versus-reference check both table targets run.

use std::sync::Arc;

use arbitrary::Arbitrary;
use sluice_ingress_model::{
    Action, Condition, FixedResponse, HostPattern, NoAttributes, ObjectKey,
    PathMatch, Policy, RequestAttributes, Route, RouteOrigin, Routes, ValueMatch, VirtualHost,
    normalize_path,
};
use sluice_router::Router;

use crate::text::{HOSTS, PATHS, Text, pick};

/// A table: virtual hosts with routes, and a default route.
#[derive(Arbitrary, Debug)]
pub struct TableM {
    vhosts: Vec<(HostM, Vec<RouteM>)>,
    default: Option<RouteM>,
}

/// A host pattern, written as the model stores it (or not: the router must cope either way).
#[derive(Arbitrary, Debug)]
pub enum HostM {
    /// `Exact`.
    Exact(Text),
    /// `Wildcard` (the suffix).
    Wildcard(Text),
    /// `Any`.
    Any,
}

/// A route.
#[derive(Arbitrary, Debug)]
pub struct RouteM {
    path: PathM,
    conditions: Vec<ConditionM>,
    status: u8,
}

/// A path match.
#[derive(Arbitrary, Debug)]
pub enum PathM {
    /// Exact, as given.
    Exact(Text),
    /// Prefix, as given.
    Prefix(Text),
    /// Prefix in the shape `PathMatch::prefix` produces (normalised, no trailing slash).
    Normal(Text),
    /// Regex, as given.
    Regex(Text),
}

/// An extra condition.
#[derive(Arbitrary, Debug)]
pub enum ConditionM {
    /// Header `x-canary`.
    Header(ValueM),
    /// Cookie `canary`.
    Cookie(ValueM),
    /// Query parameter `q`.
    Query(ValueM),
    /// Method.
    Method(bool),
}

/// How a condition value matches.
#[derive(Arbitrary, Debug)]
pub enum ValueM {
    /// Equal to a pick.
    Exact(u8),
    /// A regex pick.
    Regex(u8),
    /// Present.
    Present,
}

/// A request: host, path (normalised or raw) and attributes.
#[derive(Arbitrary, Debug)]
pub struct RequestM {
    host: Text,
    path: Text,
    normalise: bool,
    method: u8,
    header: Option<u8>,
    cookie: Option<u8>,
    query: Option<u8>,
}

/// A request's attributes.
#[derive(Clone, Debug, Default)]
pub struct Request {
    method: String,
    header: Option<String>,
    cookie: Option<String>,
    query: Option<String>,
}

const CONDITION_VALUES: &[&str] = &["always", "", "al", "yes"];
const CONDITION_REGEXES: &[&str] = &["^al", "(", "y", ".*"];
const METHODS: &[&str] = &["GET", "POST", "get"];

impl TableM {
    /// The table, every route tagged with a unique origin so results compare by identity.
    pub fn routes(&self) -> Routes {
        let mut routes = Routes {
            virtual_hosts: self
                .vhosts
                .iter()
                .map(|(host, routes)| {
                    Arc::new(VirtualHost {
                        host: host.to_model(),
                        tls: None,
                        routes: routes.iter().map(RouteM::to_model).collect(),
                        policy: Default::default(),
                    })
                })
                .collect(),
            default_route: self.default.as_ref().map(RouteM::to_model),
            ..Routes::default()
        };
        for (i, vhost) in routes.virtual_hosts.iter_mut().enumerate() {
            for (j, route) in Arc::make_mut(vhost).routes.iter_mut().enumerate() {
                route.origin = Some(RouteOrigin {
                    ingress: ObjectKey::new(format!("vh{i}"), format!("r{j}")),
                    path: route.path.as_str().to_owned(),
                });
            }
        }
        if let Some(route) = routes.default_route.as_mut() {
            route.origin = Some(RouteOrigin {
                ingress: ObjectKey::new("default", "default"),
                path: "/".into(),
            });
        }
        routes
    }
}

impl HostM {
    fn to_model(&self) -> HostPattern {
        match self {
            HostM::Exact(t) => HostPattern::Exact(t.get(HOSTS)),
            HostM::Wildcard(t) => {
                let host = t.get(HOSTS);
                HostPattern::Wildcard(host.strip_prefix("*.").unwrap_or(&host).to_owned())
            }
            HostM::Any => HostPattern::Any,
        }
    }
}

impl RouteM {
    fn to_model(&self) -> Route {
        let path = match &self.path {
            PathM::Exact(t) => PathMatch::Exact(t.get(PATHS)),
            PathM::Prefix(t) => PathMatch::Prefix(t.get(PATHS)),
            PathM::Normal(t) => {
                let normal = normalize_path(&t.get(PATHS)).trim_end_matches('/').to_owned();
                PathMatch::Prefix(if normal.is_empty() { "/".into() } else { normal })
            }
            PathM::Regex(t) => PathMatch::Regex(t.get(PATHS)),
        };
        Route {
            path,
            conditions: self.conditions.iter().map(ConditionM::to_model).collect(),
            action: Action::Respond(FixedResponse {
                status: 200 + u16::from(self.status % 4),
                body: String::new(),
            }),
            policy: Arc::new(Policy::default()),
            origin: None,
        }
    }
}

impl ConditionM {
    fn to_model(&self) -> Condition {
        match self {
            ConditionM::Header(v) => Condition::Header {
                name: "x-canary".into(),
                value: v.to_model(),
            },
            ConditionM::Cookie(v) => Condition::Cookie {
                name: "canary".into(),
                value: v.to_model(),
            },
            ConditionM::Query(v) => Condition::Query {
                name: "q".into(),
                value: v.to_model(),
            },
            ConditionM::Method(post) => Condition::Method(if *post { "post" } else { "GET" }.into()),
        }
    }
}

impl ValueM {
    fn to_model(&self) -> ValueMatch {
        match self {
            ValueM::Exact(i) => ValueMatch::Exact(pick(CONDITION_VALUES, usize::from(*i)).into()),
            ValueM::Regex(i) => ValueMatch::Regex(pick(CONDITION_REGEXES, usize::from(*i)).into()),
            ValueM::Present => ValueMatch::Present,
        }
    }
}

impl RequestM {
    /// Host, path and attributes.
    pub fn to_request(&self) -> (String, String, Request) {
        let path = self.path.get(PATHS);
        let path = if self.normalise {
            normalize_path(&path).into_owned()
        } else {
            path
        };
        let value = |v: Option<u8>| v.map(|i| pick(CONDITION_VALUES, usize::from(i)).to_owned());
        let request = Request {
            method: pick(METHODS, usize::from(self.method)).to_owned(),
            header: value(self.header),
            cookie: value(self.cookie),
            query: value(self.query),
        };
        (self.host.get(HOSTS), path, request)
    }
}

impl RequestAttributes for Request {
    fn method(&self) -> &str {
        &self.method
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.header.as_deref().filter(|_| name == "x-canary")
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookie.as_deref().filter(|_| name == "canary")
    }
    fn query(&self, name: &str) -> Option<&str> {
        self.query.as_deref().filter(|_| name == "q")
    }
}

/// Compiles `routes` (which must succeed) and asserts that the router and the reference pick
/// the same route for every request, and for each route's own path (hits are otherwise rare).
pub fn check_router(routes: &Routes, requests: &[RequestM]) {
    let router = match Router::new(routes) {
        Ok(router) => router,
        Err(error) => panic!("the router refused a table: {error}"),
    };
    let mut cases: Vec<(String, String, Request)> =
        requests.iter().map(RequestM::to_request).collect();
    let own: Vec<String> = routes
        .virtual_hosts
        .iter()
        .flat_map(|v| &v.routes)
        .map(|r| r.path.as_str().to_owned())
        .collect();
    let mut hosts: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    if hosts.is_empty() {
        hosts.push("a.example.com".to_owned());
    }
    for (path, host) in own.iter().zip(hosts.iter().cycle()) {
        for path in [path.clone(), format!("{path}/"), format!("{path}/x"), format!("{path}x")] {
            cases.push((host.clone(), path, Request::default()));
        }
    }
    for (host, path, request) in &cases {
        let want = routes.lookup(host, path, request);
        let got = router.lookup_request(host, path, request);
        assert_eq!(
            got.map(|r| &r.origin),
            want.map(|r| &r.origin),
            "host {host:?} path {path:?} request {request:?}"
        );
        assert_eq!(got, want);
        assert_eq!(router.lookup(host, path), routes.lookup(host, path, &NoAttributes));
    }
}
