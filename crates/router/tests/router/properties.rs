//! Property tests: the router agrees with the reference matcher on arbitrary tables (made by
//! hand, and built from arbitrary Kubernetes snapshots) and arbitrary requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use sluice_ingress_model::{
    Action, BuildOptions, Condition, Endpoint, EndpointPort, EndpointSlice, FixedResponse,
    HostDiff, HostPattern, HttpPath, Ingress, IngressBackend, IngressRule, ObjectKey, PathMatch,
    PathType, Policy, PortRef, Route, Routes, Service, ServicePort, ServiceRef, Snapshot,
    ValueMatch, build, normalize_path,
};
use sluice_router::Router;

use crate::common::{Request, assert_agree, tag, virtual_host};

/// Path-like text over a small alphabet that exercises separators, dots, escapes, braces
/// (matchit syntax) and multi-byte characters.
fn raw_path() -> impl Strategy<Value = String> {
    let joined = |segments: Vec<&str>| {
        let joined = segments.join("/");
        select(vec![format!("/{joined}"), format!("/{joined}/"), joined])
    };
    prop_oneof![
        "[/ab{}.%2eé*:]{0,10}",
        prop::collection::vec(
            select(vec![
                "a", "b", "ab", "{x}", "{*r}", "{", "}", "%2e", "%2E%2e", "..", ".", "", "é", "*",
                "a%2Fb"
            ]),
            0..5,
        )
        .prop_flat_map(joined),
        // Few distinct segments, so prefixes nest (`/a`, `/a/b`, `/a/b/a`).
        prop::collection::vec(select(vec!["a", "b"]), 0..4).prop_flat_map(joined),
    ]
}

fn path_match() -> impl Strategy<Value = PathMatch> {
    let regex = select(vec![
        "/a", "/a.*", "/[ab]+/", "/(", "/a{", "/é", "", "/A", "/a/b$", "/a|/b", r"/\{", "/.b",
        "/a..", ".*",
    ])
    .prop_map(String::from);
    prop_oneof![
        4 => raw_path().prop_map(PathMatch::Exact),
        4 => raw_path().prop_map(PathMatch::Prefix),
        4 => raw_path().prop_map(|p| {
            // The shape `PathMatch::prefix` produces: normalised, no trailing slash.
            let n = normalize_path(&p).trim_end_matches('/').to_owned();
            PathMatch::Prefix(if n.is_empty() { "/".into() } else { n })
        }),
        2 => regex.prop_map(PathMatch::Regex),
        1 => raw_path().prop_map(PathMatch::Regex),
    ]
}

fn value_match() -> impl Strategy<Value = ValueMatch> {
    prop_oneof![
        select(vec!["always", "", "al"]).prop_map(|v| ValueMatch::Exact(v.into())),
        select(vec!["^al", "(", "y"]).prop_map(|v| ValueMatch::Regex(v.into())),
        Just(ValueMatch::Present),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        value_match().prop_map(|value| Condition::Header {
            name: "x-canary".into(),
            value
        }),
        value_match().prop_map(|value| Condition::Cookie {
            name: "canary".into(),
            value
        }),
        value_match().prop_map(|value| Condition::Query {
            name: "q".into(),
            value
        }),
        select(vec!["GET", "post"]).prop_map(|m| Condition::Method(m.into())),
    ]
}

fn hand_route() -> impl Strategy<Value = Route> {
    (
        path_match(),
        prop::collection::vec(condition(), 0..3),
        0u16..4,
    )
        .prop_map(|(path, conditions, n)| {
            Route {
                path,
                // Conditions are rarer than in this mix in real tables; keep half the routes plain.
                conditions: if n < 2 { Vec::new() } else { conditions },
                action: Action::Respond(FixedResponse {
                    status: 200 + n,
                    body: String::new(),
                }),
                policy: Arc::new(Policy::default()),
                origin: None,
            }
        })
}

fn host_pattern() -> impl Strategy<Value = HostPattern> {
    prop_oneof![
        select(vec!["a.com", "b.a.com", "A.com", "", "x", "[::1]"])
            .prop_map(|h| HostPattern::Exact(h.into())),
        select(vec!["a.com", "com", "", "b.a.com", "x"])
            .prop_map(|h| HostPattern::Wildcard(h.into())),
        Just(HostPattern::Any),
    ]
}

