//! The Kubernetes documentation's path-matching examples, row by row, end to end: Ingress,
//! Service and EndpointSlice objects → `build` → both the reference lookup and the router.

use sluice_ingress_model::{
    Action, BuildOptions, Endpoint, EndpointPort, EndpointSlice, HttpPath, Ingress, IngressBackend,
    IngressRule, ObjectKey, PathType, PortRef, Route, RouteTable, Service, ServicePort, ServiceRef,
    Snapshot, build, normalize_path,
};
use sluice_router::Router;

const NS: &str = "docs";

/// A Service with one port and a ready endpoint.
fn service(snapshot: &mut Snapshot, name: &str) {
    snapshot.insert_service(Service {
        key: ObjectKey::new(NS, name),
        ports: vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            ..ServicePort::default()
        }],
        ..Service::default()
    });
    snapshot.insert_endpoint_slice(EndpointSlice {
        key: ObjectKey::new(NS, format!("{name}-x1")),
        service_name: Some(name.into()),
        address_type: "IPv4".into(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
            protocol: None,
        }],
        endpoints: vec![Endpoint {
            addresses: vec!["10.1.0.1".into()],
            ready: Some(true),
        }],
    });
}

/// One Ingress with the given paths; path `i` goes to Service `svc-{i}`. The controller's
/// default backend is the Service `default-backend`.
fn table(paths: &[(PathType, &str)]) -> RouteTable {
    let mut snapshot = Snapshot::default();
    let http_paths = paths
        .iter()
        .enumerate()
        .map(|(i, (path_type, path))| {
            let name = format!("svc-{i}");
            service(&mut snapshot, &name);
            HttpPath {
                path: Some((*path).to_owned()),
                path_type: Some(*path_type),
                backend: IngressBackend::Service {
                    name,
                    port: PortRef::Number(80),
                },
            }
        })
        .collect();
    service(&mut snapshot, "default-backend");
    snapshot.insert_ingress(Ingress {
        key: ObjectKey::new(NS, "docs"),
        class_name: Some("sluice".into()),
        rules: vec![IngressRule {
            host: Some("foo.bar.com".into()),
            paths: http_paths,
        }],
        ..Ingress::default()
    });
    let options = BuildOptions {
        class_name_without_object: true,
        default_backend: Some(ServiceRef {
            service: ObjectKey::new(NS, "default-backend"),
            port: None,
        }),
        ..BuildOptions::default()
    };
    let built = build(&snapshot, &options);
    assert!(built.diagnostics.is_empty(), "{:?}", built.diagnostics);
    built.table
}

/// The Service a route forwards to.
fn service_of(route: Option<&Route>) -> Option<&str> {
    match &route?.action {
        Action::Forward(forward) => forward
            .backends
            .first()
            .map(|b| b.upstream.service.as_str()),
        _ => None,
    }
}

/// `expected`: the index of the path that must serve, or `None` for the default backend.
fn check(paths: &[(PathType, &str)], requests: &[&str], expected: Option<usize>) {
    let table = table(paths);
    let router = Router::new(&table.routes).unwrap();
    let want = expected.map_or_else(|| "default-backend".to_owned(), |i| format!("svc-{i}"));
    for request in requests {
        let path = normalize_path(request);
        let reference = table.lookup("foo.bar.com", &path);
        let routed = router.lookup("Foo.Bar.com:443", &path);
        assert_eq!(
            service_of(reference),
            Some(want.as_str()),
            "reference: {paths:?} {request}"
        );
        assert_eq!(routed, reference, "router: {paths:?} {request}");
    }
}

use PathType::{Exact, Prefix};

#[test]
fn prefix_root_matches_all() {
    check(
        &[(Prefix, "/")],
        &["/", "/foo", "/foo/bar/", "/aaa/bbb"],
        Some(0),
    );
}

#[test]
fn exact_matches_only_itself() {
    check(&[(Exact, "/foo")], &["/foo"], Some(0));
    check(&[(Exact, "/foo")], &["/bar"], None);
    check(&[(Exact, "/foo")], &["/foo/"], None);
    check(&[(Exact, "/foo/")], &["/foo"], None);
}

#[test]
fn prefix_ignores_and_matches_a_trailing_slash() {
    check(&[(Prefix, "/foo")], &["/foo", "/foo/"], Some(0));
    check(&[(Prefix, "/foo/")], &["/foo", "/foo/"], Some(0));
    check(&[(Prefix, "/aaa/bbb/")], &["/aaa/bbb"], Some(0));
    check(&[(Prefix, "/aaa/bbb")], &["/aaa/bbb/"], Some(0));
}

#[test]
fn prefix_matches_by_element() {
    check(&[(Prefix, "/aaa/bb")], &["/aaa/bbb"], None);
    check(&[(Prefix, "/aaa/bbb")], &["/aaa/bbb"], Some(0));
    check(&[(Prefix, "/aaa/bbb")], &["/aaa/bbb/ccc"], Some(0));
    check(&[(Prefix, "/aaa/bbb")], &["/aaa/bbbxyz"], None);
}

#[test]
fn longest_prefix_wins() {
    check(&[(Prefix, "/"), (Prefix, "/aaa")], &["/aaa/ccc"], Some(1));
    check(
        &[(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")],
        &["/aaa/bbb"],
        Some(2),
    );
    check(
        &[(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")],
        &["/ccc"],
        Some(0),
    );
}

#[test]
fn unmatched_goes_to_the_default_backend() {
    check(&[(Prefix, "/aaa")], &["/ccc"], None);
}

#[test]
fn exact_beats_prefix_of_the_same_path() {
    check(&[(Prefix, "/foo"), (Exact, "/foo")], &["/foo"], Some(1));
    check(&[(Exact, "/foo"), (Prefix, "/foo")], &["/foo"], Some(0));
    check(&[(Prefix, "/foo"), (Exact, "/foo")], &["/foo/"], Some(0));
}

#[test]
fn requests_are_matched_after_normalisation() {
    check(
        &[(Prefix, "/aaa/bbb")],
        &["/aaa//bbb", "/aaa/./bbb/", "/ccc/../aaa/bbb", "/aaa/%62bb"],
        Some(0),
    );
    check(
        &[(Prefix, "/aaa/bbb")],
        &["/aaa%2Fbbb", "/aaa/bbb/../ccc"],
        None,
    );
}
