//! Ingress semantics through `build` and the reference lookup: hosts, precedence, conflicts,
//! class selection, endpoint resolution, default backends.

use std::net::SocketAddr;

use sluice_ingress_model::PathType::{Exact, ImplementationSpecific, Prefix};
use sluice_ingress_model::*;

use super::fixtures::*;

fn lookup(built: &Built, host: &str, path: &str) -> Option<String> {
    service_of(built.table.lookup(host, &normalize_path(path)))
}

#[test]
fn exact_host_beats_wildcard_beats_any() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "exact",
        Some("a.example.com"),
        vec![path("/", Prefix, "svc-a", 80)],
    ));
    s.insert_ingress(ingress(
        "default",
        "wild",
        Some("*.example.com"),
        vec![path("/", Prefix, "svc-b", 80)],
    ));
    s.insert_ingress(ingress(
        "default",
        "any",
        None,
        vec![path("/", Prefix, "svc-c", 80)],
    ));
    let built = build_default(&s);
    assert_eq!(
        lookup(&built, "a.example.com", "/").as_deref(),
        Some("svc-a")
    );
    assert_eq!(
        lookup(&built, "A.Example.COM.:8443", "/").as_deref(),
        Some("svc-a")
    );
    assert_eq!(
        lookup(&built, "b.example.com", "/").as_deref(),
        Some("svc-b")
    );
    assert_eq!(
        lookup(&built, "x.b.example.com", "/").as_deref(),
        Some("svc-c")
    );
    assert_eq!(lookup(&built, "example.com", "/").as_deref(), Some("svc-c"));
}

#[test]
fn a_host_without_matching_path_does_not_fall_through_to_other_hosts() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "exact",
        Some("a.example.com"),
        vec![path("/api", Prefix, "svc-a", 80)],
    ));
    s.insert_ingress(ingress(
        "default",
        "any",
        None,
        vec![path("/", Prefix, "svc-c", 80)],
    ));
    let built = build_default(&s);
    assert_eq!(
        lookup(&built, "a.example.com", "/api/x").as_deref(),
        Some("svc-a")
    );
    assert_eq!(lookup(&built, "a.example.com", "/other"), None);
}

#[test]
fn oldest_ingress_wins_a_conflict_then_namespace_name() {
    let mut s = services();
    let mut young = ingress(
        "default",
        "a-young",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-a", 80)],
    );
    young.created = Some(2_000);
    let mut old = ingress(
        "default",
        "z-old",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-b", 80)],
    );
    old.created = Some(1_000);
    s.insert_ingress(young);
    s.insert_ingress(old);
    let built = build_default(&s);
    assert_eq!(lookup(&built, "x.com", "/p").as_deref(), Some("svc-b"));
    let conflict = built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == "conflict")
        .unwrap();
    assert_eq!(conflict.object.key, ObjectKey::new("default", "a-young"));
    assert!(conflict.to_string().contains("default/z-old"), "{conflict}");

    // Equal timestamps: namespace/name order decides.
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "b",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-a", 80)],
    ));
    s.insert_ingress(ingress(
        "default",
        "a",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-b", 80)],
    ));
    assert_eq!(
        lookup(&build_default(&s), "x.com", "/p").as_deref(),
        Some("svc-b")
    );
}

#[test]
fn conflicts_on_a_host_with_many_routes_name_the_oldest_ingress() {
    // Past the point where the builder indexes a host's slots instead of searching them.
    let paths = |service: &str| -> Vec<HttpPath> {
        (0..40)
            .map(|i| path(&format!("/p{i}"), Prefix, service, 80))
            .collect()
    };
    let mut s = services();
    let mut old = ingress("default", "z-old", Some("x.com"), paths("svc-b"));
    old.created = Some(1_000);
    let mut young = ingress("default", "a-young", Some("x.com"), paths("svc-a"));
    young.created = Some(2_000);
    young.rules[0].paths.push(path("/own", Prefix, "svc-a", 80));
    s.insert_ingress(young);
    s.insert_ingress(old);
    let built = build_default(&s);
    for i in 0..40 {
        let served = lookup(&built, "x.com", &format!("/p{i}"));
        assert_eq!(served.as_deref(), Some("svc-b"));
    }
    assert_eq!(lookup(&built, "x.com", "/own").as_deref(), Some("svc-a"));
    let conflicts = codes_for(&built, "a-young", "conflict");
    assert_eq!(conflicts.len(), 40);
    assert!(
        conflicts
            .iter()
            .all(|c| c.to_string().contains("default/z-old"))
    );
    assert!(codes_for(&built, "z-old", "conflict").is_empty());
}