fn hand_routes() -> impl Strategy<Value = Routes> {
    let vhost = (host_pattern(), prop::collection::vec(hand_route(), 0..10))
        .prop_map(|(host, routes)| virtual_host(host, routes));
    (
        prop::collection::vec(vhost, 0..5),
        prop::option::of(hand_route()),
    )
        .prop_map(|(virtual_hosts, default_route)| {
            let mut routes = Routes {
                virtual_hosts,
                default_route,
                ..Routes::default()
            };
            tag(&mut routes);
            routes
        })
}

fn request_host() -> impl Strategy<Value = String> {
    select(vec![
        "a.com",
        "b.a.com",
        "c.b.a.com",
        "A.COM:80",
        "b.a.com.",
        "x",
        ".a.com",
        "",
        "com",
        "[::1]:80",
        "B.A.com:8080",
        "user@a.com",
        "x.com",
        "a.x",
        ".",
        "a.com:http",
    ])
    .prop_map(String::from)
}

fn request_path() -> impl Strategy<Value = String> {
    (raw_path(), any::<bool>()).prop_map(|(p, normalise)| {
        if normalise {
            normalize_path(&p).into_owned()
        } else {
            p
        }
    })
}

fn attributes() -> impl Strategy<Value = Request> {
    let value = || prop::option::of(select(vec!["always", "", "yes", "al"]));
    (
        select(vec!["GET", "POST", "get"]),
        value(),
        value(),
        value(),
    )
        .prop_map(|(method, header, cookie, query)| {
            let mut request = Request {
                method: method.into(),
                ..Request::default()
            };
            request
                .headers
                .extend(header.map(|v| ("x-canary".to_owned(), v.to_owned())));
            request
                .cookies
                .extend(cookie.map(|v| ("canary".to_owned(), v.to_owned())));
            request
                .query
                .extend(query.map(|v| ("q".to_owned(), v.to_owned())));
            request
        })
}

fn requests() -> impl Strategy<Value = Vec<(String, String, Request)>> {
    prop::collection::vec((request_host(), request_path(), attributes()), 1..24)
}

/// Paths the requests also try: those of the table's own routes (hits are otherwise rare),
/// with and without a trailing part.
fn table_paths(routes: &Routes) -> Vec<String> {
    let mut paths = Vec::new();
    for route in routes.virtual_hosts.iter().flat_map(|v| &v.routes) {
        let text = route.path.as_str();
        paths.extend([
            text.to_owned(),
            format!("{text}/"),
            format!("{text}/x"),
            format!("{text}x"),
        ]);
    }
    paths
}

fn check(routes: &Routes, requests: &[(String, String, Request)]) {
    let router = Router::new(routes).expect("every table compiles");
    check_router(routes, &router, requests);
}

fn check_router(routes: &Routes, router: &Router, requests: &[(String, String, Request)]) {
    let plain = Request::get();
    for (host, path, request) in requests {
        assert_agree(routes, router, host, path, request);
        assert_agree(routes, router, host, path, &plain);
        assert_eq!(
            router.lookup(host, path),
            routes.lookup(host, path, &sluice_ingress_model::NoAttributes)
        );
    }
    let hosts: Vec<&str> = requests.iter().map(|r| r.0.as_str()).collect();
    for path in table_paths(routes) {
        for (host, (_, _, request)) in hosts.iter().zip(requests) {
            assert_agree(routes, router, host, &path, request);
        }
    }
}

/// Annotations that change routing: regex mode, and canaries (which merge into other routes).
fn annotations() -> impl Strategy<Value = BTreeMap<String, String>> {
    let sets: Vec<&[(&str, &str)]> = vec![
        &[],
        &[],
        &[("use-regex", "true")],
        &[("rewrite-target", "/$1")],
        &[("canary", "true"), ("canary-by-header", "x-canary")],
        &[("canary", "true"), ("canary-weight", "50")],
    ];
    select(sets).prop_map(|set| {
        set.iter()
            .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), (*v).to_owned()))
            .collect()
    })
}

