//! Every diagnostic `build` produces, each next to a good Ingress that must still be served.

use sluice_ingress_model::PathType::{Exact, Prefix};
use sluice_ingress_model::*;

use super::fixtures::*;

fn with_good(mut s: Snapshot) -> Snapshot {
    s.insert_ingress(ingress(
        "default",
        "good",
        Some("good.com"),
        vec![path("/", Prefix, "svc-a", 80)],
    ));
    s
}

fn assert_good_still_served(built: &Built) {
    assert_eq!(
        service_of(built.table.lookup("good.com", "/x")).as_deref(),
        Some("svc-a")
    );
}

fn find<'a>(built: &'a Built, code: &str) -> &'a Diagnostic {
    built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == code)
        .unwrap_or_else(|| panic!("no {code}: {:#?}", built.diagnostics))
}

#[test]
fn invalid_host_skips_only_that_rule() {
    let mut s = services();
    let mut bad = ingress(
        "default",
        "bad",
        Some("bad..com"),
        vec![path("/", Prefix, "svc-b", 80)],
    );
    bad.rules.push(IngressRule {
        host: Some("ok.com".into()),
        paths: vec![path("/", Prefix, "svc-b", 80)],
    });
    s.insert_ingress(bad);
    let built = build_default(&with_good(s));
    let d = find(&built, "invalid_host");
    assert_eq!(
        (d.severity, d.field.as_str()),
        (Severity::Error, "spec.rules[0].host")
    );
    assert_eq!(d.object.key.name, "bad");
    assert_eq!(
        service_of(built.table.lookup("ok.com", "/")).as_deref(),
        Some("svc-b")
    );
    assert_good_still_served(&built);
}

#[test]
fn invalid_path_skips_only_that_path() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "bad",
        Some("bad.com"),
        vec![
            path("/a/../b", Exact, "svc-b", 80),
            path("relative", Prefix, "svc-b", 80),
            path("/fine", Prefix, "svc-b", 80),
        ],
    ));
    let built = build_default(&with_good(s));
    let invalid: Vec<_> = built
        .diagnostics
        .iter()
        .filter(|d| d.kind.code() == "invalid_path")
        .collect();
    assert_eq!(invalid.len(), 2);
    assert_eq!(invalid[0].field, "spec.rules[0].http.paths[0].path");
    assert_eq!(invalid[1].field, "spec.rules[0].http.paths[1].path");
    assert_eq!(
        service_of(built.table.lookup("bad.com", "/fine")).as_deref(),
        Some("svc-b")
    );
    assert_good_still_served(&built);
}

#[test]
fn resource_backend_is_not_served() {
    let mut s = services();
    let mut bad = ingress("default", "bad", Some("bad.com"), vec![]);
    bad.rules[0].paths.push(HttpPath {
        path: Some("/".into()),
        path_type: Some(Prefix),
        backend: IngressBackend::Resource {
            api_group: Some("k8s.example.com".into()),
            kind: "Bucket".into(),
            name: "b".into(),
        },
    });
    s.insert_ingress(bad);
    let built = build_default(&with_good(s));
    let d = find(&built, "resource_backend");
    assert_eq!(
        (d.severity, d.field.as_str()),
        (
            Severity::Error,
            "spec.rules[0].http.paths[0].backend.resource"
        )
    );
    assert_eq!(service_of(built.table.lookup("bad.com", "/")), None);
    assert_good_still_served(&built);
}

#[test]
fn missing_service_port_or_external_name_route_stays_and_has_no_endpoints() {
    let mut s = services();
    s.insert_service(Service {
        service_type: Some("ExternalName".into()),
        external_name: Some("x.example.org".into()),
        ..service("default", "ext", 80)
    });
    s.insert_ingress(ingress(
        "default",
        "bad",
        Some("bad.com"),
        vec![
            path("/nosvc", Prefix, "ghost", 80),
            path("/noport", Prefix, "svc-b", 81),
            path("/ext", Prefix, "ext", 80),
        ],
    ));
    let built = build_default(&with_good(s));
    for (code, field, path, service) in [
        (
            "service_not_found",
            "spec.rules[0].http.paths[0].backend.service",
            "/nosvc",
            "ghost",
        ),
        (
            "service_port_not_found",
            "spec.rules[0].http.paths[1].backend.service",
            "/noport",
            "svc-b",
        ),
        (
            "external_name_service",
            "spec.rules[0].http.paths[2].backend.service",
            "/ext",
            "ext",
        ),
    ] {
        let d = find(&built, code);
        assert_eq!((d.severity, d.field.as_str()), (Severity::Warning, field));
        let route = built.table.lookup("bad.com", path).unwrap();
        let Action::Forward(forward) = &route.action else {
            panic!("forward")
        };
        let upstream = &forward.backends[0].upstream;
        assert_eq!(upstream.service, service);
        assert!(
            built.table.endpoints.get(upstream).is_none(),
            "{code}: 503 expected"
        );
        assert!(built.table.routes.upstreams.contains_key(upstream));
    }
    assert_good_still_served(&built);
}

#[test]
fn second_catch_all_default_backend_is_reported() {
    let mut s = services();
    for (name, svc) in [("a", "svc-b"), ("b", "svc-c")] {
        s.insert_ingress(Ingress {
            key: ObjectKey::new("default", name),
            class_name: Some("sluice".into()),
            default_backend: Some(IngressBackend::Service {
                name: svc.into(),
                port: PortRef::Number(80),
            }),
            ..Ingress::default()
        });
    }
    let built = build_default(&with_good(s));
    let d = find(&built, "default_backend_conflict");
    assert_eq!(d.object.key.name, "b");
    assert_eq!(
        service_of(built.table.lookup("unknown.com", "/")).as_deref(),
        Some("svc-b")
    );
    assert_good_still_served(&built);
}

#[test]
fn invalid_controller_setting_keeps_the_default() {
    let mut s = services();
    let key = ObjectKey::new("ingress", "sluice");
    let mut data = std::collections::BTreeMap::new();
    data.insert("worker-processes".to_owned(), "many".to_owned());
    s.insert_config_map(ConfigMap {
        key: key.clone(),
        data,
    });
    let opts = BuildOptions {
        controller_config: Some(key),
        ..BuildOptions::default()
    };
    let built = build(&with_good(s), &opts);
    let d = find(&built, "invalid_setting");
    assert_eq!(
        (d.object.kind, d.field.as_str()),
        (Kind::ConfigMap, "data.worker-processes")
    );
    assert_eq!(built.table.routes.settings.worker_processes, None);
    assert_good_still_served(&built);
}

#[test]
fn worker_processes_is_read_from_the_controller_configmap() {
    let mut s = services();
    let key = ObjectKey::new("ingress", "sluice");
    let mut data = std::collections::BTreeMap::new();
    data.insert("worker-processes".to_owned(), "3".to_owned());
    s.insert_config_map(ConfigMap {
        key: key.clone(),
        data,
    });
    let opts = BuildOptions {
        controller_config: Some(key),
        ..BuildOptions::default()
    };
    assert_eq!(
        build(&s, &opts).table.routes.settings.worker_processes,
        Some(3)
    );
}

#[test]
fn diagnostics_are_sorted_and_deduplicated() {
    let mut s = services();
    for name in ["b", "a"] {
        s.insert_ingress(ingress(
            "default",
            name,
            Some("x..com"),
            vec![path("/", Prefix, "ghost", 80)],
        ));
    }
    let built = build_default(&s);
    let mut sorted = built.diagnostics.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, built.diagnostics);
}