#[test]
fn same_path_with_different_types_both_serve() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "one",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-a", 80)],
    ));
    s.insert_ingress(ingress(
        "default",
        "two",
        Some("x.com"),
        vec![path("/p", Exact, "svc-b", 80)],
    ));
    let built = build_default(&s);
    assert!(
        built
            .diagnostics
            .iter()
            .all(|d| d.kind.code() != "conflict")
    );
    assert_eq!(lookup(&built, "x.com", "/p").as_deref(), Some("svc-b"));
    assert_eq!(lookup(&built, "x.com", "/p/q").as_deref(), Some("svc-a"));
}

#[test]
fn implementation_specific_is_a_normalised_prefix() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "one",
        Some("x.com"),
        vec![path("/a//b/", ImplementationSpecific, "svc-a", 80)],
    ));
    let built = build_default(&s);
    assert_eq!(lookup(&built, "x.com", "/a/b").as_deref(), Some("svc-a"));
    assert_eq!(lookup(&built, "x.com", "/a/b/c").as_deref(), Some("svc-a"));
    assert_eq!(lookup(&built, "x.com", "/a/bc"), None);
}

#[test]
fn requests_are_matched_after_normalisation() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "one",
        Some("x.com"),
        vec![path("/public", Prefix, "svc-a", 80)],
    ));
    let built = build_default(&s);
    assert_eq!(lookup(&built, "x.com", "/public/../admin"), None);
    assert_eq!(
        lookup(&built, "x.com", "/admin/../public/x").as_deref(),
        Some("svc-a")
    );
    assert_eq!(
        lookup(&built, "x.com", "/%70ublic").as_deref(),
        Some("svc-a")
    );
    assert_eq!(
        lookup(&built, "x.com", "//public").as_deref(),
        Some("svc-a")
    );
    assert_eq!(
        lookup(&built, "x.com", "/public%2F..%2Fadmin").as_deref(),
        None
    );
}

#[test]
fn class_selection_filters_ingresses() {
    let mut s = services();
    let mut other = ingress(
        "default",
        "other",
        Some("x.com"),
        vec![path("/", Prefix, "svc-a", 80)],
    );
    other.class_name = Some("nginx".into());
    s.insert_ingress(other);
    let mut legacy = ingress(
        "default",
        "legacy",
        Some("y.com"),
        vec![path("/", Prefix, "svc-a", 80)],
    );
    legacy.class_name = None;
    legacy
        .annotations
        .insert("kubernetes.io/ingress.class".into(), "sluice".into());
    s.insert_ingress(legacy);
    let opts = BuildOptions {
        class_name_without_object: true,
        ..BuildOptions::default()
    };
    let built = build(&s, &opts);
    assert_eq!(service_of(built.table.lookup("x.com", "/")), None);
    assert_eq!(
        service_of(built.table.lookup("y.com", "/")).as_deref(),
        Some("svc-a")
    );
    let ignored = built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == "not_our_class")
        .unwrap();
    assert_eq!(ignored.severity, Severity::Info);
}