fn snapshot_ingress() -> impl Strategy<Value = Ingress> {
    let path_type = prop::option::of(select(vec![
        PathType::Exact,
        PathType::Prefix,
        PathType::ImplementationSpecific,
    ]));
    let written = prop::option::of(prop_oneof![
        raw_path(),
        select(vec![
            "/",
            "/foo",
            "/foo/",
            "/aaa/bbb",
            "/aaa/bb",
            "/aaa",
            "/foo/bar",
            "/api/v[0-9]+",
            "/(",
            "/foo.*",
            "/aaa|/bbb",
        ])
        .prop_map(String::from),
    ]);
    let backend = (
        select(vec!["s1", "s2", "missing"]),
        prop_oneof![
            Just(PortRef::Number(80)),
            Just(PortRef::Name("http".into()))
        ],
    )
        .prop_map(|(name, port)| IngressBackend::Service {
            name: name.into(),
            port,
        });
    let http_path =
        (written, path_type, backend.clone()).prop_map(|(path, path_type, backend)| HttpPath {
            path,
            path_type,
            backend,
        });
    let host = prop::option::of(select(vec![
        "a.com", "*.a.com", "b.a.com", "*.com", "A.com", "bad host", "", "x",
    ]));
    let rule =
        (host, prop::collection::vec(http_path, 0..5)).prop_map(|(host, paths)| IngressRule {
            host: host.map(String::from),
            paths,
        });
    (
        select(vec!["a", "b", "c", "d", "e"]),
        prop::option::of(0i64..3),
        prop::collection::vec(rule, 0..4),
        prop::option::of(backend),
        annotations(),
    )
        .prop_map(
            |(name, created, rules, default_backend, annotations)| Ingress {
                key: ObjectKey::new("default", name),
                created,
                rules,
                default_backend,
                annotations,
                ..Ingress::default()
            },
        )
}

fn snapshot() -> impl Strategy<Value = (Snapshot, BuildOptions)> {
    (
        prop::collection::vec(snapshot_ingress(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(ingresses, default_backend)| {
            let mut snapshot = Snapshot::default();
            for ingress in ingresses {
                snapshot.insert_ingress(ingress);
            }
            for name in ["s1", "s2", "fallback"] {
                snapshot.insert_service(Service {
                    key: ObjectKey::new("default", name),
                    ports: vec![ServicePort {
                        name: Some("http".into()),
                        port: 80,
                        ..ServicePort::default()
                    }],
                    ..Service::default()
                });
                snapshot.insert_endpoint_slice(EndpointSlice {
                    key: ObjectKey::new("default", format!("{name}-abc")),
                    service_name: Some(name.into()),
                    address_type: "IPv4".into(),
                    ports: vec![EndpointPort {
                        name: Some("http".into()),
                        port: Some(8080),
                        protocol: None,
                    }],
                    endpoints: vec![Endpoint {
                        addresses: vec!["10.0.0.1".into()],
                        ready: None,
                    }],
                });
            }
            let options = BuildOptions {
                watch_ingress_without_class: true,
                default_backend: default_backend.then(|| ServiceRef {
                    service: ObjectKey::new("default", "fallback"),
                    port: None,
                }),
                ..BuildOptions::default()
            };
            (snapshot, options)
        })
}

proptest! {
    #[test]
    fn router_agrees_with_the_reference_on_arbitrary_tables(routes in hand_routes(), requests in requests()) {
        check(&routes, &requests);
    }

    #[test]
    fn router_agrees_with_the_reference_on_built_tables((snapshot, options) in snapshot(), requests in requests()) {
        let mut routes = build(&snapshot, &options).table.routes;
        tag(&mut routes);
        check(&routes, &requests);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn an_updated_router_agrees_with_the_reference(
        old in hand_routes(),
        new in hand_routes(),
        requests in requests(),
    ) {
        // Sorted by pattern, one virtual host each, as `build` makes them; the new table
        // shares some of the old one's virtual hosts by pointer, as an incremental build does,
        // and has some of its own.
        let sorted = |mut routes: Routes| {
            routes.virtual_hosts.sort_by(|a, b| a.host.cmp(&b.host));
            routes.virtual_hosts.dedup_by(|a, b| a.host == b.host);
            routes
        };
        let old = sorted(old);
        let mut mixed = new;
        mixed.virtual_hosts.extend(old.virtual_hosts.iter().step_by(2).cloned());
        let mixed = sorted(mixed);
        let router = Router::new(&old).expect("every table compiles");
        let updated = router.update(&mixed).expect("every table compiles");
        check_router(&mixed, &updated, &requests);
        // The same with the changes listed once by the caller; a diff from another table is
        // not trusted.
        let diff = HostDiff::new(&old, &mixed);
        let updated = router.update_with(&mixed, &diff).expect("every table compiles");
        check_router(&mixed, &updated, &requests);
        let unrelated = Routes::default();
        let wrong = HostDiff::new(&unrelated, &mixed);
        let updated = router.update_with(&mixed, &wrong).expect("every table compiles");
        check_router(&mixed, &updated, &requests);
    }
}