#[test]
fn endpoints_follow_named_ports_and_readiness() {
    let mut s = services();
    s.insert_service(Service {
        key: ObjectKey::new("default", "web"),
        ports: vec![
            ServicePort {
                name: Some("http".into()),
                port: 80,
                ..ServicePort::default()
            },
            ServicePort {
                name: Some("admin".into()),
                port: 9000,
                ..ServicePort::default()
            },
        ],
        ..Service::default()
    });
    s.insert_endpoint_slice(EndpointSlice {
        key: ObjectKey::new("default", "web-1"),
        service_name: Some("web".into()),
        address_type: "IPv4".into(),
        ports: vec![
            EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: None,
            },
            EndpointPort {
                name: Some("admin".into()),
                port: Some(9090),
                protocol: None,
            },
        ],
        endpoints: vec![
            Endpoint {
                addresses: vec!["10.1.0.1".into()],
                ready: Some(true),
            },
            Endpoint {
                addresses: vec!["10.1.0.2".into()],
                ready: None,
            },
            Endpoint {
                addresses: vec!["10.1.0.3".into()],
                ready: Some(false),
            },
            Endpoint {
                addresses: vec!["not-an-ip".into()],
                ready: Some(true),
            },
        ],
    });
    let mut ing = ingress("default", "web", Some("x.com"), vec![]);
    ing.rules[0].paths.push(HttpPath {
        path: Some("/".into()),
        path_type: Some(Prefix),
        backend: IngressBackend::Service {
            name: "web".into(),
            port: PortRef::Name("http".into()),
        },
    });
    ing.rules[0].paths.push(HttpPath {
        path: Some("/admin".into()),
        path_type: Some(Prefix),
        backend: IngressBackend::Service {
            name: "web".into(),
            port: PortRef::Number(9000),
        },
    });
    s.insert_ingress(ing);
    let built = build_default(&s);
    let http = built
        .table
        .endpoints
        .get(&UpstreamId::new(
            "default",
            "web",
            PortRef::Name("http".into()),
        ))
        .unwrap();
    let want: Vec<SocketAddr> = vec![
        "10.1.0.1:8080".parse().unwrap(),
        "10.1.0.2:8080".parse().unwrap(),
    ];
    assert_eq!(http.iter().copied().collect::<Vec<_>>(), want);
    let admin = built
        .table
        .endpoints
        .get(&UpstreamId::new("default", "web", PortRef::Number(9000)))
        .unwrap();
    assert_eq!(admin.len(), 2);
    assert!(admin.iter().all(|a| a.port() == 9090));
}

#[test]
fn ingress_default_backend_is_the_fallback_of_its_hosts() {
    let mut s = services();
    let mut ing = ingress(
        "default",
        "with-default",
        Some("x.com"),
        vec![path("/api", Prefix, "svc-a", 80)],
    );
    ing.default_backend = Some(IngressBackend::Service {
        name: "svc-b".into(),
        port: PortRef::Number(80),
    });
    s.insert_ingress(ing);
    let built = build_default(&s);
    assert_eq!(lookup(&built, "x.com", "/api").as_deref(), Some("svc-a"));
    assert_eq!(lookup(&built, "x.com", "/other").as_deref(), Some("svc-b"));
    assert_eq!(lookup(&built, "y.com", "/other"), None);
}

#[test]
fn explicit_root_path_beats_another_ingress_default_backend() {
    let mut s = services();
    let mut first = ingress(
        "default",
        "a",
        Some("x.com"),
        vec![path("/api", Prefix, "svc-a", 80)],
    );
    first.default_backend = Some(IngressBackend::Service {
        name: "svc-b".into(),
        port: PortRef::Number(80),
    });
    s.insert_ingress(first);
    s.insert_ingress(ingress(
        "default",
        "b",
        Some("x.com"),
        vec![path("/", Prefix, "svc-c", 80)],
    ));
    let built = build_default(&s);
    assert_eq!(lookup(&built, "x.com", "/other").as_deref(), Some("svc-c"));
}

#[test]
fn catch_all_ingress_and_controller_default_backend() {
    let mut s = services();
    let opts = BuildOptions {
        default_backend: Some(ServiceRef {
            service: ObjectKey::new("default", "svc-d"),
            port: None,
        }),
        ..BuildOptions::default()
    };
    assert_eq!(
        service_of(build(&s, &opts).table.lookup("nowhere", "/")).as_deref(),
        Some("svc-d")
    );
    s.insert_ingress(Ingress {
        key: ObjectKey::new("default", "catch-all"),
        class_name: Some("sluice".into()),
        default_backend: Some(IngressBackend::Service {
            name: "svc-a".into(),
            port: PortRef::Number(80),
        }),
        ..Ingress::default()
    });
    let built = build(&s, &opts);
    assert_eq!(
        service_of(built.table.lookup("nowhere", "/x")).as_deref(),
        Some("svc-a")
    );
}

#[test]
fn table_serialises_to_json() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "one",
        Some("x.com"),
        vec![path("/p", Prefix, "svc-a", 80)],
    ));
    let built = build_default(&s);
    let json = serde_json::to_value(&built).unwrap();
    assert_eq!(json["table"]["routes"]["virtual_hosts"][0]["host"], "x.com");
    assert_eq!(
        json["table"]["routes"]["virtual_hosts"][0]["routes"][0]["path"]["type"],
        "Prefix"
    );
    assert_eq!(
        json["table"]["endpoints"]["default-svc-a-80"][0],
        "10.0.0.1:8080"
    );
}
